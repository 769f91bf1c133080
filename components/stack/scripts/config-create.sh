#!/bin/sh
# shellcheck shell=sh
# Creates the swarm config NAME from stdin, with LABELS (key=value lines), unless a config of that
# name exists (configs are immutable: a new content gets a new name).
: "${NAME:?}"
LABELS=${LABELS:-}
if docker config inspect "$NAME" >/dev/null 2>&1; then
    cat >/dev/null
    exit 0
fi
set -f
set --
old_ifs=$IFS
IFS='
'
for label in $LABELS; do set -- "$@" --label "$label"; done
IFS=$old_ifs
docker config create "$@" "$NAME" - >/dev/null
