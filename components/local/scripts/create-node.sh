#!/bin/sh
# shellcheck shell=sh
# Starts the node container NAME unless it exists, then makes sure it runs; prints NAME. The node
# runs IMAGE on NETWORK at ADDRESS, with SSH published on 127.0.0.1:SSH_PORT, the label flags
# given as arguments on it and its volume VOLUME, its engine's data on that volume, and
# SSH_AUTHORIZED_KEY and INSECURE_REGISTRIES from this script's environment.
# PRIVILEGED says how it may run dockerd: always (--privileged), never (with CAPABILITY_FLAGS, the
# words of further `docker run` flags, instead) or auto (--privileged, and CAPABILITY_FLAGS where
# the engine refuses it: engines that may not grant every capability, in nested VMs or rootless).
: "${NAME:?}" "${IMAGE:?}" "${NETWORK:?}" "${ADDRESS:?}" "${SSH_PORT:?}" "${VOLUME:?}" "${PRIVILEGED:?}" "${CAPABILITY_FLAGS:?}"
case "$PRIVILEGED" in
    auto | always | never) ;;
    *) fail "PRIVILEGED is $PRIVILEGED: not one of auto, always, never" ;;
esac
set -f
# run_container FLAG...: runs the container, with FLAG... after its own flags.
run_container() {
    docker run --detach --name "$NAME" --hostname "$NAME" --network "$NETWORK" --ip "$ADDRESS" \
        --publish "127.0.0.1:$SSH_PORT:22" "$@" "$IMAGE" >/dev/null
}
# run_with_capabilities FLAG...: run_container with FLAG... and the capability flags.
run_with_capabilities() {
    for flag in $CAPABILITY_FLAGS; do set -- "$@" "$flag"; done
    run_container "$@"
}
if ! docker container inspect "$NAME" >/dev/null 2>&1; then
    # A machine made anew starts with an empty disk: no swarm state of a machine that was removed.
    if docker volume inspect "$VOLUME" >/dev/null 2>&1; then docker volume rm "$VOLUME" >/dev/null; fi
    docker volume create "$@" "$VOLUME" >/dev/null
    set -- "$@" --volume "$VOLUME:/var/lib/docker" --env SSH_AUTHORIZED_KEY --env INSECURE_REGISTRIES
    case "$PRIVILEGED" in
        always) run_container "$@" --privileged ;;
        never) run_with_capabilities "$@" ;;
        auto)
            if ! out=$(run_container "$@" --privileged 2>&1); then
                docker rm --force "$NAME" >/dev/null 2>&1 || true
                echo "--privileged refused ($out): using the capability set" >&2
                run_with_capabilities "$@"
            fi
            ;;
    esac
fi
docker start "$NAME" >/dev/null
echo "$NAME"
