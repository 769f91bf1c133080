#!/bin/sh
# The health check of the Redis image's servers and Sentinels: `redis-ping [port]` (default 6379)
# succeeds only when the server on this container's loopback answers PONG. With
# REDIS_PASSWORD_FILE set (as for redis-node.sh), the password goes to redis-cli through
# REDISCLI_AUTH, never on its command line (`ps` shows those to every user of the host). A bare
# `redis-cli ping` exits 0 even on a NOAUTH or LOADING answer: the answer is what counts.
set -eu
if [ -n "${REDIS_PASSWORD_FILE:-}" ]; then
    # Read as redis-node.sh and the roles read it: the first line, trimmed.
    REDISCLI_AUTH=$(sed -n '1{s/^[[:space:]]*//;s/[[:space:]]*$//;p;}' "$REDIS_PASSWORD_FILE")
    export REDISCLI_AUTH
fi
answer=$(redis-cli -h 127.0.0.1 -p "${1:-6379}" ping 2>&1) || true
[ "$answer" = PONG ] || { echo "redis-ping: $answer" >&2; exit 1; }
