#!/bin/sh
# shellcheck shell=sh
# Network NETWORK is there (`present`), or gone (exit 3).
: "${NETWORK:?}"
docker network inspect "$NETWORK" >/dev/null 2>&1 || exit 3
echo present
