// Shell run on the nodes to form and shrink the swarm. Every script is idempotent (it checks the
// node's state before changing it) and never carries a secret: join tokens arrive on stdin.

/** Quotes a value for a POSIX shell. */
export function shellQuote(value: string): string {
    return `'${value.replace(/'/g, `'\\''`)}'`;
}

const header = "set -eu";

/** Loops until `condition` holds, failing with `message` after `timeoutSeconds`. */
export function waitUntil(condition: string, timeoutSeconds: number, message: string): string {
    return [
        `deadline=$(( $(date +%s) + ${timeoutSeconds} ))`,
        `until ${condition}; do`,
        `    if [ "$(date +%s)" -ge "$deadline" ]; then echo ${shellQuote(message)} >&2; exit 1; fi`,
        "    sleep 2",
        "done",
    ].join("\n");
}

export interface ReadyOptions {
    timeoutSeconds: number;
    /** Wait for cloud-init to finish first (cloud VMs install Docker from it). */
    cloudInit: boolean;
}

/** Waits until the node's Docker engine answers; prints the node's hostname. */
export function readyScript(options: ReadyOptions): string {
    return [
        header,
        ...(options.cloudInit
            ? ["if command -v cloud-init >/dev/null 2>&1; then cloud-init status --wait >/dev/null || { echo 'cloud-init failed: see /var/log/cloud-init-output.log' >&2; exit 1; }; fi"]
            : []),
        waitUntil("docker info >/dev/null 2>&1", options.timeoutSeconds, `the Docker engine did not answer within ${options.timeoutSeconds}s`),
        "hostname",
    ].join("\n");
}

/**
 * A shell function `unconverged` that prints one line per service (of those `docker service ls
 * <filter>` lists) with fewer running tasks than it should have (or none, for a global service
 * that finds no node), or with an update under way; it exits non-zero when an update failed.
 */
export function unconvergedFunction(filter = ""): string {
    return [
        "unconverged() {",
        `    for id in $(docker service ls --quiet ${filter}); do`,
        "        service=$(docker service inspect --format '{{.Spec.Name}}' $id)",
        "        desired=$(docker service inspect --format '{{if .Spec.Mode.Replicated}}{{.Spec.Mode.Replicated.Replicas}}{{else}}global{{end}}' $id)",
        "        tasks=$(docker service ps --filter desired-state=running --format '{{.CurrentState}}' $id)",
        `        running=$(printf '%s\n' "$tasks" | grep -c '^Running' || true)`,
        `        if [ "$desired" = global ]; then desired=$(printf '%s\n' "$tasks" | grep -c . || true); [ "$desired" -gt 0 ] || desired='at least 1'; fi`,
        `        [ "$running" = "$desired" ] || echo "$service runs $running of $desired"`,
        "        update=$(docker service inspect --format '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' $id)",
        `        case "$update" in updating|rollback_started) echo "$service is $update" ;; esac`,
        `        case "$update" in rollback_completed|rollback_paused|paused) echo "$service: update $update: $(docker service inspect --format '{{.UpdateStatus.Message}}' $id)" >&2; exit 1 ;; esac`,
        "    done",
        "}",
    ].join("\n");
}

/** Makes manager 0 the first manager, unless it already is one. Prints its node ID. */
export function initScript(advertiseAddress: string): string {
    const address = shellQuote(advertiseAddress);
    return [
        header,
        `state=$(docker info --format '{{.Swarm.LocalNodeState}}')`,
        `if [ "$state" = active ]; then`,
        `    if [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" != true ]; then`,
        `        echo "$(hostname) is already in a swarm as a worker: make it leave (docker swarm leave) or choose another manager 0" >&2`,
        "        exit 1",
        "    fi",
        "else",
        `    docker swarm init --advertise-addr ${address} --listen-addr ${address}:2377 >/dev/null`,
        "fi",
        "docker info --format '{{.Swarm.NodeID}}'",
    ].join("\n");
}

/** Tears the swarm down on manager 0 when the cluster itself is destroyed. */
export function dissolveScript(): string {
    return [header, `if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != inactive ]; then docker swarm leave --force >/dev/null; fi`].join("\n");
}

/** Prints the join tokens as JSON, for a secret output. */
export function tokensScript(): string {
    return [
        header,
        `printf '{"worker":"%s","manager":"%s"}' "$(docker swarm join-token -q worker)" "$(docker swarm join-token -q manager)"`,
    ].join("\n");
}

/**
 * Joins the node to the swarm of the manager at `managerAddress`, reading the join token from
 * stdin. A node already in a swarm is left as it is; a failed join fails (never a new init).
 * Prints the node ID.
 */
export function joinScript(managerAddress: string, timeoutSeconds: number): string {
    return [
        header,
        "token=$(cat)",
        `state=$(docker info --format '{{.Swarm.LocalNodeState}}')`,
        `case "$state" in`,
        "    active) ;;",
        "    pending)",
        `        ${waitUntil(`[ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = active ]`, timeoutSeconds, "the node stays pending: it cannot reach the managers").replace(/\n/g, "\n        ")}`,
        "        ;;",
        "    *)",
        `        docker swarm join --token "$token" ${shellQuote(`${managerAddress}:2377`)} >/dev/null`,
        "        ;;",
        "esac",
        "docker info --format '{{.Swarm.NodeID}}'",
    ].join("\n");
}

/**
 * Makes the node leave the swarm (it has been demoted and drained before). A graceful leave can
 * time out while the managers are busy (several nodes leaving at once): it is retried, then a
 * node that is no longer a manager is made to leave by force, which is safe once it is drained.
 */
export function leaveScript(): string {
    return [
        header,
        `left() { [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = inactive ]; }`,
        "for attempt in 1 2 3; do",
        "    if left || docker swarm leave >/dev/null; then exit 0; fi",
        "    sleep $((attempt * 2))",
        "done",
        "if left; then exit 0; fi",
        `if [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = true ]; then`,
        `    echo "$(hostname) is still a manager: not forcing it out of the swarm (that could break quorum)" >&2`,
        "    exit 1",
        "fi",
        `echo "$(hostname): graceful leave failed; leaving by force" >&2`,
        "docker swarm leave --force >/dev/null",
    ].join("\n");
}

/** On a manager: waits until the node is Ready, then sets its labels. */
export function admitScript(nodeId: string, labels: Record<string, string>, timeoutSeconds: number): string {
    const id = shellQuote(nodeId);
    const labelArgs = Object.entries(labels)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => `--label-add ${shellQuote(`${k}=${v}`)}`)
        .join(" ");
    return [
        header,
        waitUntil(`[ "$(docker node inspect --format '{{.Status.State}}' ${id} 2>/dev/null)" = ready ]`, timeoutSeconds, `node ${nodeId} did not become Ready within ${timeoutSeconds}s`),
        ...(labelArgs ? [`docker node update ${labelArgs} ${id} >/dev/null`] : []),
    ].join("\n");
}

/**
 * On a manager: demotes the node if it is a manager, drains it and waits until its tasks have
 * moved: gone from it and running again elsewhere, so that its leaving loses nothing.
 */
export function drainScript(nodeId: string, timeoutSeconds: number): string {
    const id = shellQuote(nodeId);
    return [
        header,
        `if ! docker node inspect ${id} >/dev/null 2>&1; then exit 0; fi`,
        `if [ "$(docker node inspect --format '{{.Spec.Role}}' ${id})" = manager ]; then docker node demote ${id} >/dev/null; fi`,
        `docker node update --availability drain ${id} >/dev/null`,
        waitUntil(`[ -z "$(docker node ps --quiet --filter desired-state=running ${id})" ]`, timeoutSeconds, `tasks of node ${nodeId} did not move within ${timeoutSeconds}s`),
        unconvergedFunction(),
        waitUntil(`[ -z "$(unconverged)" ]`, timeoutSeconds, `services did not run all their tasks again within ${timeoutSeconds}s after node ${nodeId} was drained`),
    ].join("\n");
}

/**
 * On a manager: removes the node with this hostname from the node list once it has left (is
 * Down). A node still Ready after `graceSeconds` did not leave (its machine could not be reached
 * or trusted, and is going away): it is removed by force.
 */
export function removeScript(hostname: string, graceSeconds = 30): string {
    const host = shellQuote(hostname);
    return [
        header,
        // IDs of the nodes with this hostname and the given state.
        `nodes_in() { docker node ls --format '{{.ID}} {{.Hostname}} {{.Status}}' | awk -v h=${host} -v s="$1" '$2 == h && tolower($3) == s { print $1 }'; }`,
        `deadline=$(( $(date +%s) + ${graceSeconds} ))`,
        `while [ -n "$(nodes_in ready)" ] && [ "$(date +%s)" -lt "$deadline" ]; do sleep 2; done`,
        `for id in $(nodes_in ready); do echo ${shellQuote(`node ${hostname} did not leave the swarm: removing it by force`)} >&2; docker node rm --force "$id" >/dev/null; done`,
        `for id in $(nodes_in down); do docker node rm "$id" >/dev/null; done`,
    ].join("\n");
}
