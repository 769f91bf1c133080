#!/bin/sh
# shellcheck shell=sh
# Prints the logs of service SERVICE of stack STACK from every task, each line with its task and
# machine (docker's own prefix) and time, from a manager. SINCE: a duration (10m) or a time, empty:
# all that is kept. FOLLOW=true: keeps printing new lines until stopped.
: "${STACK:?}" "${SERVICE:?}" "${FOLLOW:?}"
name="${STACK}_${SERVICE}"
if ! docker service inspect "$name" >/dev/null 2>&1; then
    known=$(docker service ls --filter "label=com.docker.stack.namespace=$STACK" --format '{{.Name}}' | sed "s/^${STACK}_//" | sort | paste -sd ' ' -)
    fail "stack $STACK has no service $SERVICE; its services: ${known:-none (is it deployed?)}"
fi
set -- --timestamps
[ -z "${SINCE:-}" ] || set -- "$@" --since "$SINCE"
[ "$FOLLOW" != true ] || set -- "$@" --follow
exec docker service logs "$@" "$name"
