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
}

export interface SwarmNodeOutput {
    name: string;
    host: string;
    port: number;
    privateAddress: string;
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
    /** SSH connection to manager 0 (holds the private key: secret). */
    public readonly leaderConnection: pulumi.Output<SshConnection>;
    /** Swarm node IDs by node name. */
    public readonly nodeIds: pulumi.Output<Record<string, string>>;
    /** The join tokens (secret). */
    public readonly joinTokens: pulumi.Output<Record<Role, string>>;
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

        const timeout = args.timeoutSeconds ?? 300;
        const privateKey = pulumi.secret(args.privateKey);
        const connectionTo = (node: pulumi.Input<SwarmNode>): pulumi.Output<SshConnection> =>
            pulumi.all([node, privateKey]).apply(([n, key]) => ({
                host: n.host,
                port: n.port,
                user: n.user,
                privateKey: key,
                machine: n.name,
                dialAttempts: args.dialAttempts ?? defaultDialAttempts,
            }));
        const instanceOf = (node: pulumi.Input<SwarmNode>) => pulumi.output(node).apply(machineId);
        // Hostname of each node as it reports it, by node name.
        const hostnames: pulumi.Output<[string, string]>[] = [];
        // Waits for the node to be ready and pins its SSH host key. Every other command reaches
        // the node through the connection returned here, which resolves only once the node is
        // ready and makes every later connection check that key.
        const ready = (node: pulumi.Input<SwarmNode>, label: string) => {
            const instance = instanceOf(node);
            // Cloud VMs: cloud-init first, in a session of its own, so that the readiness check
            // logs in after it with the groups it gave the user (docker).
            const boot = args.cloudInit
                ? [new Command(`${name}-${label}-boot`, { connection: connectionTo(node), create: scripts.bootScript(timeout), triggers: [instance] }, { parent: this })]
                : [];
            const command = new Command(`${name}-${label}-ready`, {
                connection: connectionTo(node),
                create: scripts.readyScript(timeout),
                triggers: [instance],
            }, { parent: this, dependsOn: boot });
            hostnames.push(pulumi.all([pulumi.output(node).name, command.stdout]).apply(([n, h]) => [n, h] as [string, string]));
            const connection = pulumi.all([connectionTo(node), command.hostKey]).apply(([c, hostKey]) => ({ ...c, hostKey }));
            return { command, connection, instance };
        };

        const leader = args.managers[0];
        const leaderReady = ready(leader, "manager-0");
        const leaderConnection = leaderReady.connection;
        // The other managers say, before manager 0 is made a manager, whether they manage a swarm
        // that knew it: a manager 0 made anew then joins that swarm instead of forming a second one.
        const peerReadies = args.managers.slice(1).map((node, i) => ready(node, `manager-${i + 1}`));
        const leaderName = pulumi.output(leader).apply((n) => n.name);
        const peers = peerReadies.map((peer, i) => new Command(`${name}-manager-${i + 1}-peer`, {
            connection: peer.connection,
            create: leaderName.apply(scripts.peerScript),
            triggers: [leaderReady.instance],
        }, { parent: this, additionalSecretOutputs: ["stdout"] }));
        const init = new Command(`${name}-init`, {
            connection: leaderConnection,
            // A machine made anew runs it again (an update: the old machine's swarm is not dissolved).
            create: pulumi.all([leader, leaderReady.instance]).apply(([n, instance]) => scripts.initScript(n.privateAddress, instance)),
            update: pulumi.all([leader, leaderReady.instance]).apply(([n, instance]) => scripts.initScript(n.privateAddress, instance, true)),
            delete: scripts.dissolveScript(),
            stdin: pulumi.secret(pulumi.all(peers.map((p) => p.stdout)).apply((lines) => lines.filter(Boolean).join("\n"))),
        }, { parent: this });
        const detect = new Command(`${name}-endpoint-mode`, {
            connection: leaderConnection,
            create: scripts.endpointModeScript(),
            triggers: [init.id],
        }, { parent: this, dependsOn: [init] });
        this.endpointMode = detect.stdout.apply((mode) => (mode === "vip" ? "vip" : "dnsrr"));
        const tokens = new Command(`${name}-tokens`, {
            connection: leaderConnection,
            create: init.stdout.apply(scripts.tokensScript),
            triggers: [init.id],
        }, { parent: this, dependsOn: [init], additionalSecretOutputs: ["stdout"] });
        const joinTokens = pulumi.secret(tokens.stdout.apply((json) => JSON.parse(json) as Record<Role, string>));
        this.swarmId = pulumi.unsecret(tokens.stdout.apply((json) => (JSON.parse(json) as { swarm: string }).swarm));
        // With one manager, a manager 0 made anew formed a new swarm: the workers leave the old one.
        const soleManagerId = args.managers.length === 1 ? init.stdout : pulumi.output("");
        const tokenFor = (role: Role) => pulumi.secret(joinTokens.apply((t) => t[role]));
        const managerAddress = pulumi.output(leader).apply((n) => n.privateAddress);

        const nodeIds: pulumi.Output<[string, string]>[] = [
            pulumi.all([pulumi.output(leader).apply((n) => n.name), init.stdout]).apply(([n, id]) => [n, id] as [string, string]),
        ];
        const admitLeader = new Command(`${name}-manager-0-admit`, {
            connection: leaderConnection,
            create: pulumi.all([init.stdout, leader]).apply(([id, n]) => scripts.admitScript(id, n.name, { ...labelsOf(n), ...managerLabels(0) }, timeout)),
        }, { parent: this });

        // One node other than manager 0: record (removes it from the node list on delete), join
        // (leaves on delete), admit (labels; demotes and drains on delete). Creation runs in that
        // order and deletion in the reverse one, which is the order a clean removal needs.
        const addNode = (node: pulumi.Input<SwarmNode>, nodeReady: ReturnType<typeof ready>, label: string, role: Role, after: pulumi.Resource[], roleLabels: Record<string, string>): Command => {
            // A machine made anew is a new node: its steps are replaced with it.
            const triggers = [nodeReady.instance];
            const record = new Command(`${name}-${label}-record`, {
                connection: leaderConnection,
                create: "true",
                delete: pulumi.all([nodeReady.instance, nodeReady.command.stdout]).apply(([instance, hostname]) => scripts.removeScript(instance, hostname)),
                triggers,
            }, { parent: this, dependsOn: after });
            const join = new Command(`${name}-${label}-join`, {
                connection: nodeReady.connection,
                create: pulumi.all([managerAddress, soleManagerId]).apply(([address, sole]) => scripts.joinScript(address, timeout, role === "worker" ? sole : "")),
                delete: scripts.leaveScript(),
                // Refresh sees a machine that left the swarm; up joins it again.
                read: scripts.readMembershipScript(),
                stdin: tokenFor(role),
                triggers,
            }, { parent: this, dependsOn: [record, tokens] });
            const admit = new Command(`${name}-${label}-admit`, {
                connection: leaderConnection,
                create: pulumi.all([join.stdout, node]).apply(([id, n]) => scripts.admitScript(id, n.name, { ...labelsOf(n), ...roleLabels }, timeout)),
                delete: join.stdout.apply((id) => scripts.drainScript(id, timeout)),
                triggers,
            }, { parent: this });
            nodeIds.push(pulumi.all([pulumi.output(node).apply((n) => n.name), join.stdout]).apply(([n, id]) => [n, id] as [string, string]));
            return admit;
        };

        // Managers one at a time: each waits for the previous one to be admitted.
        let previous: Command = admitLeader;
        args.managers.slice(1).forEach((node, i) => {
            previous = addNode(node, peerReadies[i], `manager-${i + 1}`, "manager", [previous], managerLabels(i + 1));
        });
        // Workers all at once.
        const workerAdmits = args.workers.map((node, i) => addNode(node, ready(node, `worker-${i}`), `worker-${i}`, "worker", [], {}));

        const hostnameOf = pulumi.all(hostnames).apply((pairs) => Object.fromEntries(pairs));
        const describe = (nodes: pulumi.Input<SwarmNode>[]) =>
            pulumi.all([hostnameOf, pulumi.all(nodes)]).apply(([names, list]) =>
                list.map((n) => ({ name: names[n.name], host: n.host, port: n.port, privateAddress: n.privateAddress })),
            );
        // The cluster counts as made when every node is admitted.
        const formed = pulumi.all([previous.id, ...workerAdmits.map((a) => a.id)]);
        this.workers = pulumi.all([formed, describe(args.workers)]).apply(([, w]) => w);
        this.managers = pulumi.all([formed, describe(args.managers)]).apply(([, m]) => m);
        this.sshUser = pulumi.output(leader).apply((n) => n.user);
        this.dockerHost = pulumi.output(leader).apply((n) => `ssh://${n.user}@${n.host}:${n.port}`);
        this.leaderConnection = pulumi.secret(pulumi.all([leaderConnection, init.stdout]).apply(([c]) => c));
        this.nodeIds = pulumi.all(nodeIds).apply((pairs) => Object.fromEntries(pairs));
        this.joinTokens = joinTokens;
        this.registerOutputs({
            managers: this.managers,
            workers: this.workers,
            sshUser: this.sshUser,
            dockerHost: this.dockerHost,
            nodeIds: this.nodeIds,
            endpointMode: this.endpointMode,
            swarmId: this.swarmId,
        });
    }
}

const managerLabels = (index: number): Record<string, string> => ({ [labels.edge]: "true", [labels.managerIndex]: String(index) });

/** The labels every node carries: placement uses them, and the scripts tell machines apart by them. */
function labelsOf(node: SwarmNode): Record<string, string> {
    return { [labels.role]: node.role, [labels.nodeName]: node.name, [labels.machine]: machineId(node), ...node.labels };
}
