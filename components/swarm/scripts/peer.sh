#!/bin/sh
# shellcheck shell=sh
# On a manager other than manager 0: when this machine manages a swarm that has an entry for
# manager 0 (label NODE_NAME_LABEL = LEADER_NAME, the machine's name), prints the manager join token
# and this machine's address, `TOKEN ADDRESS`, so that a manager 0 made anew joins that swarm again
# rather than forming a second one. Prints nothing otherwise (the swarm is not formed yet).
: "${LEADER_NAME:?}" "${NODE_NAME_LABEL:?}"
[ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = true ] || exit 0
[ -n "$(docker node ls --quiet --filter "node.label=$NODE_NAME_LABEL=$LEADER_NAME")" ] || exit 0
printf '%s %s\n' "$(docker swarm join-token -q manager)" "$(docker info --format '{{.Swarm.NodeAddr}}')"
