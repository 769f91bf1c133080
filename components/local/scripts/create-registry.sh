#!/bin/sh
# shellcheck shell=sh
# Starts the registry container NAME unless it exists, then makes sure it runs, and waits until
# it answers. The registry runs IMAGE on NETWORK at ADDRESS (where the nodes pull from), published
# on 127.0.0.1:HOST_PORT (where this machine pushes to), with the label flags given as arguments.
# Its storage is the volume STORAGE_VOLUME (labelled CACHE_LABEL=registry, not with the stack's
# labels), which the registries of every local stack share and which stays when they go: images
# pushed once are found by the next stack.
: "${NAME:?}" "${IMAGE:?}" "${NETWORK:?}" "${ADDRESS:?}" "${HOST_PORT:?}" "${STORAGE_VOLUME:?}" "${CACHE_LABEL:?}"
if ! docker container inspect "$NAME" >/dev/null 2>&1; then
    docker volume create --label "$CACHE_LABEL=registry" "$STORAGE_VOLUME" >/dev/null
    docker run --detach --name "$NAME" --hostname "$NAME" --network "$NETWORK" --ip "$ADDRESS" \
        --publish "127.0.0.1:$HOST_PORT:5000" "$@" --volume "$STORAGE_VOLUME:/var/lib/docker-registry" "$IMAGE" >/dev/null
fi
docker start "$NAME" >/dev/null
for _ in $(seq 30); do curl -fsS -o /dev/null "http://127.0.0.1:$HOST_PORT/v2/" && exit 0; sleep 1; done
fail "the registry did not answer on 127.0.0.1:$HOST_PORT"
