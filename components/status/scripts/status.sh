#!/bin/sh
# shellcheck shell=sh
# Prints, from a manager, what runs where: the machines (role, state, availability), every stack's
# services (running and desired replicas, image), the running tasks on each machine, and, from a
# NATS server of stack STACK on this machine, the JetStream consumers as JSON (a `consumers` line).
: "${STACK:?}"
echo "== machines"
docker node ls --format '{{.Hostname}}|{{if .ManagerStatus}}manager {{.ManagerStatus}}{{else}}worker{{end}}|{{.Status}}|{{.Availability}}'
echo "== services"
docker service ls --format '{{.Name}}|{{.Replicas}}|{{.Image}}'
echo "== tasks"
# `docker node ps` of several nodes repeats tasks: each is printed once.
# shellcheck disable=SC2046 # one argument per node id
{ docker node ps --filter desired-state=running --format '{{.Node}}|{{.Name}}|{{.CurrentState}}' $(docker node ls --quiet) 2>/dev/null || true; } | awk '!seen[$0]++'
echo "== pipeline"
nats=$(docker ps --quiet --filter "label=com.docker.stack.namespace=$STACK" --filter "label=com.docker.swarm.service.name=${STACK}_nats" | head -n 1)
[ -n "$nats" ] || nats=$(docker ps --quiet --filter "label=com.docker.stack.namespace=$STACK" --format '{{.ID}} {{.Label "com.docker.swarm.service.name"}}' | awk -v s="${STACK}_nats-" 'index($2, s) == 1 { print $1; exit }')
if [ -n "$nats" ]; then
    printf 'consumers '
    docker exec "$nats" curl -fsS 'http://127.0.0.1:8222/jsz?consumers=true' | tr -d '\n'
    echo
fi
