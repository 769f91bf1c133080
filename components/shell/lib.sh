#!/bin/sh
# shellcheck shell=sh
# The helpers every script of the project runs with: the renderer (index.ts) puts this file in
# front of the script's parameters and the script itself. POSIX sh, for any login shell.
set -eu

# fail MESSAGE...: says why on stderr and ends the script.
fail() {
    printf '%s\n' "$*" >&2
    exit 1
}

# warn MESSAGE...: a warning that `pulumi up` shows (the command resource relays it).
warn() {
    printf 'warning: %s\n' "$*" >&2
}

# progress MESSAGE...: what the script waits for now; `pulumi up` shows it beside the script's
# resource while it runs (the command resource relays it, and keeps it out of the script's output).
progress() {
    printf 'progress: %s\n' "$*" >&2
}

# wait_until SECONDS MESSAGE COMMAND [ARG...]: runs COMMAND, then again a second after each
# failure, until it succeeds; fails with MESSAGE once SECONDS have passed. Says what it waits for
# every 5 s (COMMAND's name, `_` as spaces).
wait_until() {
    wait_started=$(date +%s)
    wait_deadline=$((wait_started + $1))
    wait_message=$2
    shift 2
    wait_told=$wait_started
    until "$@"; do
        wait_now=$(date +%s)
        [ "$wait_now" -lt "$wait_deadline" ] || fail "$wait_message"
        if [ $((wait_now - wait_told)) -ge 5 ]; then
            progress "waiting until $(printf '%s' "$1" | tr _ ' ') ($((wait_now - wait_started))s)"
            wait_told=$wait_now
        fi
        sleep 1
    done
}

# wait_for_docker SECONDS: waits until the Docker engine answers this login.
wait_for_docker() {
    wait_until "$1" "the Docker engine did not answer within ${1}s" docker_answers
}
docker_answers() { docker info >/dev/null 2>&1; }

# in_swarm SWARM_ID: fails unless this machine manages swarm SWARM_ID.
in_swarm() {
    [ "$(docker info --format '{{.Swarm.Cluster.ID}}' 2>/dev/null)" = "$1" ] || fail "$(hostname) is not a manager of swarm $1"
}

# retry COMMAND [ARG...]: runs COMMAND, and again up to 4 more times a second apart while it
# fails (the swarm refuses concurrent updates of one object: "update out of sequence").
retry() {
    for retry_attempt in 1 2 3 4; do
        "$@" && return 0
        echo "retrying ($retry_attempt): $*" >&2
        sleep 1
    done
    "$@"
}

# unconverged [FILTER...]: the services (of those `docker service ls FILTER...` lists) that run
# fewer or more tasks than they should, or have an update under way, as records: one a line,
# space-separated `key=value` fields in this order (names, modes and states hold no space, no `=`):
#   service=NAME mode=MODE running=N desired=M   N running tasks where M are wanted (MODE as
#                                                docker names it: replicated, global...; a global
#                                                service with desired=0 is listed: it needs one)
#   service=NAME update=STATE                    an update under way: updating, rollback_started
# unconverged_record reads one back. Exits non-zero when an update failed or was rolled back. Two
# docker calls, whatever the number of services (a call per service and field took seconds per
# look), and two more per service that seems to run too many tasks.
unconverged() {
    counts=$(docker service ls "$@" --format '{{.Name}} {{.Mode}} {{.Replicas}}')
    [ -n "$counts" ] || return 0
    while read -r service mode replicas _; do
        running=${replicas%%/*}
        desired=${replicas#*/}
        # A global service that no machine is meant to run (yet) is listed: it needs one.
        if [ "$mode" != global ] || [ "$desired" != 0 ]; then
            if [ "$running" -gt "$desired" ] 2>/dev/null; then
                # A machine that is down keeps counting its tasks as running until it reports
                # again: count the running tasks of machines that are up (tasks being stopped
                # still count, and are waited for).
                up_nodes=$(docker node ls --format '{{.Hostname}} {{.Status}}' | awk '$2 == "Ready" { print $1 }')
                running=$(docker service ps --format '{{.Node}} {{.CurrentState}}' "$service" |
                    awk -v up="$up_nodes" 'BEGIN { n = split(up, names, "\n"); for (i = 1; i <= n; i++) ready[names[i]] = 1 } $2 == "Running" && ($1 in ready) { c++ } END { print c + 0 }')
            fi
            [ "$running" != "$desired" ] || continue
        fi
        printf 'service=%s mode=%s running=%s desired=%s\n' "$service" "$mode" "$running" "$desired"
    done <<EOF
$counts
EOF
    # shellcheck disable=SC2046 # one argument per service id
    updates=$(docker service inspect --format '{{.Spec.Name}} {{if .UpdateStatus}}{{.UpdateStatus.State}} {{.UpdateStatus.Message}}{{end}}' $(docker service ls --quiet "$@"))
    while read -r service update message; do
        case "$update" in
            updating | rollback_started) printf 'service=%s update=%s\n' "$service" "$update" ;;
            rollback_completed | rollback_paused | paused) fail "$service: update $update: $message" ;;
        esac
    done <<EOF
$updates
EOF
}

# unconverged_record RECORD: sets service, mode, running, desired and update from one of
# unconverged's records (the fields it lacks are set empty).
unconverged_record() {
    service='' mode='' running='' desired='' update=''
    for field in $1; do
        case "$field" in
            service=*) service=${field#service=} ;;
            mode=*) mode=${field#mode=} ;;
            running=*) running=${field#running=} ;;
            desired=*) desired=${field#desired=} ;;
            update=*) update=${field#update=} ;;
        esac
    done
}

# converged [FILTER...]: every service (of those FILTER lists) runs all its tasks. A failed update
# ends the script (also where converged is a condition, in which `set -e` does not apply).
converged() {
    pending=$(unconverged "$@") || exit 1
    [ -z "$pending" ]
}
