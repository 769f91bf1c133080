#!/bin/sh
# shellcheck shell=sh
# Creates the swarm config NAME from stdin, with the label flags given as arguments, unless a
# config of that name exists (configs are immutable: a new content gets a new name), on a manager
# of swarm SWARM_ID (a swarm formed again gets it again).
: "${NAME:?}" "${SWARM_ID:?}"
in_swarm "$SWARM_ID"
if docker config inspect "$NAME" >/dev/null 2>&1; then
    cat >/dev/null
    exit 0
fi
docker config create "$@" "$NAME" - >/dev/null
