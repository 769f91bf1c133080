#!/bin/sh
# shellcheck shell=sh
# Deploys the Compose file read from stdin as stack STACK, then waits until every service of the
# stack runs its desired replicas and no update is under way. After TIMEOUT seconds it fails
# naming each service that did not converge, with the errors of its tasks. Prints the services.
# SWARM_ID is the swarm this is meant for (a swarm formed again gets the stack deployed again);
# STACK_LABEL the label Docker gives a stack's objects (com.docker.stack.namespace).
: "${STACK:?}" "${TIMEOUT:?}" "${SWARM_ID:?}" "${STACK_LABEL:?}"
in_swarm "$SWARM_ID"
docker stack deploy --prune --with-registry-auth --compose-file - "$STACK" >&2
filter="label=$STACK_LABEL=$STACK"
deadline=$(($(date +%s) + TIMEOUT))
# The fields of a record of unconverged, as unconverged_record (lib.sh) sets them.
service='' mode='' running='' desired='' update=''
# What the last progress line said (a line only when it changes).
told=''
# Let the deploy's updates register before the first look.
sleep 1
while :; do
    # unconverged's records, one a line (see lib.sh). A failed rollback makes unconverged fail,
    # and set -e ends the script here.
    pending=$(unconverged --filter "$filter")
    [ -z "$pending" ] && break
    waiting=$(printf '%s\n' "$pending" | while read -r record; do
        unconverged_record "$record"
        if [ -n "$update" ]; then
            printf '%s %s, ' "${service#"$STACK"_}" "$update"
        else
            printf '%s %s/%s running, ' "${service#"$STACK"_}" "$running" "$desired"
        fi
    done)
    if [ "${waiting%, }" != "$told" ]; then
        told=${waiting%, }
        progress "waiting for $told"
    fi
    # Swarm can leave two running tasks in one slot when nodes are promoted or restart during a
    # start-first update, and such a service never converges: a forced rolling update replaces
    # its tasks with one per slot.
    printf '%s\n' "$pending" | while read -r record; do
        unconverged_record "$record"
        [ -z "$update" ] || continue
        [ "$running" -gt "$desired" ] 2>/dev/null || continue
        # A surplus while an update runs (start-first) is the update's own overlap.
        case "$pending" in *"service=$service update="*) continue ;; esac
        slots=$(docker service ps --filter desired-state=running --format '{{.Name}}' "$service" | sort | uniq -d | sed 's/.*\.//')
        [ -n "$slots" ] || continue
        echo "$service runs two tasks in slot $(printf '%s' "$slots" | tr '\n' ' ') outside an update: replacing its tasks" >&2
        docker service update --force --detach --quiet "$service" >/dev/null
    done
    if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "stack $STACK did not converge within ${TIMEOUT}s:" >&2
        printf '%s\n' "$pending" | while read -r record; do
            unconverged_record "$record"
            if [ -n "$update" ]; then
                echo "- $service is $update" >&2
            elif [ "$mode" = global ] && [ "$desired" = 0 ]; then
                echo "- $service runs $running of at least 1" >&2
            else
                echo "- $service runs $running of $desired" >&2
            fi
            docker service ps --no-trunc --format '    {{.Node}} {{.CurrentState}} {{.Error}}' "$service" 2>/dev/null | grep -v '^    *$' | head -5 >&2 || true
        done
        exit 1
    fi
    sleep 1
done
docker stack services --format '{{.Name}} {{.Replicas}}' "$STACK"
