#!/bin/sh
# shellcheck shell=sh
# Sets up the machine's logins to the stack's ECR registry: the ECR credential helper for the
# login user and root (so `docker stack deploy --with-registry-auth` on a manager gets a fresh
# token itself), and the timer that renews the swarm services' registry login. Run over SSH once
# the machine has booted, and again in place whenever it changes (a project upgrade), so none of
# it is baked into the machine's first boot: a change here makes no machine anew. Idempotent: a
# file is written only when its content differs, the timer enabled only when it is not.
: "${LOGIN_USER:?}" "${DOCKER_CONFIG_JSON:?}" "${RENEW_SCRIPT:?}" "${RENEW_SERVICE:?}" "${RENEW_TIMER:?}"

changed=''
# put PATH MODE OWNER CONTENT: writes CONTENT to PATH (as root) unless it holds it already.
put() {
    printf '%s\n' "$4" > "$staged"
    if ! sudo cmp -s "$staged" "$1" 2>/dev/null; then
        [ -d "$(dirname "$1")" ] || sudo install -d -m 0700 -o "$3" -g "$3" "$(dirname "$1")"
        sudo install -m "$2" -o "$3" -g "$3" "$staged" "$1"
        changed="$changed $1"
    fi
}
staged=$(mktemp)
trap 'rm -f "$staged"' EXIT

home=$(getent passwd "$LOGIN_USER" | cut -d: -f6)
[ -n "$home" ] || fail "no user $LOGIN_USER on this machine"
put "$home/.docker/config.json" 0600 "$LOGIN_USER" "$DOCKER_CONFIG_JSON"
put /root/.docker/config.json 0600 root "$DOCKER_CONFIG_JSON"
put /usr/local/sbin/swarm-renew-registry-auth 0755 root "$RENEW_SCRIPT"
put /etc/systemd/system/swarm-renew-registry-auth.service 0644 root "$RENEW_SERVICE"
put /etc/systemd/system/swarm-renew-registry-auth.timer 0644 root "$RENEW_TIMER"

case "$changed" in *.service* | *.timer*) sudo systemctl daemon-reload ;; esac
sudo systemctl is-enabled --quiet swarm-renew-registry-auth.timer || sudo systemctl enable swarm-renew-registry-auth.timer
case "$changed" in
    *.timer*) sudo systemctl restart swarm-renew-registry-auth.timer ;;
    *) sudo systemctl is-active --quiet swarm-renew-registry-auth.timer || sudo systemctl start swarm-renew-registry-auth.timer ;;
esac
[ -z "$changed" ] || progress "registry login set up:$changed"
