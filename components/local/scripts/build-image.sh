#!/bin/sh
# shellcheck shell=sh
# Builds image TAG from the context CONTEXT_DIR on BASE_IMAGE (present on this machine's engine),
# unless an image with that tag exists (the tag follows the content of the context).
: "${TAG:?}" "${CONTEXT_DIR:?}" "${BASE_IMAGE:?}"
if docker image inspect "$TAG" >/dev/null 2>&1; then exit 0; fi
docker build --quiet --build-arg BASE_IMAGE="$BASE_IMAGE" --tag "$TAG" "$CONTEXT_DIR" >&2
