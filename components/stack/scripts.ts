// The scripts that deploy, watch and remove a Docker stack, run on a manager over SSH
// (scripts/*.sh beside this file). Idempotent; these functions only name a script and its
// parameters.
import { labelArgs, scriptsIn } from "../shell";
import { labels } from "../types";

const script = scriptsIn(__dirname);

/** What a stack ships to the swarm besides its services: a config, or a secret (its content never leaves stdin). */
export type SwarmObjectKind = "config" | "secret";

/** Creates a swarm config or secret from stdin unless one of that name exists (they are immutable), on a manager of swarm `swarmId`. */
export const createSwarmObjectScript = (kind: SwarmObjectKind, name: string, labels: Record<string, string>, swarmId: string): string =>
    script("config-create", { KIND: kind, NAME: name, SWARM_ID: swarmId }, labelArgs("--label", labels));

export const removeSwarmObjectScript = (kind: SwarmObjectKind, name: string): string => script("config-remove", { KIND: kind, NAME: name });

/** Whether the swarm config or secret is there (exit 3 when gone), for refresh. */
export const readSwarmObjectScript = (kind: SwarmObjectKind, name: string): string => script("config-read", { KIND: kind, NAME: name });

/** The stack's services as deployed (name, desired replicas, image), for refresh. */
export const readServicesScript = (stack: string): string => script("read-services", { STACK: stack, STACK_LABEL: labels.stackNamespace });

/**
 * Deploys the Compose file read from stdin on a manager of swarm `swarmId`, then waits until every
 * service of the stack runs its desired replicas and no update is under way. On timeout it fails
 * naming each service that did not converge, with the errors of its tasks.
 */
export const deployScript = (stack: string, timeoutSeconds: number, swarmId: string): string => script("deploy", { STACK: stack, TIMEOUT: timeoutSeconds, SWARM_ID: swarmId, STACK_LABEL: labels.stackNamespace });

/** Removes the stack, waits until its services and networks are gone, then removes its volumes. */
export const removeScript = (stack: string, timeoutSeconds: number): string => script("remove", { STACK: stack, TIMEOUT: timeoutSeconds, STACK_LABEL: labels.stackNamespace });

/**
 * Gives a machine that runs none of the stack's tasks work: the stack's spread services get a
 * forced rolling update, one at a time, until every ready machine runs some (or none is left).
 */
export const rebalanceScript = (stack: string, timeoutSeconds: number, swarmId: string): string =>
    script("rebalance", { STACK: stack, TIMEOUT: timeoutSeconds, SWARM_ID: swarmId, STACK_LABEL: labels.stackNamespace });
