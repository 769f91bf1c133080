#!/bin/sh
# shellcheck shell=sh
# Removes the swarm config NAME if it exists.
: "${NAME:?}"
# No swarm here any more (it was dissolved): the stack went with it.
[ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = true ] || exit 0
if docker config inspect "$NAME" >/dev/null 2>&1; then docker config rm "$NAME" >/dev/null; fi
