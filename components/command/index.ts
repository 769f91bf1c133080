import * as pulumi from "@pulumi/pulumi";
import { commandProvider, SshConnection } from "./provider";

export type { SshConnection } from "./provider";
export { defaultDialAttempts } from "./provider";

export interface CommandArgs {
    /** Where to run: a machine over SSH. Absent: on the machine that runs Pulumi. */
    connection?: pulumi.Input<pulumi.Unwrap<SshConnection>>;
    /** Shell script run on create, and on update when `update` is absent. */
    create: pulumi.Input<string>;
    /** Shell script run when `create`, `update`, `stdin` or `environment` change. */
    update?: pulumi.Input<string>;
    /** Shell script run on delete. */
    delete?: pulumi.Input<string>;
    /** Fed to the script on stdin: the one way secrets reach a script. */
    stdin?: pulumi.Input<string>;
    /**
     * Fed to the script on stdin like `stdin` (not both), for a login secret that rotates: a new
     * value does not make the script run again.
     */
    credentials?: pulumi.Input<string | undefined>;
    /** Environment variables; local scripts only (a remote command with them fails its check). */
    environment?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /**
     * Prints what is there now (after create and update, and on refresh): another output on
     * refresh is drift, which the next `up` repairs by running the script again; exit 3 says the
     * thing is gone (refresh drops it, `up` makes it anew).
     */
    read?: pulumi.Input<string>;
    /** Any change of these replaces the resource (delete, then create). */
    triggers?: pulumi.Input<unknown[]>;
    /** Upper bound for one run of a script. Default 20 minutes. */
    timeoutSeconds?: pulumi.Input<number>;
}

/**
 * A shell script with a lifecycle: `create` runs once, `update` when its inputs change, `delete`
 * on removal. Like the command provider's local/remote Command, but served by Pulumi's
 * dynamic-provider host, so it needs no provider plugin download.
 */
export class Command extends pulumi.dynamic.Resource {
    declare public readonly stdout: pulumi.Output<string>;
    declare public readonly stderr: pulumi.Output<string>;
    /** The host key the machine presented on the first connection (remote commands). */
    declare public readonly hostKey: pulumi.Output<string | undefined>;

    constructor(name: string, args: CommandArgs, opts?: pulumi.CustomResourceOptions) {
        // The parent's URN as a value only: a dependency on a component is one on all its
        // children, this one included, which would never resolve.
        const parent = opts?.parent;
        const parentUrn = parent ? pulumi.output(new Promise<string>((resolve) => parent.urn.apply(resolve))) : undefined;
        super(
            commandProvider,
            name,
            // The URN the resource will have (a resource cannot read its own): its scripts' progress lines go beside it.
            { ...args, progressUrn: pulumi.createUrn(name, "pulumi-nodejs:dynamic:Command", parentUrn), stdout: undefined, stderr: undefined, hostKey: undefined },
            {
                ...opts,
                // The connection holds the private key and the environment may hold secrets.
                additionalSecretOutputs: ["connection", "environment", ...(opts?.additionalSecretOutputs ?? [])],
            },
            "command",
            "Command",
        );
    }
}
