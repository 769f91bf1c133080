#!/bin/sh
# shellcheck shell=sh
# Makes this machine leave the swarm (it was demoted and drained before). A graceful leave can
# time out while the managers are busy (several nodes leaving at once): it is retried, then a
# node that is no longer a manager leaves by force, which is safe once it is drained. Then the
# stacks' volumes here (labelled STACK_DATA_LABEL) go: leaving removed the swarm's task
# containers, and their data belongs to a swarm this machine is no longer in.
: "${STACK_DATA_LABEL:?}"
left() { [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = inactive ]; }
leave() {
    for attempt in 1 2 3; do
        if left || docker swarm leave >/dev/null; then return 0; fi
        sleep $((attempt * 2))
    done
    if left; then return 0; fi
    if [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = true ]; then
        fail "$(hostname) is still a manager: not forcing it out of the swarm (that could break quorum)"
    fi
    echo "$(hostname): graceful leave failed; leaving by force" >&2
    docker swarm leave --force >/dev/null
}
leave
volumes=$(docker volume ls --quiet --filter "label=$STACK_DATA_LABEL")
# shellcheck disable=SC2086 # one word per volume name
if [ -n "$volumes" ] && ! docker volume rm $volumes >/dev/null; then
    warn "$(hostname): kept the stack volumes that another container still uses: $(docker volume ls --quiet --filter "label=$STACK_DATA_LABEL" | tr '\n' ' ')"
fi
