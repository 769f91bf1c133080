#!/bin/sh
# shellcheck shell=sh
# Makes the bridge network NETWORK (SUBNET, GATEWAY, with the LABELS: key=value lines) unless it
# exists.
: "${NETWORK:?}" "${SUBNET:?}" "${GATEWAY:?}"
LABELS=${LABELS:-}
if docker network inspect "$NETWORK" >/dev/null 2>&1; then exit 0; fi
set -f
set --
old_ifs=$IFS
IFS='
'
for label in $LABELS; do set -- "$@" --label "$label"; done
IFS=$old_ifs
docker network create --driver bridge --subnet "$SUBNET" --gateway "$GATEWAY" "$@" "$NETWORK" >/dev/null
