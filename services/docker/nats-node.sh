#!/bin/sh
# Starts nats-server for the pipeline: the image's settings (/etc/nats/nats-server.conf: ports,
# JetStream in /data), then what this start adds from the environment, written to a config file
# in memory (NATS_RUN_DIR, default /dev/shm: not in the image, not on a volume) and given to
# nats-server with -c. Written anew at every start, so a new secret is one restart away.
# - NATS_PASSWORD_FILE (a swarm secret; its first line, trimmed, as the roles read it) and
#   NATS_USER (default pipeline): the user and password that clients must give, and that the
#   cluster's routes must give too (a container on the network can neither connect nor join as a
#   route without them). The monitor port stays open (health checks use /healthz and /varz).
#   Unset: no credentials, as before.
# - NATS_NAME: the server's name (JetStream's placement needs it to stay with the slot).
# - NATS_ROUTES ("nats-1:6222,nats-2:6222,...", its own included: the server ignores it) and
#   NATS_CLUSTER_NAME (default pipeline): a member of a cluster, listening for routes on 6222.
#   The routes carry the credentials in their URLs, which is why they are in this file, not on
#   the command line (`ps` shows those to every user of the host).
# DATA_DIR, NATS_PORT, NATS_HTTP_PORT and NATS_CLUSTER_PORT (default /data, 4222, 8222, 6222),
# NATS_BASE_CONFIG and NATS_RUN_DIR let the tests run it beside other servers. Arguments are
# passed on to nats-server, and its flags win over this file: the cluster's flags (--routes ...)
# must not be given too, or the routes would go without the credentials.
set -eu
base=${NATS_BASE_CONFIG:-/etc/nats/nats-server.conf}
run=${NATS_RUN_DIR:-/dev/shm}
conf=$run/nats-server.conf
user=${NATS_USER:-pipeline}

# printf, not echo: dash's echo would turn a password's backslashes into escapes.
say() { printf '%s\n' "$*"; }
fail() { say "nats-node: $*" >&2; exit 1; }

# A string in double quotes as nats-server's config parser reads it.
quote() {
    printf '"%s"' "$(printf '%s' "$1" | sed 's/[\\"]/\\&/g')"
}

# Every byte percent-encoded: a user or password of any characters inside a route's URL.
urlencode() {
    printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n' | sed 's/../%&/g'
}

password=""
if [ -n "${NATS_PASSWORD_FILE:-}" ]; then
    [ -r "$NATS_PASSWORD_FILE" ] || fail "NATS_PASSWORD_FILE=$NATS_PASSWORD_FILE cannot be read"
    password=$(sed -n '1{s/^[[:space:]]*//;s/[[:space:]]*$//;p;}' "$NATS_PASSWORD_FILE")
    [ -n "$password" ] || fail "NATS_PASSWORD_FILE=$NATS_PASSWORD_FILE: the file is empty"
    # nats-server takes a password that starts so for a bcrypt hash, and would accept no client.
    # shellcheck disable=SC2016 # the dollars are the hash's, not variables
    case $password in '$2a$'* | '$2b$'* | '$2x$'* | '$2y$'*) fail "NATS_PASSWORD_FILE: a password must not start like a bcrypt hash (\$2a\$...)" ;; esac
fi

credentials() {
    say "  authorization {"
    say "    user: $(quote "$user")"
    say "    password: $(quote "$password")"
    say "  }"
}

# The file holds the password: readable by this user only, replaced whole (a server reloading
# it never reads half of one).
umask 077
mkdir -p "$run"
{
    say "# Written by nats-node at start: the image's settings, then this start's."
    if [ -r "$base" ]; then cat "$base"; echo; fi
    [ -z "${NATS_PORT:-}" ] || say "port: $NATS_PORT"
    [ -z "${NATS_HTTP_PORT:-}" ] || say "http_port: $NATS_HTTP_PORT"
    [ -z "${DATA_DIR:-}" ] || say "jetstream { store_dir: $(quote "$DATA_DIR") }"
    [ -z "${NATS_NAME:-}" ] || say "server_name: $(quote "$NATS_NAME")"
    if [ -n "$password" ]; then
        say "# Clients"
        credentials | sed 's/^  //'
    fi
    if [ -n "${NATS_ROUTES:-}" ]; then
        say "cluster {"
        say "  name: $(quote "${NATS_CLUSTER_NAME:-pipeline}")"
        say "  listen: $(quote "0.0.0.0:${NATS_CLUSTER_PORT:-6222}")"
        # Routes that connect here must give the credentials...
        [ -z "$password" ] || credentials
        # ...and so do the ones this server opens.
        userinfo=""
        [ -z "$password" ] || userinfo="$(urlencode "$user"):$(urlencode "$password")@"
        say "  routes: ["
        for route in $(printf '%s' "$NATS_ROUTES" | tr ',' ' '); do
            say "    $(quote "nats://$userinfo${route#*://}")"
        done
        say "  ]"
        say "}"
    fi
} >"$conf.new"
mv "$conf.new" "$conf"
exec nats-server -c "$conf" "$@"
