// Shell run on a manager to deploy, watch and remove a Docker stack. Idempotent, and `set -eu`.
import { shellQuote, unconvergedFunction, waitUntil } from "../swarm/scripts";

const header = "set -eu";

/** Prints `vip` when the kernel can do IPVS load balancing, else `dnsrr`. */
export function endpointModeScript(): string {
    return [
        header,
        // Loaded already, or loadable (a module of the running kernel).
        "if [ -e /proc/net/ip_vs ] || modprobe -n ip_vs >/dev/null 2>&1; then echo vip; else echo dnsrr; fi",
    ].join("\n");
}

/** Creates a swarm config from stdin unless one of that name exists (configs are immutable). */
export function createConfigScript(name: string, labels: Record<string, string>): string {
    const quoted = shellQuote(name);
    const labelFlags = Object.entries(labels).map(([k, v]) => `--label ${shellQuote(`${k}=${v}`)}`).join(" ");
    return [header, `if ! docker config inspect ${quoted} >/dev/null 2>&1; then docker config create ${labelFlags} ${quoted} - >/dev/null; else cat >/dev/null; fi`].join("\n");
}

export function removeConfigScript(name: string): string {
    const quoted = shellQuote(name);
    return [header, `if docker config inspect ${quoted} >/dev/null 2>&1; then docker config rm ${quoted} >/dev/null; fi`].join("\n");
}

/**
 * Deploys the Compose file read from stdin, then waits until every service of the stack runs
 * its desired replicas and no update is under way. On timeout it fails naming each service that
 * did not converge, with the errors of its tasks.
 */
export function deployScript(stack: string, timeoutSeconds: number): string {
    const name = shellQuote(stack);
    return [
        header,
        `docker stack deploy --prune --with-registry-auth --compose-file - ${name} >&2`,
        unconvergedFunction(`--filter label=com.docker.stack.namespace=${name}`),
        `deadline=$(( $(date +%s) + ${timeoutSeconds} ))`,
        // Let the deploy's updates register before the first look.
        "sleep 2",
        "while :; do",
        // A failed rollback makes unconverged exit non-zero, and set -e ends the script here.
        "    pending=$(unconverged)",
        "    [ -z \"$pending\" ] && break",
        `    if [ "$(date +%s)" -ge "$deadline" ]; then`,
        `        echo "stack ${stack} did not converge within ${timeoutSeconds}s:" >&2`,
        "        printf '%s\\n' \"$pending\" | while read -r service rest; do",
        "            echo \"- $service $rest\" >&2",
        "            docker service ps --no-trunc --format '    {{.Node}} {{.CurrentState}} {{.Error}}' \"$service\" 2>/dev/null | grep -v '^    *$' | head -5 >&2 || true",
        "        done",
        "        exit 1",
        "    fi",
        "    sleep 3",
        "done",
        `docker stack services --format '{{.Name}} {{.Replicas}}' ${name}`,
    ].join("\n");
}

/**
 * Removes the stack, waits until its services and networks are gone, then removes its volumes on
 * this manager (where the stateful services keep their data), once their containers have exited.
 */
export function removeScript(stack: string, timeoutSeconds: number): string {
    const name = shellQuote(stack);
    const filter = shellQuote(`label=com.docker.stack.namespace=${stack}`);
    return [
        header,
        `if [ -n "$(docker service ls --quiet --filter ${filter})" ]; then docker stack rm ${name} >&2; fi`,
        waitUntil(
            `[ -z "$(docker service ls --quiet --filter ${filter})$(docker network ls --quiet --filter ${filter})" ]`,
            timeoutSeconds,
            `stack ${stack} still has services or networks after ${timeoutSeconds}s`,
        ),
        `until volumes=$(docker volume ls --quiet --filter ${filter}) && { [ -z "$volumes" ] || docker volume rm $volumes >/dev/null 2>&1; }; do`,
        `    if [ "$(date +%s)" -ge "$deadline" ]; then echo "volumes of stack ${stack} still in use after ${timeoutSeconds}s: $volumes" >&2; exit 1; fi`,
        "    sleep 2",
        "done",
    ].join("\n");
}
