#!/bin/sh
# shellcheck shell=sh
# Removes the network NETWORK if it exists.
: "${NETWORK:?}"
if docker network inspect "$NETWORK" >/dev/null 2>&1; then docker network rm "$NETWORK" >/dev/null; fi
