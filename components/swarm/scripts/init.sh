#!/bin/sh
# shellcheck shell=sh
# Makes manager 0 a manager, unless it already is one: it joins the swarm of the other managers
# when they have one (stdin: `TOKEN ADDRESS` lines from peer.sh; manager 0 was made anew), and
# forms the swarm otherwise. Prints its node ID. MACHINE_ID is the machine's ID: only there so
# that a machine made anew runs this again. FORMED_BEFORE=true on such a run (init ran before, on
# an earlier machine): forming a swarm then means the old one is lost.
: "${ADVERTISE_ADDRESS:?}" "${MACHINE_ID:?}" "${FORMED_BEFORE:?}"
# ADDRESS_POOL: where the overlay networks take their /24 subnets (empty: Docker's 10.0.0.0/8);
# set when the swarm is formed, never changed after.
ADDRESS_POOL=${ADDRESS_POOL:-}
peers=$(cat)
state=$(docker info --format '{{.Swarm.LocalNodeState}}')
if [ "$state" = active ]; then
    if [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" != true ]; then
        fail "$(hostname) is already in a swarm as a worker: make it leave (docker swarm leave) or choose another manager 0"
    fi
elif [ -n "$peers" ]; then
    token=$(printf '%s\n' "$peers" | awk 'NR == 1 { print $1 }')
    joined=false
    swarm_active() { [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = active ]; }
    for address in $(printf '%s\n' "$peers" | awk '{ print $2 }'); do
        if docker swarm join --token "$token" --advertise-addr "$ADVERTISE_ADDRESS" --listen-addr "$ADVERTISE_ADDRESS:2377" "$address:2377" >/dev/null; then
            echo "$(hostname) joined the swarm of the manager at $address again" >&2
            joined=true
            break
        fi
        # A join that timed out (a busy swarm) goes on in the background: it is waited for, as
        # another join would be refused ("already part of a swarm").
        if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = pending ]; then
            wait_until 300 "$(hostname) did not finish joining the swarm of the manager at $address within 300s" swarm_active
            echo "$(hostname) joined the swarm of the manager at $address again" >&2
            joined=true
            break
        fi
    done
    [ "$joined" = true ] || fail "the other managers have a swarm, and $(hostname) could not join it at any of $(printf '%s\n' "$peers" | awk '{ print $2 }' | tr '\n' ' ')"
else
    if [ "$FORMED_BEFORE" = true ]; then
        # With a single manager, a manager 0 made anew (its disk lost) means the swarm is gone.
        warn "$(hostname) is in no swarm and no other manager has one: the swarm was lost with its managers' disks, and is formed again (the workers join it, the stacks are deployed again with empty volumes)"
    fi
    if [ -n "$ADDRESS_POOL" ]; then
        set -- --default-addr-pool "$ADDRESS_POOL" --default-addr-pool-mask-length 24
    fi
    docker swarm init --advertise-addr "$ADVERTISE_ADDRESS" --listen-addr "$ADVERTISE_ADDRESS:2377" "$@" >/dev/null
fi
docker info --format '{{.Swarm.NodeID}}'
