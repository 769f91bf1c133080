#!/bin/sh
# shellcheck shell=sh
# On a manager: waits until node NODE_ID is Ready, then sets its labels (the --label-add flags
# given as arguments).
: "${NODE_ID:?}" "${TIMEOUT:?}"
is_ready() { [ "$(docker node inspect --format '{{.Status.State}}' "$NODE_ID" 2>/dev/null)" = ready ]; }
wait_until "$TIMEOUT" "node $NODE_ID did not become Ready within ${TIMEOUT}s" is_ready
if [ "$#" -gt 0 ]; then docker node update "$@" "$NODE_ID" >/dev/null; fi
