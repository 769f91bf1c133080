#!/bin/sh
# shellcheck shell=sh
# On a manager: removes this machine's node entries once it has left (is Down): those whose label
# MACHINE_LABEL is its MACHINE_ID, or named NODE_HOSTNAME without that label (never admitted). An
# entry not Down after GRACE seconds (still Ready: its machine could not be reached or trusted,
# and is going away; or Unknown: a new leader has not heard from it since it took over, which it
# never will once the machine left) is removed by force. Another machine of the same name (made
# anew) is left alone.
: "${MACHINE_ID:?}" "${MACHINE_LABEL:?}" "${NODE_HOSTNAME:?}" "${GRACE:?}"
# No swarm here any more (it was dissolved): nothing to remove from.
[ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = true ] || exit 0
# entries_in down|up: the IDs of this machine's entries that are Down, or in any other state.
entries_in() {
    for id in $(docker node ls --quiet); do
        docker node inspect --format "{{.ID}}|{{index .Spec.Labels \"$MACHINE_LABEL\"}}|{{.Description.Hostname}}|{{.Status.State}}" "$id"
    done | awk -F'|' -v machine="$MACHINE_ID" -v hostname="$NODE_HOSTNAME" -v want="$1" \
        '($2 == machine || ($2 == "" && $3 == hostname)) && (($4 == "down") == (want == "down")) { print $1 }'
}
deadline=$(($(date +%s) + GRACE))
while [ -n "$(entries_in up)" ] && [ "$(date +%s)" -lt "$deadline" ]; do sleep 2; done
for id in $(entries_in up); do
    echo "node $NODE_HOSTNAME did not leave the swarm ($(docker node inspect --format '{{.Status.State}}' "$id" 2>/dev/null)): removing it by force" >&2
    docker node rm --force "$id" >/dev/null
done
for id in $(entries_in down); do docker node rm "$id" >/dev/null; done
