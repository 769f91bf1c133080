import * as pulumi from "@pulumi/pulumi";
import { Command, defaultDialAttempts, SshConnection } from "../command";
import { EndpointMode, labels, machineId, Role, SwarmNode } from "../types";
import * as scripts from "./scripts";

export interface SwarmClusterArgs {
    /** Manager 0 initialises the swarm; the others join one at a time. An odd count. */
    managers: pulumi.Input<SwarmNode>[];
    /** Workers join in parallel. */
    workers: pulumi.Input<SwarmNode>[];
    /** Secret. */
    privateKey: pulumi.Input<string>;
    /** SSH connection attempts per command (booting VMs refuse SSH for a while). */
    dialAttempts?: number;
    /** Bound for each wait (Docker up, node Ready, tasks moved). Default 300 s. */
    timeoutSeconds?: number;
    /** Wait for cloud-init before anything else (cloud VMs). */
    cloudInit?: boolean;
    /** Where the overlay networks take their subnets, set when the swarm is formed (default: Docker's). */
    addressPool?: string;
    /** Run on every machine after its boot, before the readiness check; run again in place when it changes. */
    machineSetup?: pulumi.Input<string>;
}

export interface SwarmNodeOutput {
    name: string;
    host: string;
    port: number;
    privateAddress: string;
    /** The SSH host key the machine presented when it became ready (`<type> SHA256:<hash>`), pinned since. */
    hostKey: string;
}

/**
 * A Docker Swarm over SSH: init on manager 0, join tokens as secrets, managers joining one at a
 * time and workers in parallel. A node that goes away is demoted, drained, made to leave and
 * removed from the node list, in that order.
 */
export class SwarmCluster extends pulumi.ComponentResource {
    public readonly managers: pulumi.Output<SwarmNodeOutput[]>;
    public readonly workers: pulumi.Output<SwarmNodeOutput[]>;
    /** SSH user of manager 0. */
    public readonly sshUser: pulumi.Output<string>;
    /** `ssh://user@host:port` of manager 0, for DOCKER_HOST. */
    public readonly dockerHost: pulumi.Output<string>;
    /** SSH connection to manager 0 once it manages the swarm (holds the private key: secret). */
    public readonly leaderConnection: pulumi.Output<SshConnection>;
    /**
     * How services find each other: `vip` (virtual IPs and the routing mesh) where manager 0's
     * kernel has IPVS, else `dnsrr` (DNS round-robin, ports published on the machines themselves).
     */
    public readonly endpointMode: pulumi.Output<EndpointMode>;
    /** The swarm's ID: a new one when the swarm was formed again (its only manager lost its disk). */
    public readonly swarmId: pulumi.Output<string>;

    constructor(name: string, args: SwarmClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        // No args to super(): they hold the private key.
        super("swarm:cluster:SwarmCluster", name, {}, opts);
        if (args.managers.length < 1) throw new Error("a swarm needs at least one manager");
        const scope = clusterScope(name, args, this);
        const [leaderNode, ...otherManagerNodes] = args.managers;

        const leader = readyStep(scope, leaderNode, "manager-0");
        const otherManagers = otherManagerNodes.map((node, i) => readyStep(scope, node, `manager-${i + 1}`));
        const swarm = formSwarm(scope, { leader, otherManagers });
        const leaderAdmitted = admitLeader(scope, { swarm, leader });
        const lastManagerAdmitted = joinManagers(scope, { swarm, managers: otherManagers, after: leaderAdmitted });
        const workers = args.workers.map((node, i) => readyStep(scope, node, `worker-${i}`));
        const workersAdmitted = joinWorkers(scope, { swarm, workers });

        // The cluster counts as made when every node is admitted.
        const formed = pulumi.all([lastManagerAdmitted.id, ...workersAdmitted.map((admit) => admit.id)]);
        this.managers = pulumi.all([formed, describe([leader, ...otherManagers])]).apply(([, described]) => described);
        this.workers = pulumi.all([formed, describe(workers)]).apply(([, described]) => described);
        this.sshUser = leader.node.apply((machine) => machine.user);
        this.dockerHost = leader.node.apply((machine) => `ssh://${machine.user}@${machine.host}:${machine.port}`);
        this.leaderConnection = pulumi.secret(pulumi.all([swarm.leaderConnection, swarm.leaderNodeId]).apply(([connection]) => connection));
        this.endpointMode = swarm.endpointMode;
        this.swarmId = swarm.swarmId;
        this.registerOutputs({
            managers: this.managers,
            workers: this.workers,
            sshUser: this.sshUser,
            dockerHost: this.dockerHost,
            endpointMode: this.endpointMode,
            swarmId: this.swarmId,
        });
    }
}

/** What every step of one cluster shares. */
interface ClusterScope {
    /** The cluster's name: its resources are `<name>-<node label>-<step>` or `<name>-<step>`. */
    name: string;
    parent: pulumi.Resource;
    /** Bound for each wait on a machine, in seconds. */
    timeout: number;
    cloudInit: boolean;
    addressPool?: string;
    machineSetup?: pulumi.Input<string>;
    /** SSH to the machine at its listed address, before its host key is pinned. */
    connectionTo(node: pulumi.Input<SwarmNode>): pulumi.Output<SshConnection>;
}

function clusterScope(name: string, args: SwarmClusterArgs, parent: pulumi.Resource): ClusterScope {
    const privateKey = pulumi.secret(args.privateKey);
    return {
        name,
        parent,
        timeout: args.timeoutSeconds ?? 300,
        cloudInit: args.cloudInit ?? false,
        addressPool: args.addressPool,
        machineSetup: args.machineSetup,
        connectionTo: (node) =>
            pulumi.all([node, privateKey]).apply(([machine, key]) => ({
                host: machine.host,
                port: machine.port,
                user: machine.user,
                privateKey: key,
                machine: machine.name,
                dialAttempts: args.dialAttempts ?? defaultDialAttempts,
            })),
    };
}

/** A machine whose Docker engine answers: what the later steps reach it by. */
interface ReadyNode {
    /** `manager-0`, `worker-2`: the middle of its steps' names. */
    label: string;
    node: pulumi.Output<SwarmNode>;
    /** See machineId: a new one means a machine made anew, and replaces the node's steps. */
    machineId: pulumi.Output<string>;
    /** As the machine reports it. */
    hostname: pulumi.Output<string>;
    /** SSH that checks the host key the machine presented when it became ready. */
    connection: pulumi.Output<SshConnection>;
    /** That host key. */
    hostKey: pulumi.Output<string | undefined>;
}

/**
 * Waits for the machine to be ready and pins its SSH host key. Every other command reaches the
 * machine through the connection returned here, which resolves only once the machine is ready
 * and makes every later connection check that key.
 */
function readyStep(scope: ClusterScope, node: pulumi.Input<SwarmNode>, label: string): ReadyNode {
    const { name, parent, timeout } = scope;
    const id = pulumi.output(node).apply(machineId);
    // Cloud VMs: cloud-init first, in a session of its own, so that the readiness check logs in
    // after it with the groups it gave the user (docker).
    const boot = scope.cloudInit
        ? [new Command(`${name}-${label}-boot`, { connection: scope.connectionTo(node), create: scripts.bootScript(timeout), triggers: [id] }, { parent })]
        : [];
    // The provider's setup, after the boot: a new script is run in place on the running machine.
    const setup = scope.machineSetup === undefined
        ? []
        : [new Command(`${name}-${label}-setup`, { connection: scope.connectionTo(node), create: scope.machineSetup, triggers: [id] }, { parent, dependsOn: boot })];
    const ready = new Command(`${name}-${label}-ready`, {
        connection: scope.connectionTo(node),
        create: scripts.readyScript(timeout),
        triggers: [id],
    }, { parent, dependsOn: [...boot, ...setup] });
    return {
        label,
        node: pulumi.output(node),
        machineId: id,
        hostname: ready.stdout,
        connection: pulumi.all([scope.connectionTo(node), ready.hostKey]).apply(([connection, hostKey]) => ({ ...connection, hostKey })),
        hostKey: ready.hostKey,
    };
}

/** Manager 0's swarm, as the other nodes join it. */
interface Swarm {
    /** SSH to manager 0 (ready): the node list is kept there. */
    leaderConnection: pulumi.Output<SshConnection>;
    /** Manager 0's node ID, once it manages the swarm. */
    leaderNodeId: pulumi.Output<string>;
    /** Where the other nodes join. */
    managerAddress: pulumi.Output<string>;
    /**
     * With one manager, its node ID: a machine in a swarm without it is in a swarm that is gone
     * (a manager 0 made anew formed a new one) and leaves it to join. Empty with more managers.
     */
    requiredManagerId: pulumi.Output<string>;
    /** The join tokens (secret), by role. */
    joinTokens: pulumi.Output<Record<Role, string>>;
    /** The command that read the tokens: every join comes after it. */
    tokensRead: Command;
    endpointMode: pulumi.Output<EndpointMode>;
    swarmId: pulumi.Output<string>;
}

/**
 * Makes manager 0 a manager: it forms the swarm, or joins the one the other managers still have
 * (it was made anew). Then reads how services find each other, the join tokens and the swarm's ID.
 */
function formSwarm(scope: ClusterScope, { leader, otherManagers }: { leader: ReadyNode; otherManagers: ReadyNode[] }): Swarm {
    const { name, parent } = scope;
    // The other managers say, before manager 0 is made a manager, whether they manage a swarm
    // that knew it: a manager 0 made anew then joins that swarm instead of forming a second one.
    const peers = otherManagers.map((manager) => new Command(`${name}-${manager.label}-peer`, {
        connection: manager.connection,
        create: leader.node.apply((machine) => scripts.peerScript(machine.name)),
        triggers: [leader.machineId],
    }, { parent, additionalSecretOutputs: ["stdout"] }));
    const initScript = (formedBefore: boolean) =>
        pulumi.all([leader.node, leader.machineId]).apply(([machine, id]) => scripts.initScript(machine.privateAddress, id, formedBefore, scope.addressPool));
    const init = new Command(`${name}-init`, {
        connection: leader.connection,
        // A machine made anew runs it again (an update: the old machine's swarm is not dissolved).
        create: initScript(false),
        update: initScript(true),
        delete: scripts.dissolveScript(),
        stdin: pulumi.secret(pulumi.all(peers.map((peer) => peer.stdout)).apply((lines) => lines.filter(Boolean).join("\n"))),
    }, { parent });
    const endpointMode = new Command(`${name}-endpoint-mode`, {
        connection: leader.connection,
        create: scripts.endpointModeScript(),
        triggers: [init.id],
    }, { parent, dependsOn: [init] });
    const tokens = new Command(`${name}-tokens`, {
        connection: leader.connection,
        create: init.stdout.apply(scripts.tokensScript),
        triggers: [init.id],
    }, { parent, dependsOn: [init], additionalSecretOutputs: ["stdout"] });
    const read = tokens.stdout.apply((json) => JSON.parse(json) as Record<Role, string> & { swarm: string });
    return {
        leaderConnection: leader.connection,
        leaderNodeId: init.stdout,
        managerAddress: leader.node.apply((machine) => machine.privateAddress),
        requiredManagerId: otherManagers.length === 0 ? init.stdout : pulumi.output(""),
        joinTokens: pulumi.secret(read.apply(({ manager, worker }) => ({ manager, worker }))),
        tokensRead: tokens,
        endpointMode: endpointMode.stdout.apply((mode) => (mode === "vip" ? "vip" : "dnsrr")),
        swarmId: pulumi.unsecret(read.apply(({ swarm }) => swarm)),
    };
}

/**
 * Manager 0's labels. Nothing on delete and no triggers: this entry belongs to the swarm manager 0
 * formed, which goes with the cluster (init's delete).
 */
function admitLeader(scope: ClusterScope, { swarm, leader }: { swarm: Swarm; leader: ReadyNode }): Command {
    return new Command(`${scope.name}-${leader.label}-admit`, {
        connection: swarm.leaderConnection,
        create: pulumi.all([swarm.leaderNodeId, leader.node]).apply(([id, machine]) =>
            scripts.admitScript(id, machine.name, { ...labelsOf(machine), ...managerLabels(0) }, scope.timeout)),
    }, { parent: scope.parent });
}

/** The other managers, one at a time: each joins once the one before is admitted. Returns the last admit. */
function joinManagers(scope: ClusterScope, { swarm, managers, after }: { swarm: Swarm; managers: ReadyNode[]; after: Command }): Command {
    return managers.reduce(
        (previous, manager, i) => joinNode(scope, { swarm, node: manager, role: "manager", roleLabels: managerLabels(i + 1), after: [previous] }),
        after,
    );
}

/** The workers, all at once. Returns their admits. */
function joinWorkers(scope: ClusterScope, { swarm, workers }: { swarm: Swarm; workers: ReadyNode[] }): Command[] {
    return workers.map((worker) => joinNode(scope, { swarm, node: worker, role: "worker", roleLabels: {}, after: [] }));
}

interface JoinArgs {
    swarm: Swarm;
    node: ReadyNode;
    role: Role;
    /** Labels of its role, besides those every node carries. */
    roleLabels: Record<string, string>;
    /** What it joins after. */
    after: pulumi.Resource[];
}

/**
 * One node other than manager 0 joins the swarm: the entry remover (takes its entries off the
 * node list on delete), the join (leaves on delete) and the admit (labels; demotes and drains on
 * delete). Creation runs in that order and deletion in the reverse one, which is the order a clean
 * removal needs. Returns the admit.
 */
function joinNode(scope: ClusterScope, { swarm, node, role, roleLabels, after }: JoinArgs): Command {
    const { name, parent, timeout } = scope;
    // A machine made anew is a new node: its steps are replaced with it.
    const triggers = [node.machineId];
    // Does nothing when made; deleted after the join (whose delete makes the machine leave), it
    // removes the machine's entries from the node list on manager 0.
    const entryRemover = new Command(`${name}-${node.label}-record`, {
        connection: swarm.leaderConnection,
        create: "true",
        delete: pulumi.all([node.machineId, node.hostname]).apply(([id, hostname]) => scripts.removeScript(id, hostname)),
        triggers,
    }, { parent, dependsOn: after });
    const join = new Command(`${name}-${node.label}-join`, {
        connection: node.connection,
        create: pulumi.all([swarm.managerAddress, swarm.requiredManagerId]).apply(([address, requiredManagerId]) => scripts.joinScript(address, timeout, requiredManagerId)),
        delete: scripts.leaveScript(),
        // Refresh sees a machine that left the swarm; up joins it again.
        read: scripts.readMembershipScript(),
        stdin: pulumi.secret(swarm.joinTokens.apply((tokens) => tokens[role])),
        triggers,
    }, { parent, dependsOn: [entryRemover, swarm.tokensRead] });
    return new Command(`${name}-${node.label}-admit`, {
        connection: swarm.leaderConnection,
        create: pulumi.all([join.stdout, node.node]).apply(([id, machine]) => scripts.admitScript(id, machine.name, { ...labelsOf(machine), ...roleLabels }, timeout)),
        delete: join.stdout.apply((id) => scripts.drainScript(id, timeout)),
        triggers,
    }, { parent });
}

/** The nodes as the outputs show them: named by the hostname each reports. */
function describe(nodes: ReadyNode[]): pulumi.Output<SwarmNodeOutput[]> {
    return pulumi.all(nodes.map(({ node, hostname, hostKey }) =>
        pulumi.all([node, hostname, hostKey]).apply(([machine, reported, key]) => ({ name: reported, host: machine.host, port: machine.port, privateAddress: machine.privateAddress, hostKey: key ?? "" }))));
}

const managerLabels = (index: number): Record<string, string> => ({ [labels.edge]: "true", [labels.managerIndex]: String(index) });

/** The labels every node carries: placement uses them, and the scripts tell machines apart by them. */
function labelsOf(node: SwarmNode): Record<string, string> {
    return { [labels.role]: node.role, [labels.nodeName]: node.name, [labels.machine]: machineId(node), ...node.labels };
}
