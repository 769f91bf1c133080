import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { Command, SshConnection } from "../command";
import { RegistryImages } from "../images";
import { EndpointMode, ImageRegistry, labels } from "../types";
import { swarmObjectName, describeStackServices, imageRepository, renderStackCompose, StackSpec } from "./compose";
import * as scripts from "./scripts";

export { checkReplicas, imagePaths, loadComposeStacks, localComposeIo } from "./compose";
export type { StackSpec } from "./compose";

export interface ComposeStackArgs {
    /** SSH connection to a manager (secret: it holds the private key). */
    connection: pulumi.Input<SshConnection>;
    /** The stack, read and checked (the built-in one, or see loadComposeStacks). */
    stack: StackSpec;
    /** Where the images the stack builds are pushed (needed when there are any). */
    registry?: pulumi.Input<ImageRegistry>;
    /** The registry path of the built-in stack's images; yours go beneath it (see imageRepository). */
    repository: string;
    /** The base image, as a BaseImage's output (the builds get it as the BASE_IMAGE build arg). */
    baseImage: pulumi.Input<string>;
    endpointMode: pulumi.Input<EndpointMode>;
    /** See SwarmCluster.swarmId: a swarm formed again gets the stack deployed again. */
    swarmId: pulumi.Input<string>;
    /** How many machines are edge machines (every manager): the tasks of a global service placed on them. */
    edgeNodes?: number;
    /** The content of each secret the stack ships (see StackSpec.secrets). */
    secrets?: Record<string, pulumi.Input<string>>;
    /** Aliases of the images component, for stacks made when it had another name. */
    imagesAliases?: pulumi.Input<pulumi.Alias>[];
    /** Bound for convergence after a deploy and for removal. Default 600 s. */
    timeoutSeconds?: number;
    /**
     * The machines (anything that changes when one joins, leaves or is made anew): when given, a
     * machine that runs none of the stack's tasks after a deploy or a change of these gets some
     * (see rebalanceScript).
     */
    machines?: pulumi.Input<string[]>;
}

/** The content of each secret a stack of your own ships, read from its file, as secrets (never in the state in plain text). */
export const ownStackSecrets = (stack: StackSpec): Record<string, pulumi.Output<string>> =>
    Object.fromEntries(Object.entries(stack.secretFiles ?? {}).map(([key, file]) => [key, pulumi.secret(fs.readFileSync(file, "utf8"))]));

/**
 * A Docker stack on the swarm (the built-in pipeline or one of your own): the images it builds
 * built here and pushed to the swarm's registry, the configs it ships created on the swarm, the
 * Compose file deployed with `--prune` on a manager, watched until every service runs its
 * replicas, and removed on destroy.
 */
export class ComposeStack extends pulumi.ComponentResource {
    /** Service -> image and replica count (`global` services: only those on the edge machines have one). */
    public readonly services: pulumi.Output<Record<string, { image: string; replicas?: number }>>;

    constructor(name: string, args: ComposeStackArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm:stack:ComposeStack", name, {}, opts);
        const timeout = args.timeoutSeconds ?? 600;
        const stack = args.stack;
        const built = args.registry && Object.keys(stack.builds).length > 0
            ? new RegistryImages(`${name}-images`, {
                images: stack.builds,
                repository: imageRepository(args.repository, stack),
                registry: args.registry,
                baseImage: args.baseImage,
            }, { parent: this, aliases: args.imagesAliases }).refs
            : pulumi.output({} as Record<string, string>);
        // Swarm configs and secrets cannot change: a new content gets a new name, made before the old one goes.
        const swarmObject = (kind: scripts.SwarmObjectKind, key: string, objectName: pulumi.Input<string>, content: pulumi.Input<string>) =>
            new Command(`${name}-${key}`, {
                connection: args.connection,
                create: pulumi.all([args.swarmId, objectName]).apply(([swarmId, object]) => scripts.createSwarmObjectScript(kind, object, { [labels.stackNamespace]: stack.name }, swarmId)),
                delete: pulumi.output(objectName).apply((object) => scripts.removeSwarmObjectScript(kind, object)),
                read: pulumi.output(objectName).apply((object) => scripts.readSwarmObjectScript(kind, object)),
                stdin: content,
                triggers: [objectName],
            }, { parent: this });
        const configs = Object.entries(stack.configs).map(([key, content]) => swarmObject("config", key, swarmObjectName(stack.name, key, content), content));
        // A secret's name is a hash of its content, which stays secret (stdin only).
        const secretNames: Record<string, pulumi.Output<string>> = {};
        const secrets = stack.secrets.map((key) => {
            const content = args.secrets?.[key];
            if (content === undefined) throw new Error(`stack ${stack.name}: no content for its secret ${key}`);
            secretNames[key] = pulumi.unsecret(pulumi.output(content).apply((text) => swarmObjectName(stack.name, key, text)));
            return swarmObject("secret", key, secretNames[key], pulumi.secret(content));
        });
        const compose = pulumi.all([built, args.endpointMode, pulumi.all(secretNames)]).apply(([images, endpointMode, names]) => renderStackCompose(stack, { images, endpointMode, secrets: names }));
        const deploy = new Command(`${name}-deploy`, {
            connection: args.connection,
            create: pulumi.output(args.swarmId).apply((swarmId) => scripts.deployScript(stack.name, timeout, swarmId)),
            delete: scripts.removeScript(stack.name, timeout),
            // Refresh sees services scaled, changed or removed by hand; up deploys them back.
            read: scripts.readServicesScript(stack.name),
            // Secret: the text holds values interpolated from this machine's environment and env files.
            // The provider compares a hash of it, so an unchanged stack is still not deployed again.
            stdin: pulumi.secret(compose),
            triggers: [stack.name],
            timeoutSeconds: timeout + 120,
        }, { parent: this, dependsOn: [...configs, ...secrets] });
        if (args.machines) {
            new Command(`${name}-rebalance`, {
                connection: args.connection,
                create: pulumi.output(args.swarmId).apply((swarmId) => scripts.rebalanceScript(stack.name, timeout, swarmId)),
                triggers: [args.machines],
                timeoutSeconds: timeout + 120,
            }, { parent: this, dependsOn: [deploy] });
        }
        this.services = pulumi.all([built, deploy.id]).apply(([images]) => describeStackServices(stack, images, args.edgeNodes));
        this.registerOutputs({ services: this.services });
    }
}
