#!/bin/sh
# shellcheck shell=sh
# Makes the bridge network NETWORK (SUBNET, GATEWAY, with the label flags given as arguments)
# unless it exists.
: "${NETWORK:?}" "${SUBNET:?}" "${GATEWAY:?}"
if docker network inspect "$NETWORK" >/dev/null 2>&1; then exit 0; fi
docker network create --driver bridge --subnet "$SUBNET" --gateway "$GATEWAY" "$@" "$NETWORK" >/dev/null
