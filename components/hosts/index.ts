import * as pulumi from "@pulumi/pulumi";
import { Role } from "../config";
import { ImageRegistry, MachineAccess, Machines } from "../machines";
import { SwarmNode } from "../swarm";

/** A machine you have, as listed in the `hosts` config. */
export interface HostMachine {
    host: string;
    port: number;
    /** Default: the default user. */
    user?: string;
    role: Role;
    privateAddress: string;
}

/**
 * Machines you already have, as listed in the `hosts` config: nothing to create, only their
 * description for the swarm. Names follow the order of the list within each role.
 */
export function hostsNodes(hosts: HostMachine[], defaultUser = "root"): { managers: SwarmNode[]; workers: SwarmNode[] } {
    const of = (role: Role) =>
        hosts
            .filter((h) => h.role === role)
            .map((h, i) => ({ name: `${role}-${i}`, host: h.host, port: h.port, user: h.user ?? defaultUser, privateAddress: h.privateAddress, role }));
    return { managers: of("manager"), workers: of("worker") };
}

export interface HostNodesArgs {
    hosts: HostMachine[];
    /** SSH user of hosts that name none. */
    defaultUser?: string;
    /**
     * The registry this machine pushes the stack's images to (`address`) and the machines pull
     * them from (`pullAddress`, default the same); none: the stack is not deployed.
     */
    registry?: { address: string; pullAddress?: string };
}

/** The `hosts` provider: listed machines, reached at their listed address. */
export class HostNodes extends pulumi.ComponentResource implements Machines {
    public readonly managers: SwarmNode[];
    public readonly workers: SwarmNode[];
    public readonly registry?: pulumi.Output<ImageRegistry>;
    public readonly access: MachineAccess = { timeoutSeconds: 300, cloudInit: false, encryptOverlay: false };

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
