import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { StackDefinition } from "../../stacks/types";
import { Command, SshConnection } from "../command";
import { describeServices, EndpointMode, renderCompose } from "./compose";
import * as scripts from "./scripts";

export interface DockerStackArgs {
    /** SSH connection to a manager (secret: it holds the private key). */
    connection: pulumi.Input<SshConnection>;
    stackName: string;
    definition: StackDefinition;
    /** Image key -> reference the nodes pull. */
    images: pulumi.Input<Record<string, string>>;
    /** Replica counts from config. */
    replicas: Record<string, number>;
    /** Content of the taxonomy TSV, deployed as a swarm config. */
    taxonomy: string;
    encryptNetwork?: boolean;
    /** See SwarmCluster.endpointMode. */
    endpointMode: pulumi.Input<EndpointMode>;
    /** See SwarmCluster.swarmId: a swarm formed again gets the stack deployed again. */
    swarmId: pulumi.Input<string>;
    /** How many nodes carry the definition's edge label: the tasks of each service that publishes ports. */
    edgeNodes: number;
    /** Bound for convergence after a deploy and for removal. Default 600 s. */
    timeoutSeconds?: number;
}

/**
 * A Docker stack on the swarm: the Compose file rendered from the definition and the config,
 * deployed over SSH on a manager, then watched until every service runs its replicas.
 */
export class DockerStack extends pulumi.ComponentResource {
    public readonly services: pulumi.Output<Record<string, { image: string; replicas: number }>>;

    constructor(name: string, args: DockerStackArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm:stack:DockerStack", name, {}, opts);
        const timeout = args.timeoutSeconds ?? 600;
        const labels = { "com.docker.stack.namespace": args.stackName };

        // Swarm configs cannot change: a new content gets a new name, made before the old one goes.
        const hash = crypto.createHash("sha256").update(args.taxonomy).digest("hex").slice(0, 12);
        const configName = `${args.stackName}_taxonomy_${hash}`;
        const taxonomy = new Command(`${name}-taxonomy`, {
            connection: args.connection,
            create: pulumi.output(args.swarmId).apply((swarmId) => scripts.createConfigScript(configName, labels, swarmId)),
            delete: scripts.removeConfigScript(configName),
            read: scripts.readConfigScript(configName),
            stdin: args.taxonomy,
            triggers: [configName],
        }, { parent: this });

        const options = pulumi.all([args.images, args.endpointMode]).apply(([images, endpointMode]) => ({
            images,
            replicas: args.replicas,
            endpointMode,
            taxonomyConfig: configName,
            encryptNetwork: args.encryptNetwork,
            edgeNodes: args.edgeNodes,
        }));
        const deploy = new Command(`${name}-deploy`, {
            connection: args.connection,
            create: pulumi.output(args.swarmId).apply((swarmId) => scripts.deployScript(args.stackName, timeout, swarmId)),
            delete: scripts.removeScript(args.stackName, timeout),
            // Refresh sees services scaled, changed or removed by hand; up deploys them back.
            read: scripts.readServicesScript(args.stackName),
            stdin: options.apply((o) => renderCompose(args.definition, o)),
            triggers: [args.stackName],
            timeoutSeconds: timeout + 120,
        }, { parent: this, dependsOn: [taxonomy] });
        this.services = pulumi.all([options, deploy.id]).apply(([o]) => describeServices(args.definition, o));
        this.registerOutputs({ services: this.services });
    }
}
