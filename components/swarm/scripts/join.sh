#!/bin/sh
# shellcheck shell=sh
# Joins this machine to the swarm of the manager at MANAGER_ADDRESS, with the join token read
# from stdin. A machine already in a swarm is left as it is; a failed join fails (never a new
# init). Prints the node ID.
: "${MANAGER_ADDRESS:?}" "${TIMEOUT:?}"
token=$(cat)
# Run again on a machine that was just started (up after a refresh), its engine may still be starting.
wait_for_docker "$TIMEOUT"
local_state() { docker info --format '{{.Swarm.LocalNodeState}}'; }
is_active() { [ "$(local_state)" = active ]; }
case "$(local_state)" in
    active) ;;
    pending) wait_until "$TIMEOUT" "the node stays pending: it cannot reach the managers" is_active ;;
    *) docker swarm join --token "$token" "$MANAGER_ADDRESS:2377" >/dev/null ;;
esac
docker info --format '{{.Swarm.NodeID}}'
