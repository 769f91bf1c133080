#!/bin/sh
# shellcheck shell=sh
# On a manager: waits until node NODE_ID is Ready, sets its labels (the --label-add flags given as
# arguments), then removes the Down entries this machine (NODE_NAME, label swarm.node) left behind
# when it left the swarm or was made anew and joined again (a manager's entry is demoted first).
: "${NODE_ID:?}" "${NODE_NAME:?}" "${TIMEOUT:?}"
is_ready() { [ "$(docker node inspect --format '{{.Status.State}}' "$NODE_ID" 2>/dev/null)" = ready ]; }
wait_until "$TIMEOUT" "node $NODE_ID did not become Ready within ${TIMEOUT}s" is_ready
if [ "$#" -gt 0 ]; then retry docker node update "$@" "$NODE_ID" >/dev/null; fi
for id in $(docker node ls --quiet); do
    [ "$id" != "$NODE_ID" ] || continue
    entry=$(docker node inspect --format '{{index .Spec.Labels "swarm.node"}}|{{.Status.State}}|{{.Spec.Role}}' "$id")
    case "$entry" in
        "$NODE_NAME|down|manager") echo "removing the stale manager entry $id of $NODE_NAME" >&2; retry docker node demote "$id" >/dev/null ;;
        "$NODE_NAME|down|worker") echo "removing the stale entry $id of $NODE_NAME" >&2 ;;
        *) continue ;;
    esac
    retry docker node rm "$id" >/dev/null
done
