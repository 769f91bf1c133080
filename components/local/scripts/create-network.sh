#!/bin/sh
# shellcheck shell=sh
# Makes the bridge network NETWORK (SUBNET, GATEWAY, with the label flags given as arguments)
# unless it exists.
: "${NETWORK:?}" "${SUBNET:?}" "${GATEWAY:?}"
if docker network inspect "$NETWORK" >/dev/null 2>&1; then exit 0; fi
if ! error=$(docker network create --driver bridge --subnet "$SUBNET" --gateway "$GATEWAY" "$@" "$NETWORK" 2>&1 >/dev/null); then
    echo "$error" >&2
    case "$error" in
    *overlaps*)
        # Name the networks that hold address space, so the user can pick a free subnet.
        echo "the subnet $SUBNET overlaps a Docker network already here; networks and their subnets:" >&2
        docker network ls --quiet | xargs docker network inspect --format '  {{.Name}} {{range .IPAM.Config}}{{.Subnet}} {{end}}' >&2
        echo "choose a free one with: pulumi config set --path local.subnet <a.b.c.0/24>" >&2
        ;;
    esac
    exit 1
fi
