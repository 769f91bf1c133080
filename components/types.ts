// The shapes every part of the program shares, and the label names the scripts and the
// renderers use: the bottom module, importing nothing of the program.
import type * as pulumi from "@pulumi/pulumi";

export type Role = "manager" | "worker";

/** `vip`: virtual IPs and the routing mesh (needs IPVS in the kernel). `dnsrr`: DNS round-robin. */
export type EndpointMode = "vip" | "dnsrr";

/** A machine as every node provider describes it. */
export interface SwarmNode {
    /** Name of the machine in this program (the outputs name it by its hostname). */
    name: string;
    /** Where SSH reaches it from the machine running Pulumi. */
    host: string;
    port: number;
    user: string;
    /** Address the other nodes reach it at (swarm traffic). */
    privateAddress: string;
    role: Role;
    /** Swarm node labels, used by placement constraints. */
    labels?: Record<string, string>;
    /**
     * The ID of the machine (a container or instance ID): when it changes, the machine was made
     * anew, its steps (ready, join, admit) are replaced with it and its new SSH host key is
     * pinned. Absent: the machine is its address (see machineId).
     */
    instance?: string;
}

/** What tells one machine from another made anew in its place: its ID, else its SSH address. */
export const machineId = (node: Pick<SwarmNode, "instance" | "host" | "port">): string => node.instance ?? `${node.host}:${node.port}`;

/** A registry for the stack's images, as this machine pushes to it and the machines pull from it. */
export interface ImageRegistry {
    /** host[:port] this machine pushes to. */
    push: string;
    /** host[:port] the machines pull from. */
    pull: string;
    /** Changes when the registry is made anew (and so is empty): every image is pushed again. */
    instance: string;
    /** Plain HTTP (a registry on the machines' own network). */
    insecure?: boolean;
    /** Login for pushing (the password is secret and rotates: it never makes an image rebuild). */
    credentials?: { username: string; password: string };
    /** The machines' platform, when it may differ from this one's (linux/amd64). */
    platform?: string;
}

/** How commands reach the machines. */
export interface MachineAccess {
    /** SSH connection attempts per command (booting VMs refuse SSH for a while). */
    dialAttempts?: number;
    /** Bound for each wait on a machine: Docker up, node Ready, tasks moved. */
    timeoutSeconds: number;
    /** Wait for cloud-init before anything else (VMs that install Docker from it). */
    cloudInit: boolean;
    /** Swarm traffic crosses a network that is not ours alone: the overlay networks are encrypted. */
    encryptOverlay: boolean;
}

/** Machines on a network of their own (local containers, listed hosts): no cloud-init, nothing to encrypt. */
export const ownNetworkAccess: MachineAccess = { timeoutSeconds: 300, cloudInit: false, encryptOverlay: false };

/** The one shape every machine provider yields: the program wires a swarm and stacks onto it without knowing the provider. */
export interface Machines {
    readonly managers: pulumi.Input<SwarmNode>[];
    readonly workers: pulumi.Input<SwarmNode>[];
    /** Where the stacks' images go; absent when the provider has none (the built-in stack is not deployed). */
    readonly registry?: pulumi.Output<ImageRegistry>;
    /** The address an edge machine's gateway answers at, from the machine running Pulumi. */
    edgeAddress(node: SwarmNode): string;
    /** One address in front of every edge machine (a load balancer), when the provider makes one. */
    readonly frontAddress?: pulumi.Output<string>;
    /** Machine name -> the image it was made from, where the provider pins one per machine (AWS). */
    readonly machineImages?: pulumi.Output<Record<string, string>>;
    /** Run on every machine once it has booted, and again in place when it changes (what the provider sets up over SSH rather than bake into a machine). */
    readonly setupScript?: pulumi.Output<string>;
}

/** Label names, in one place: scripts get them as parameters, renderers and tests import them. */
export const labels = {
    /** Docker's own: the stack a service, network, config or volume belongs to. */
    stackNamespace: "com.docker.stack.namespace",
    /** Docker's own: the service a task's container runs for. */
    serviceName: "com.docker.swarm.service.name",
    /** Node: the node's name, unique per node (stateless services spread over it). */
    nodeName: "swarm.node",
    /** Node: on every manager, where services that publish ports run. */
    edge: "swarm.edge",
    /** Node: managers only, 0, 1, 2, ... (manager 0 formed the swarm). */
    managerIndex: "swarm.manager-index",
    /** Node and node container: manager or worker. */
    role: "swarm.role",
    /** Node: the machine's ID (machineId): tells its entries from those of a machine made anew with its name. */
    machine: "swarm.instance",
    /**
     * Volume: carried by every volume of the stacks the program deploys. A machine that leaves the
     * swarm removes them: their data belongs to a swarm it is no longer in.
     */
    stackData: "swarm.stack-data",
    /** Containers, networks and volumes made on this machine's engine: the Pulumi project and stack. */
    project: "swarm.project",
    stack: "swarm.stack",
    /** Volume: the local registries' shared image store, which outlives the stacks. */
    registryCache: "swarm.cache",
} as const;
