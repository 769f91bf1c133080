#!/bin/sh
# shellcheck shell=sh
# On a manager: removes this machine's node entries once it has left (is Down): those whose label
# MACHINE_LABEL is its MACHINE_ID, or named NODE_HOSTNAME without that label (never admitted). An
# entry still Ready after GRACE seconds did not leave (its machine could not be reached or
# trusted, and is going away): it is removed by force. Another machine of the same name (made
# anew) is left alone.
: "${MACHINE_ID:?}" "${MACHINE_LABEL:?}" "${NODE_HOSTNAME:?}" "${GRACE:?}"
# No swarm here any more (it was dissolved): nothing to remove from.
[ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = true ] || exit 0
# entries_in STATE: the IDs of this machine's entries in that state (ready, down).
entries_in() {
    for id in $(docker node ls --quiet); do
        docker node inspect --format "{{.ID}}|{{index .Spec.Labels \"$MACHINE_LABEL\"}}|{{.Description.Hostname}}|{{.Status.State}}" "$id"
    done | awk -F'|' -v machine="$MACHINE_ID" -v hostname="$NODE_HOSTNAME" -v state="$1" \
        '($2 == machine || ($2 == "" && $3 == hostname)) && $4 == state { print $1 }'
}
deadline=$(($(date +%s) + GRACE))
while [ -n "$(entries_in ready)" ] && [ "$(date +%s)" -lt "$deadline" ]; do sleep 2; done
for id in $(entries_in ready); do
    echo "node $NODE_HOSTNAME did not leave the swarm: removing it by force" >&2
    docker node rm --force "$id" >/dev/null
done
for id in $(entries_in down); do docker node rm "$id" >/dev/null; done
