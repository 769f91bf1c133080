#!/bin/sh
# shellcheck shell=sh
# Builds image PUSH_REF and pushes it, unless the registry has it already (its manifest answers at
# MANIFEST_URL); prints PULL_REF, the image as the nodes pull it. The build takes the context
# CONTEXT_DIR, its DOCKERFILE and BASE_IMAGE (present on this machine's engine); PREPARE, when not
# empty, is a command line run in the context first.
: "${MANIFEST_URL:?}" "${PUSH_REF:?}" "${PULL_REF:?}" "${CONTEXT_DIR:?}" "${DOCKERFILE:?}" "${BASE_IMAGE:?}"
PREPARE=${PREPARE:-}
if curl -fsS -o /dev/null -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "$MANIFEST_URL"; then
    echo "$PULL_REF"
    exit 0
fi
if [ -n "$PREPARE" ]; then (cd "$CONTEXT_DIR" && sh -eu -c "$PREPARE"); fi
docker build --quiet --build-arg BASE_IMAGE="$BASE_IMAGE" --file "$DOCKERFILE" --tag "$PUSH_REF" "$CONTEXT_DIR" >&2
docker push "$PUSH_REF" >&2
echo "$PULL_REF"
