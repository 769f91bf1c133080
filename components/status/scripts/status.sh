#!/bin/sh
# shellcheck shell=sh
# Prints, from a manager, what runs where, as JSON: one object a line, whose one key says what its
# value is:
#   {"machine":NODE}       a row of `docker node ls` (Hostname, ManagerStatus, Status, Availability...)
#   {"service":SERVICE}    a row of `docker service ls`, every stack's (Name, Replicas, Image...)
#   {"task":TASK}          a running task, once each (Node, Name, CurrentState...)
#   {"consumers":JSZ}      from a NATS server of stack STACK on this machine: its /jsz?consumers=true
# The rows are docker's own `{{json .}}`. STACK_LABEL and SERVICE_NAME_LABEL: the labels Docker
# gives a stack's objects and a service's containers (com.docker.stack.namespace,
# com.docker.swarm.service.name).
: "${STACK:?}" "${STACK_LABEL:?}" "${SERVICE_NAME_LABEL:?}"
docker node ls --format '{"machine":{{json .}}}'
docker service ls --format '{"service":{{json .}}}'
# `docker node ps` of several nodes repeats tasks: each is printed once.
# shellcheck disable=SC2046 # one argument per node id
{ docker node ps --filter desired-state=running --format '{"task":{{json .}}}' $(docker node ls --quiet) 2>/dev/null || true; } | awk '!seen[$0]++'
# The container of service nats, or of one of nats-0, nats-1... (no --quiet: docker ignores
# --format with it).
nats=$(docker ps --filter "label=$STACK_LABEL=$STACK" --format "{{.ID}} {{.Label \"$SERVICE_NAME_LABEL\"}}" |
    awk -v s="${STACK}_nats" '$2 == s || (index($2, s "-") == 1 && substr($2, length(s) + 2) ~ /^[0-9]+$/) { print $1; exit }')
if [ -n "$nats" ]; then
    # One line: JSON holds no newline but between its tokens.
    jsz=$(docker exec "$nats" curl -fsS 'http://127.0.0.1:8222/jsz?consumers=true' | tr -d '\n')
    [ -n "$jsz" ] || fail "the NATS server of stack $STACK ($nats) did not answer /jsz"
    printf '{"consumers":%s}\n' "$jsz"
fi
