#!/bin/sh
# Starts Redis for the profile store in one of three ways:
# - no REDIS_PRIMARY: one server on its own, append-only persistence in /data;
# - REDIS_ANNOUNCE and REDIS_PRIMARY (and REDIS_PRIMARY_PORT): a server of a replicated set. The
#   first start writes /data/redis.conf, as the primary when it is REDIS_PRIMARY, else as its
#   replica. Later starts keep the role Sentinel last wrote into that file, so a restarted old
#   primary does not come back as a second primary of its own accord;
# - `sentinel`, with SENTINEL_ANNOUNCE and SENTINEL_MONITOR ("<name> <host> <port> <quorum>"):
#   a Sentinel, its state in /data/sentinel.conf.
# Names are swarm service names: task addresses change, names do not. DATA_DIR, REDIS_PORT and
# SENTINEL_PORT (default /data, 6379, 26379) let the tests run it beside other servers.
set -eu
data=${DATA_DIR:-/data}

write_once() { # file: writes stdin to it unless it exists already
    if [ -s "$1" ]; then cat >/dev/null; return; fi
    cat >"$1.new" && mv "$1.new" "$1"
}

if [ "${1:-}" = sentinel ]; then
    : "${SENTINEL_ANNOUNCE:?}" "${SENTINEL_MONITOR:?}"
    name=${SENTINEL_MONITOR%% *}
    write_once "$data/sentinel.conf" <<CONF
port ${SENTINEL_PORT:-26379}
dir $data
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip $SENTINEL_ANNOUNCE
sentinel monitor $SENTINEL_MONITOR
sentinel down-after-milliseconds $name 3000
sentinel failover-timeout $name 10000
sentinel parallel-syncs $name 1
CONF
    # Sentinel 7.0 announcing names can write a replica twice into its file, and then refuses to
    # start from it. It learns the replicas from the primary again within seconds: drop them.
    sed -i '/^sentinel known-replica /d' "$data/sentinel.conf"
    exec redis-server "$data/sentinel.conf" --sentinel
fi

# One server per data directory: a server that replaces another on the same volume (as when the
# layout changes) waits until that one has let go of it. The lock stays with redis-server.
exec 9>>"$data/.lock"
flock 9

if [ -z "${REDIS_PRIMARY:-}" ]; then
    exec redis-server --port "${REDIS_PORT:-6379}" --bind 0.0.0.0 --protected-mode no --dir "$data" --appendonly yes --appendfsync everysec --daemonize no
fi

: "${REDIS_ANNOUNCE:?}"
{
    echo "port ${REDIS_PORT:-6379}"
    echo "bind 0.0.0.0"
    echo "protected-mode no"
    echo "dir $data"
    echo "appendonly yes"
    echo "appendfsync everysec"
    echo "replica-announce-ip $REDIS_ANNOUNCE"
    [ "$REDIS_ANNOUNCE" = "$REDIS_PRIMARY" ] || echo "replicaof $REDIS_PRIMARY ${REDIS_PRIMARY_PORT:-6379}"
} | write_once "$data/redis.conf"
exec redis-server "$data/redis.conf"
