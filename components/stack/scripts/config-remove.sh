#!/bin/sh
# shellcheck shell=sh
# Removes the swarm config NAME if it exists.
: "${NAME:?}"
if docker config inspect "$NAME" >/dev/null 2>&1; then docker config rm "$NAME" >/dev/null; fi
