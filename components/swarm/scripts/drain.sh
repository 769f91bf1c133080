#!/bin/sh
# shellcheck shell=sh
# On a manager: demotes node NODE_ID if it is a manager, drains it and waits until its tasks have
# moved (gone from it and running again elsewhere), so that its leaving loses nothing.
: "${NODE_ID:?}" "${TIMEOUT:?}"
# Already removed, or no swarm here any more (it was dissolved): nothing to drain.
[ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = true ] || exit 0
docker node inspect "$NODE_ID" >/dev/null 2>&1 || exit 0
if [ "$(docker node inspect --format '{{.Spec.Role}}' "$NODE_ID")" = manager ]; then
    retry docker node demote "$NODE_ID" >/dev/null
fi
retry docker node update --availability drain "$NODE_ID" >/dev/null
no_tasks_left() { [ -z "$(docker node ps --quiet --filter desired-state=running "$NODE_ID")" ]; }
wait_until "$TIMEOUT" "tasks of node $NODE_ID did not move within ${TIMEOUT}s" no_tasks_left
wait_until "$TIMEOUT" "services did not run all their tasks again within ${TIMEOUT}s after node $NODE_ID was drained" converged
