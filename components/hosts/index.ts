import * as pulumi from "@pulumi/pulumi";
import { ImageRegistry, Machines, Role, SwarmNode } from "../types";
import type { HostEntry, RegistrySettings } from "./config";

/**
 * Machines you already have, as listed in the `hosts` config: nothing to create, only their
 * description for the swarm. Names follow the order of the list within each role.
 */
export function hostsNodes(hosts: HostEntry[], defaultUser = "root"): { managers: SwarmNode[]; workers: SwarmNode[] } {
    const nodesOf = (role: Role) =>
        hosts
            .filter((h) => h.role === role)
            .map((h, i) => ({ name: `${role}-${i}`, host: h.host, port: h.port, user: h.user ?? defaultUser, privateAddress: h.privateAddress, role }));
    return { managers: nodesOf("manager"), workers: nodesOf("worker") };
}

export interface HostNodesArgs {
    hosts: HostEntry[];
    /** SSH user of hosts that name none. */
    defaultUser?: string;
    /** The registry this machine pushes the stacks' images to; none: the built-in stack is not deployed. */
    registry?: RegistrySettings;
}

/** The `hosts` provider: listed machines, reached at their listed address. */
export class HostNodes extends pulumi.ComponentResource implements Machines {
    public readonly managers: SwarmNode[];
    public readonly workers: SwarmNode[];
    public readonly registry?: pulumi.Output<ImageRegistry>;

    constructor(name: string, args: HostNodesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm:hosts:HostNodes", name, {}, opts);
        ({ managers: this.managers, workers: this.workers } = hostsNodes(args.hosts, args.defaultUser));
        if (args.registry) {
            const { address, pullAddress } = args.registry;
            this.registry = pulumi.output({ push: address, pull: pullAddress ?? address, instance: address });
        }
        this.registerOutputs({ managers: this.managers, workers: this.workers, registry: this.registry });
    }

    edgeAddress(node: SwarmNode): string {
        return node.host;
    }
}
