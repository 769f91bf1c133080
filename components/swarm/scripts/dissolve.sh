#!/bin/sh
# shellcheck shell=sh
# Tears the swarm down on manager 0 when the cluster itself is destroyed.
if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != inactive ]; then
    docker swarm leave --force >/dev/null
fi
