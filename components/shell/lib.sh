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

# wait_until SECONDS MESSAGE COMMAND [ARG...]: runs COMMAND every 2 s until it succeeds; fails
# with MESSAGE once SECONDS have passed.
wait_until() {
    wait_deadline=$(($(date +%s) + $1))
    wait_message=$2
    shift 2
    until "$@"; do
        [ "$(date +%s)" -lt "$wait_deadline" ] || fail "$wait_message"
        sleep 2
    done
}

# wait_for_docker SECONDS: waits until the Docker engine answers this login.
wait_for_docker() {
    wait_until "$1" "the Docker engine did not answer within ${1}s" docker_answers
}
docker_answers() { docker info >/dev/null 2>&1; }

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

# unconverged [FILTER...]: one line per service (of those `docker service ls FILTER...` lists)
# with fewer running tasks than it should have (a global service needs at least one), or with
# an update under way; exits non-zero when an update failed or was rolled back.
unconverged() {
    for id in $(docker service ls --quiet "$@"); do
        service=$(docker service inspect --format '{{.Spec.Name}}' "$id")
        desired=$(docker service inspect --format '{{if .Spec.Mode.Replicated}}{{.Spec.Mode.Replicated.Replicas}}{{else}}global{{end}}' "$id")
        tasks=$(docker service ps --filter desired-state=running --format '{{.CurrentState}}' "$id")
        running=$(printf '%s\n' "$tasks" | grep -c '^Running' || true)
        if [ "$desired" = global ]; then
            desired=$(printf '%s\n' "$tasks" | grep -c . || true)
            [ "$desired" -gt 0 ] || desired='at least 1'
        fi
        [ "$running" = "$desired" ] || echo "$service runs $running of $desired"
        update=$(docker service inspect --format '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' "$id")
        case "$update" in
            updating | rollback_started) echo "$service is $update" ;;
            rollback_completed | rollback_paused | paused)
                fail "$service: update $update: $(docker service inspect --format '{{.UpdateStatus.Message}}' "$id")" ;;
        esac
    done
}

# converged [FILTER...]: every service (of those FILTER lists) runs all its tasks. A failed update
# ends the script (also where converged is a condition, in which `set -e` does not apply).
converged() {
    pending=$(unconverged "$@") || exit 1
    [ -z "$pending" ]
}
