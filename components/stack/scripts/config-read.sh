#!/bin/sh
# shellcheck shell=sh
# Swarm config NAME is there (`present`), or gone (exit 3: `docker stack rm` takes it too).
: "${NAME:?}"
docker config inspect "$NAME" >/dev/null 2>&1 || exit 3
echo present
