#!/bin/sh
# shellcheck shell=sh
# On a manager: removes this machine's node entries once it has left (is Down): those labelled
# with its INSTANCE, or named NODE_HOSTNAME without such a label (never admitted). An entry still
# Ready after GRACE seconds did not leave (its machine could not be reached or trusted, and is
# going away): it is removed by force. Another machine of the same name (made anew) is left alone.
: "${INSTANCE:?}" "${NODE_HOSTNAME:?}" "${GRACE:?}"
# No swarm here any more (it was dissolved): nothing to remove from.
[ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = true ] || exit 0
entries_in() {
    for id in $(docker node ls --quiet); do
        docker node inspect --format '{{.ID}}|{{index .Spec.Labels "swarm.instance"}}|{{.Description.Hostname}}|{{.Status.State}}' "$id"
    done | awk -F'|' -v i="$INSTANCE" -v h="$NODE_HOSTNAME" -v s="$1" '($2 == i || ($2 == "" && $3 == h)) && $4 == s { print $1 }'
}
deadline=$(($(date +%s) + GRACE))
while [ -n "$(entries_in ready)" ] && [ "$(date +%s)" -lt "$deadline" ]; do sleep 2; done
for id in $(entries_in ready); do
    echo "node $NODE_HOSTNAME did not leave the swarm: removing it by force" >&2
    docker node rm --force "$id" >/dev/null
done
for id in $(entries_in down); do docker node rm "$id" >/dev/null; done
