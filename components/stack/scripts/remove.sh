#!/bin/sh
# shellcheck shell=sh
# Removes stack STACK, waits until its services and networks are gone, then removes its volumes on
# this manager (where the stateful services keep their data) once their containers have exited.
# STACK_LABEL: the label Docker gives a stack's objects (com.docker.stack.namespace).
: "${STACK:?}" "${TIMEOUT:?}" "${STACK_LABEL:?}"
filter="label=$STACK_LABEL=$STACK"
# No swarm here any more (it was dissolved): the stack went with it.
[ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = true ] || exit 0
if [ -n "$(docker service ls --quiet --filter "$filter")" ]; then docker stack rm "$STACK" >&2; fi
stack_gone() { [ -z "$(docker service ls --quiet --filter "$filter")$(docker network ls --quiet --filter "$filter")" ]; }
wait_until "$TIMEOUT" "stack $STACK still has services or networks after ${TIMEOUT}s" stack_gone
volumes_gone() {
    volumes=$(docker volume ls --quiet --filter "$filter") || return 1
    [ -z "$volumes" ] && return 0
    # shellcheck disable=SC2086 # one word per volume name
    docker volume rm $volumes >/dev/null 2>&1
}
wait_until "$TIMEOUT" "volumes of stack $STACK still in use after ${TIMEOUT}s" volumes_gone
