#!/bin/sh
# shellcheck shell=sh
# Builds image PUSH_REF and pushes it, unless the registry has it already; prints PULL_REF, the
# image as the machines pull it. The build takes the context CONTEXT_DIR, its DOCKERFILE and
# BASE_IMAGE (present on this machine's engine), for PLATFORM when set; PREPARE, when not empty,
# is a command line run in the context first (it sees TARGET_PLATFORM). A registry that wants a
# login (LOGIN_USER set) gets its password on stdin; INSECURE=true is a plain-HTTP registry. The
# arguments are more options of `docker build` (build args, target).
: "${PUSH_REF:?}" "${PULL_REF:?}" "${CONTEXT_DIR:?}" "${DOCKERFILE:?}" "${BASE_IMAGE:?}"
PREPARE=${PREPARE:-} PLATFORM=${PLATFORM:-} LOGIN_USER=${LOGIN_USER:-} INSECURE=${INSECURE:-false}
registry=${PUSH_REF%%/*}
if [ -n "$LOGIN_USER" ]; then
    docker login --username "$LOGIN_USER" --password-stdin "$registry" >/dev/null
fi
# Tags are content hashes and never pushed twice (registries may refuse it: immutable tags).
if [ "$INSECURE" = true ]; then
    path=${PUSH_REF#*/}
    manifest="http://$registry/v2/${path%:*}/manifests/${path##*:}"
    pushed() { curl -fsS -o /dev/null -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "$manifest"; }
else
    pushed() { docker manifest inspect "$PUSH_REF" >/dev/null 2>&1; }
fi
if pushed; then
    echo "$PULL_REF"
    exit 0
fi
if [ -n "$PREPARE" ]; then (cd "$CONTEXT_DIR" && TARGET_PLATFORM=$PLATFORM sh -eu -c "$PREPARE"); fi
set -- "$@" --build-arg BASE_IMAGE="$BASE_IMAGE" --file "$DOCKERFILE" --tag "$PUSH_REF"
if [ -n "$PLATFORM" ]; then set -- "$@" --platform "$PLATFORM"; fi
# The build's output goes to a file, its current step to progress every 2 s, and its end to
# stderr when it fails.
build_log=$(mktemp)
trap 'rm -f "$build_log"' EXIT
image=${PUSH_REF##*/}
progress "building $image"
docker build "$@" "$CONTEXT_DIR" >"$build_log" 2>&1 &
build=$!
told=''
while kill -0 "$build" 2>/dev/null; do
    sleep 2
    step=$(grep -E '^(Step [0-9]+/[0-9]+ :|#[0-9]+ \[)' "$build_log" | tail -n 1 | cut -c1-120) || true
    if [ -n "$step" ] && [ "$step" != "$told" ]; then
        told=$step
        progress "building $image: $step"
    fi
done
if ! wait "$build"; then
    tail -n 40 "$build_log" >&2
    fail "the build of $PUSH_REF failed"
fi
progress "pushing $image"
docker push "$PUSH_REF" >/dev/null
echo "$PULL_REF"
