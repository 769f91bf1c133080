// The scripts that form and shrink the swarm, run on the nodes over SSH (scripts/*.sh beside this
// file). Each is idempotent (it checks the node's state before changing it) and never carries a
// secret: join tokens arrive on stdin. These functions only name a script and its parameters;
// label names come from `labels` (components/types.ts), never from the scripts themselves.
import { labelArgs, scriptsIn } from "../shell";
import { labels } from "../types";

const script = scriptsIn(__dirname);

/** Waits until cloud-init has finished, where it runs (its exit 2, recoverable errors, passes). */
export const bootScript = (timeoutSeconds: number): string => script("boot", { TIMEOUT: timeoutSeconds });

/** Waits until the node's Docker engine answers this login; prints the node's hostname. */
export const readyScript = (timeoutSeconds: number): string => script("ready", { TIMEOUT: timeoutSeconds });

/**
 * Makes manager 0 a manager unless it is one: it joins the other managers' swarm when their
 * `peerScript` lines come on stdin (it was made anew), and forms the swarm otherwise. Prints its
 * node ID. `machineId` (see machineId in components/types) is in the script so that a machine made
 * anew runs it again; `formedBefore` says it is such a run, where forming a swarm is worth a
 * warning (the old one is lost).
 */
export const initScript = (advertiseAddress: string, machineId: string, formedBefore = false, addressPool = ""): string =>
    script("init", { ADVERTISE_ADDRESS: advertiseAddress, MACHINE_ID: machineId, FORMED_BEFORE: formedBefore, ADDRESS_POOL: addressPool });

/** On another manager: its manager join token and address, if it manages a swarm that knew manager 0 (`leaderName`). */
export const peerScript = (leaderName: string): string => script("peer", { LEADER_NAME: leaderName, NODE_NAME_LABEL: labels.nodeName });

/** Prints `vip` when the kernel can do IPVS load balancing, else `dnsrr`. */
export const endpointModeScript = (): string => script("endpoint-mode");

/** Tears the swarm down on manager 0 when the cluster itself is destroyed. */
export const dissolveScript = (): string => script("dissolve");

/** On manager 0 (`nodeId`): the join tokens and the swarm's ID as JSON, for a secret output. */
export const tokensScript = (nodeId: string): string => script("tokens", { NODE_ID: nodeId });

/**
 * Joins the swarm of the manager at `managerAddress` with the token on stdin; prints the node ID.
 * `requiredManagerId` (a node ID; swarms of one manager): a machine already in a swarm that lacks
 * this manager leaves that swarm first (its only manager was made anew and formed another).
 */
export const joinScript = (managerAddress: string, timeoutSeconds: number, requiredManagerId = ""): string =>
    script("join", { MANAGER_ADDRESS: managerAddress, TIMEOUT: timeoutSeconds, REQUIRED_MANAGER_ID: requiredManagerId });

/**
 * Makes the node leave the swarm: gracefully, retried, then by force only if it is no longer a
 * manager; then removes the stacks' volumes on it (those labelled `labels.stackData`).
 */
export const leaveScript = (): string => script("leave", { STACK_DATA_LABEL: labels.stackData });

/**
 * On a manager: waits until the node is Ready, sets its labels (`nodeLabels`), and removes the
 * Down entries it left before: entries of its name (`labels.nodeName`), and an earlier entry of
 * the same machine (`labels.machine`, as `nodeLabels` give it) once that one is Down.
 */
export const admitScript = (nodeId: string, nodeName: string, nodeLabels: Record<string, string>, timeoutSeconds: number): string =>
    script("admit", {
        NODE_ID: nodeId,
        NODE_NAME: nodeName,
        MACHINE_ID: nodeLabels[labels.machine] ?? "",
        NODE_NAME_LABEL: labels.nodeName,
        MACHINE_LABEL: labels.machine,
        TIMEOUT: timeoutSeconds,
    }, labelArgs("--label-add", nodeLabels));

/** The machine's swarm membership (`active <node ID>`), for refresh. */
export const readMembershipScript = (): string => script("read-membership");

/** On a manager: demotes and drains the node, and waits until its tasks run again elsewhere. */
export const drainScript = (nodeId: string, timeoutSeconds: number): string => script("drain", { NODE_ID: nodeId, TIMEOUT: timeoutSeconds });

/**
 * On a manager: removes the machine's node entries (labelled with its `machineId`, or of its
 * hostname and never admitted) once it has left (is Down); one still Ready after `graceSeconds`
 * did not leave (its machine is going away) and is removed by force.
 */
export const removeScript = (machineId: string, hostname: string, graceSeconds = 30): string =>
    script("remove", { MACHINE_ID: machineId, MACHINE_LABEL: labels.machine, NODE_HOSTNAME: hostname, GRACE: graceSeconds });
