#!/bin/sh
# shellcheck shell=sh
# What is there now of container NAME: `running` or `stopped`; exit 3 when it is gone.
: "${NAME:?}"
running=$(docker container inspect --format '{{.State.Running}}' "$NAME" 2>/dev/null) || exit 3
if [ "$running" = true ]; then echo running; else echo stopped; fi
