#!/bin/sh
# shellcheck shell=sh
# Joins this machine to the swarm of the manager at MANAGER_ADDRESS, with the join token read
# from stdin. A machine already in a swarm is left as it is, unless REQUIRED_MANAGER_ID (a node ID)
# is given and not among the managers that swarm has: the swarm is gone (its only manager was made
# anew and formed another one), so the machine leaves it and joins. A failed join fails (never a
# new init). Prints the node ID.
: "${MANAGER_ADDRESS:?}" "${TIMEOUT:?}"
REQUIRED_MANAGER_ID=${REQUIRED_MANAGER_ID:-}
token=$(cat)
# Run again on a machine that was just started (up after a refresh), its engine may still be starting.
wait_for_docker "$TIMEOUT"
local_state() { docker info --format '{{.Swarm.LocalNodeState}}'; }
is_active() { [ "$(local_state)" = active ]; }
if [ -n "$REQUIRED_MANAGER_ID" ] && is_active; then
    case " $(docker info --format '{{range .Swarm.RemoteManagers}}{{.NodeID}} {{end}}') " in
        *" $REQUIRED_MANAGER_ID "*) ;;
        *)
            echo "$(hostname) is in a swarm whose manager is gone: leaving it to join the new one" >&2
            docker swarm leave --force >/dev/null
            ;;
    esac
fi
case "$(local_state)" in
    active) ;;
    pending) wait_until "$TIMEOUT" "the node stays pending: it cannot reach the managers" is_active ;;
    *) docker swarm join --token "$token" "$MANAGER_ADDRESS:2377" >/dev/null ;;
esac
docker info --format '{{.Swarm.NodeID}}'
