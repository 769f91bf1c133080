#!/bin/sh
# shellcheck shell=sh
# On a manager: waits until node NODE_ID is Ready, then sets its LABELS (key=value lines).
: "${NODE_ID:?}" "${TIMEOUT:?}"
LABELS=${LABELS:-}
is_ready() { [ "$(docker node inspect --format '{{.Status.State}}' "$NODE_ID" 2>/dev/null)" = ready ]; }
wait_until "$TIMEOUT" "node $NODE_ID did not become Ready within ${TIMEOUT}s" is_ready
set -f
set --
old_ifs=$IFS
IFS='
'
for label in $LABELS; do set -- "$@" --label-add "$label"; done
IFS=$old_ifs
if [ "$#" -gt 0 ]; then docker node update "$@" "$NODE_ID" >/dev/null; fi
