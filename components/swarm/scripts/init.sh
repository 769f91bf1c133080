#!/bin/sh
# shellcheck shell=sh
# Makes manager 0 the first manager, unless it already is one. Prints its node ID.
: "${ADVERTISE_ADDRESS:?}"
state=$(docker info --format '{{.Swarm.LocalNodeState}}')
if [ "$state" = active ]; then
    if [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" != true ]; then
        fail "$(hostname) is already in a swarm as a worker: make it leave (docker swarm leave) or choose another manager 0"
    fi
else
    docker swarm init --advertise-addr "$ADVERTISE_ADDRESS" --listen-addr "$ADVERTISE_ADDRESS:2377" >/dev/null
fi
docker info --format '{{.Swarm.NodeID}}'
