#!/bin/sh
# shellcheck shell=sh
# Removes the swarm KIND (config or secret) NAME if it exists.
: "${KIND:?}" "${NAME:?}"
# No swarm here any more (it was dissolved): the stack went with it.
[ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = true ] || exit 0
if docker "$KIND" inspect "$NAME" >/dev/null 2>&1; then docker "$KIND" rm "$NAME" >/dev/null; fi
