#!/bin/sh
# shellcheck shell=sh
# On a manager: waits until node NODE_ID is Ready, sets its labels (the --label-add flags given as
# arguments), then removes the Down entries this machine left behind when it left the swarm or was
# made anew and joined again (a manager's entry is demoted first). Entries are told apart by two of
# their labels: NODE_NAME_LABEL (the machine's name, NODE_NAME) and MACHINE_LABEL (the machine's
# ID, MACHINE_ID). An earlier entry of this very machine (same MACHINE_ID: it left and joined again)
# is stale even while the managers still count it up, since they notice a node that left by force
# only once its heartbeats stop: it is waited for until it is Down. A machine made anew in its
# place (another MACHINE_ID) may still be up on purpose, and is removed by its own steps.
: "${NODE_ID:?}" "${NODE_NAME:?}" "${NODE_NAME_LABEL:?}" "${MACHINE_LABEL:?}" "${TIMEOUT:?}"
MACHINE_ID=${MACHINE_ID:-}
state_of() { docker node inspect --format '{{.Status.State}}' "$1" 2>/dev/null || echo gone; }
is_ready() { [ "$(state_of "$NODE_ID")" = ready ]; }
wait_until "$TIMEOUT" "node $NODE_ID did not become Ready within ${TIMEOUT}s" is_ready
if [ "$#" -gt 0 ]; then retry docker node update "$@" "$NODE_ID" >/dev/null; fi
for id in $(docker node ls --quiet); do
    [ "$id" != "$NODE_ID" ] || continue
    entry=$(docker node inspect --format "{{index .Spec.Labels \"$NODE_NAME_LABEL\"}}|{{index .Spec.Labels \"$MACHINE_LABEL\"}}|{{.Status.State}}|{{.Spec.Role}}" "$id")
    name=${entry%%|*} rest=${entry#*|}
    machine=${rest%%|*} rest=${rest#*|}
    state=${rest%%|*} role=${rest#*|}
    if [ "$name" = "$NODE_NAME" ] && [ -n "$MACHINE_ID" ] && [ "$machine" = "$MACHINE_ID" ] && [ "$state" = ready ]; then
        deadline=$(($(date +%s) + 60))
        while [ "$(state_of "$id")" = ready ] && [ "$(date +%s)" -lt "$deadline" ]; do sleep 1; done
        state=$(state_of "$id")
        [ "$state" != ready ] || warn "the earlier entry $id of $NODE_NAME still counts as up after 60s: left in place"
    fi
    case "$name|$state|$role" in
        "$NODE_NAME|down|manager") echo "removing the stale manager entry $id of $NODE_NAME" >&2; retry docker node demote "$id" >/dev/null ;;
        "$NODE_NAME|down|worker") echo "removing the stale entry $id of $NODE_NAME" >&2 ;;
        *) continue ;;
    esac
    retry docker node rm "$id" >/dev/null
done
