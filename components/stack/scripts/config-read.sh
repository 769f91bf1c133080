#!/bin/sh
# shellcheck shell=sh
# Swarm KIND (config or secret) NAME is there (`present`), or gone (exit 3: `docker stack rm`
# takes it too).
: "${KIND:?}" "${NAME:?}"
docker "$KIND" inspect "$NAME" >/dev/null 2>&1 || exit 3
echo present
