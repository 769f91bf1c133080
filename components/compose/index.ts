import * as pulumi from "@pulumi/pulumi";
import { Command, SshConnection } from "../command";
import { RegistryImages } from "../images";
import { ImageRegistry } from "../machines";
import type { EndpointMode } from "../stack/compose";
import * as scripts from "../stack/scripts";
import { ComposeStackFile, describeStackServices, renderStackCompose } from "./file";

export { loadComposeStacks, localComposeIo } from "./file";
export type { ComposeStackFile } from "./file";

export interface ComposeStackArgs {
    /** SSH connection to a manager (secret: it holds the private key). */
    connection: pulumi.Input<SshConnection>;
    /** The stack's file, read and checked (see loadComposeStacks). */
    stack: ComposeStackFile;
    /** Where the services with a `build:` section are pushed (needed when there are any), and the repository path above theirs. */
    registry?: pulumi.Input<ImageRegistry>;
    repository: string;
    /** The base image, as a BaseImage's output (the builds get it as the BASE_IMAGE build arg). */
    baseImage: pulumi.Input<string>;
    endpointMode: pulumi.Input<EndpointMode>;
    /** See SwarmCluster.swarmId. */
    swarmId: pulumi.Input<string>;
    /** Bound for convergence after a deploy and for removal. Default 600 s. */
    timeoutSeconds?: number;
}

/**
 * One of your own Compose stacks on the swarm, deployed like the built-in one: its `build:`
 * services built here and pushed to the swarm's registry, the file deployed with `--prune` on a
 * manager, watched until every service runs its replicas, and removed on destroy.
 */
export class ComposeStack extends pulumi.ComponentResource {
    /** Service -> image and replica count (`global` services: the replicas the file gives, if any). */
    public readonly services: pulumi.Output<Record<string, { image: string; replicas?: number }>>;

    constructor(name: string, args: ComposeStackArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm:stack:ComposeStack", name, {}, opts);
        const timeout = args.timeoutSeconds ?? 600;
        const stackName = args.stack.name;
        const built = args.registry && Object.keys(args.stack.builds).length > 0
            ? new RegistryImages(`${name}-images`, {
                images: args.stack.builds,
                root: "/",
                repository: `${args.repository}/${stackName}`,
                registry: args.registry,
                baseImage: args.baseImage,
            }, { parent: this }).refs
            : pulumi.output({} as Record<string, string>);
        const compose = pulumi.all([built, args.endpointMode]).apply(([images, endpointMode]) => renderStackCompose(args.stack, { images, endpointMode }));
        const deploy = new Command(`${name}-deploy`, {
            connection: args.connection,
            create: pulumi.output(args.swarmId).apply((swarmId) => scripts.deployScript(stackName, timeout, swarmId)),
            delete: scripts.removeScript(stackName, timeout),
            read: scripts.readServicesScript(stackName),
            stdin: compose,
            triggers: [stackName],
            timeoutSeconds: timeout + 120,
        }, { parent: this });
        this.services = pulumi.all([built, deploy.id]).apply(([images]) => describeStackServices(args.stack, images));
        this.registerOutputs({ services: this.services });
    }
}
