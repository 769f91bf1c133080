#!/bin/sh
# shellcheck shell=sh
# Makes this machine leave the swarm (it was demoted and drained before). A graceful leave can
# time out while the managers are busy (several nodes leaving at once): it is retried, then a
# node that is no longer a manager leaves by force, which is safe once it is drained.
left() { [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = inactive ]; }
for attempt in 1 2 3; do
    if left || docker swarm leave >/dev/null; then exit 0; fi
    sleep $((attempt * 2))
done
if left; then exit 0; fi
if [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = true ]; then
    fail "$(hostname) is still a manager: not forcing it out of the swarm (that could break quorum)"
fi
echo "$(hostname): graceful leave failed; leaving by force" >&2
docker swarm leave --force >/dev/null
