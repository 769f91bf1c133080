#!/bin/sh
# shellcheck shell=sh
# Creates the swarm KIND (config or secret) NAME from stdin, with the label flags given as
# arguments, unless one of that name exists (they are immutable: a new content gets a new name),
# on a manager of swarm SWARM_ID (a swarm formed again gets it again).
: "${KIND:?}" "${NAME:?}" "${SWARM_ID:?}"
in_swarm "$SWARM_ID"
if docker "$KIND" inspect "$NAME" >/dev/null 2>&1; then
    cat >/dev/null
    exit 0
fi
docker "$KIND" create "$@" "$NAME" - >/dev/null
