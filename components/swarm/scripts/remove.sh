#!/bin/sh
# shellcheck shell=sh
# On a manager: removes the node named NODE_HOSTNAME from the node list once it has left (is Down).
# A node still Ready after GRACE seconds did not leave (its machine could not be reached or
# trusted, and is going away): it is removed by force.
: "${NODE_HOSTNAME:?}" "${GRACE:?}"
nodes_in() {
    docker node ls --format '{{.ID}} {{.Hostname}} {{.Status}}' | awk -v h="$NODE_HOSTNAME" -v s="$1" '$2 == h && tolower($3) == s { print $1 }'
}
deadline=$(($(date +%s) + GRACE))
while [ -n "$(nodes_in ready)" ] && [ "$(date +%s)" -lt "$deadline" ]; do sleep 2; done
for id in $(nodes_in ready); do
    echo "node $NODE_HOSTNAME did not leave the swarm: removing it by force" >&2
    docker node rm --force "$id" >/dev/null
done
for id in $(nodes_in down); do docker node rm "$id" >/dev/null; done
