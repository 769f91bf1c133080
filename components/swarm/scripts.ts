// The scripts that form and shrink the swarm, run on the nodes over SSH (scripts/*.sh beside this
// file). Each is idempotent (it checks the node's state before changing it) and never carries a
// secret: join tokens arrive on stdin. These functions only name a script and its parameters.
import { labelArgs, scriptsIn } from "../shell";

const script = scriptsIn(__dirname);

/** Waits until cloud-init has finished, where it runs (its exit 2, recoverable errors, passes). */
export const bootScript = (timeoutSeconds: number): string => script("boot", { TIMEOUT: timeoutSeconds });

/** Waits until the node's Docker engine answers this login; prints the node's hostname. */
export const readyScript = (timeoutSeconds: number): string => script("ready", { TIMEOUT: timeoutSeconds });

/** Makes manager 0 the first manager, unless it already is one. Prints its node ID. */
export const initScript = (advertiseAddress: string): string => script("init", { ADVERTISE_ADDRESS: advertiseAddress });

/** Prints `vip` when the kernel can do IPVS load balancing, else `dnsrr`. */
export const endpointModeScript = (): string => script("endpoint-mode");

/** Tears the swarm down on manager 0 when the cluster itself is destroyed. */
export const dissolveScript = (): string => script("dissolve");

/** Prints the join tokens as JSON, for a secret output. */
export const tokensScript = (): string => script("tokens");

/** Joins the swarm of the manager at `managerAddress` with the token on stdin; prints the node ID. */
export const joinScript = (managerAddress: string, timeoutSeconds: number): string =>
    script("join", { MANAGER_ADDRESS: managerAddress, TIMEOUT: timeoutSeconds });

/** Makes the node leave the swarm: gracefully, retried, then by force only if it is no longer a manager. */
export const leaveScript = (): string => script("leave");

/** On a manager: waits until the node is Ready, sets its labels, and removes the Down entries it left before. */
export const admitScript = (nodeId: string, nodeName: string, labels: Record<string, string>, timeoutSeconds: number): string =>
    script("admit", { NODE_ID: nodeId, NODE_NAME: nodeName, TIMEOUT: timeoutSeconds }, labelArgs("--label-add", labels));

/** The machine's swarm membership (`active <node ID>`), for refresh. */
export const readMembershipScript = (): string => script("read-membership");

/** On a manager: demotes and drains the node, and waits until its tasks run again elsewhere. */
export const drainScript = (nodeId: string, timeoutSeconds: number): string => script("drain", { NODE_ID: nodeId, TIMEOUT: timeoutSeconds });

/**
 * On a manager: removes the machine's node entries (labelled with its instance, or of its hostname
 * and never admitted) once it has left (is Down); one still Ready after `graceSeconds` did not
 * leave (its machine is going away) and is removed by force.
 */
export const removeScript = (instance: string, hostname: string, graceSeconds = 30): string =>
    script("remove", { INSTANCE: instance, NODE_HOSTNAME: hostname, GRACE: graceSeconds });
