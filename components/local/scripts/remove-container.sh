#!/bin/sh
# shellcheck shell=sh
# Removes the container NAME and its volume VOLUME, each if it exists.
: "${NAME:?}" "${VOLUME:?}"
if docker container inspect "$NAME" >/dev/null 2>&1; then docker rm --force --volumes "$NAME" >/dev/null; fi
if docker volume inspect "$VOLUME" >/dev/null 2>&1; then docker volume rm "$VOLUME" >/dev/null; fi
