#!/bin/sh
# Starts the gateway's haproxy and, once it can route (it has found a collector), makes it the
# gateway that the edge on this machine hands connections to: its own socket is linked over the
# shared name in one rename. A successor does the same once it can route, so the edge never meets
# a gateway that cannot; the one it replaces keeps its grace (haproxy.cfg) for what it was given.
set -eu
dir=/run/gateway
GATEWAY_SOCKET="$dir/gateway-$(hostname).sock"
export GATEWAY_SOCKET
shared="$dir/gateway.sock"

haproxy -W -db -f /etc/haproxy/gateway.cfg &
pid=$!
# The stop signal (SIGUSR1: finish what is held) and any other goes to haproxy's master.
trap 'kill -USR1 "$pid" 2>/dev/null || true' USR1 TERM INT

until curl -fsS -o /dev/null http://127.0.0.1:8083/gateway/ready 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
done
# The link's temporary name is this container's own: two tasks on one machine (a start-first
# update) both run as PID 1, so a name from the PID would be the same for both.
if kill -0 "$pid" 2>/dev/null && [ -S "$GATEWAY_SOCKET" ]; then
    ln -f "$GATEWAY_SOCKET" "$GATEWAY_SOCKET.link" && mv -f "$GATEWAY_SOCKET.link" "$shared"
fi

# `wait` returns early when a signal is trapped: wait again until haproxy has ended.
while :; do
    if wait "$pid"; then status=0; else status=$?; fi
    kill -0 "$pid" 2>/dev/null || break
done
rm -f "$GATEWAY_SOCKET"
exit "$status"
