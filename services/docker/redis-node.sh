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
#
# Credentials: REDIS_PASSWORD_FILE (a swarm secret; its first line, trimmed, as the roles read it)
# is the password of every server and Sentinel: a server's requirepass and masterauth (a replica
# authenticates to its primary), a Sentinel's requirepass, auth-pass (to reach the servers) and
# sentinel-pass (to reach the other Sentinels). Unset: no password, as before (also where an
# earlier start had one: a config change either way is one restart).
# REDIS_MAXMEMORY (such as 400mb, or bytes): the server's maxmemory, with noeviction (a full store
# refuses writes rather than dropping profiles). Unset: no limit.
# These settings reach redis-server on its standard input ("-"), read after its config file, at
# every start: never on a command line (`ps` shows those to every user of the host) nor in the
# image. The files on the volume are written once, then rewritten by Sentinel and CONFIG REWRITE,
# which copy the password into them: the lines they hold about credentials are dropped at each
# start, so that a restart with a new secret takes the new password (a Sentinel writes its
# auth-pass unquoted, which it cannot read back for some passwords; and a rewritten
# `user default` line would win over a later requirepass).
set -eu
data=${DATA_DIR:-/data}

# printf, not echo: dash's echo would turn a password's backslashes into escapes.
say() { printf '%s\n' "$*"; }
fail() { say "redis-node: $*" >&2; exit 1; }

write_once() { # file: writes stdin to it unless it exists already
    if [ -s "$1" ]; then cat >/dev/null; return; fi
    cat >"$1.new" && mv "$1.new" "$1"
}

# A value in double quotes as Redis's config parser reads it (any character, spaces included).
quote() {
    printf '"%s"' "$(printf '%s' "$1" | sed 's/[\\"]/\\&/g')"
}

# The password, read as the roles read it (src/config.ts): the first line, trimmed.
password=""
if [ -n "${REDIS_PASSWORD_FILE:-}" ]; then
    [ -r "$REDIS_PASSWORD_FILE" ] || fail "REDIS_PASSWORD_FILE=$REDIS_PASSWORD_FILE cannot be read"
    password=$(sed -n '1{s/^[[:space:]]*//;s/[[:space:]]*$//;p;}' "$REDIS_PASSWORD_FILE")
    [ -n "$password" ] || fail "REDIS_PASSWORD_FILE=$REDIS_PASSWORD_FILE: the file is empty"
fi

# Drops what an earlier start or a rewrite left in a config file about credentials (see above).
forget_credentials() {
    sed -i -e '/^requirepass /d' -e '/^masterauth /d' -e '/^user default /d' \
        -e '/^sentinel auth-pass /d' -e '/^sentinel sentinel-pass /d' "$1"
}

# Config lines every server and Sentinel gets at start. Without a password, protected mode is
# off so that the other tasks can reach it (as before); with one, protected mode stays on (it
# only ever refuses clients while the default user has no password).
access() {
    if [ -n "$password" ]; then
        say "requirepass $(quote "$password")"
        say "protected-mode yes"
    else
        say 'requirepass ""'
        say "protected-mode no"
    fi
}

# A server's further lines: masterauth, and the memory bound.
server_settings() {
    access
    if [ -n "$password" ]; then say "masterauth $(quote "$password")"; else say 'masterauth ""'; fi
    if [ -n "${REDIS_MAXMEMORY:-}" ]; then
        case $REDIS_MAXMEMORY in
            *[!0-9a-zA-Z]*) fail "REDIS_MAXMEMORY=$REDIS_MAXMEMORY: expected a size such as 400mb" ;;
        esac
        say "maxmemory $REDIS_MAXMEMORY"
        say "maxmemory-policy noeviction"
    else
        say "maxmemory 0"
    fi
    # The append-only file is the store's persistence; snapshots would keep erased profiles in a
    # dump.rdb of their own until the next one.
    say 'save ""'
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
    forget_credentials "$data/sentinel.conf"
    # auth-pass for each primary the file monitors (the names it was first written with).
    monitored=$(sed -n 's/^sentinel monitor \([^ ]*\) .*/\1/p' "$data/sentinel.conf")
    settings=$(
        access
        for m in $monitored; do
            if [ -n "$password" ]; then say "sentinel auth-pass $m $(quote "$password")"; else say "sentinel auth-pass $m \"\""; fi
        done
        if [ -n "$password" ]; then say "sentinel sentinel-pass $(quote "$password")"; else say 'sentinel sentinel-pass ""'; fi
    )
    exec redis-server "$data/sentinel.conf" --sentinel - <<CONF
$settings
CONF
fi

# One server per data directory: a server that replaces another on the same volume (as when the
# layout changes) waits until that one has let go of it. The lock stays with redis-server.
exec 9>>"$data/.lock"
flock 9

settings=$(server_settings)

if [ -z "${REDIS_PRIMARY:-}" ]; then
    # "-" (config on stdin) must be the first or the last argument.
    exec redis-server --port "${REDIS_PORT:-6379}" --bind 0.0.0.0 --dir "$data" --appendonly yes --appendfsync everysec --daemonize no - <<CONF
$settings
CONF
fi

: "${REDIS_ANNOUNCE:?}"
{
    say "port ${REDIS_PORT:-6379}"
    say "bind 0.0.0.0"
    say "dir $data"
    say "appendonly yes"
    say "appendfsync everysec"
    say "replica-announce-ip $REDIS_ANNOUNCE"
    [ "$REDIS_ANNOUNCE" = "$REDIS_PRIMARY" ] || say "replicaof $REDIS_PRIMARY ${REDIS_PRIMARY_PORT:-6379}"
} | write_once "$data/redis.conf"
forget_credentials "$data/redis.conf"
exec redis-server "$data/redis.conf" - <<CONF
$settings
CONF
