#!/bin/sh
# shellcheck shell=sh
# Makes the base image TAG present on this machine's engine; prints TAG. With OFFLINE_SCRIPT (the
# project's scripts/build-base-image.sh, for the default base) that script makes it: pulled, or
# built offline where no registry can be reached, under a machine-wide lock. Without, it is
# pulled when missing.
: "${TAG:?}"
OFFLINE_SCRIPT=${OFFLINE_SCRIPT:-}
if [ -n "$OFFLINE_SCRIPT" ]; then
    bash "$OFFLINE_SCRIPT" "$TAG" >&2
else
    docker image inspect "$TAG" >/dev/null 2>&1 || docker pull "$TAG" >&2
fi
echo "$TAG"
