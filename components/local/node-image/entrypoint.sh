#!/bin/sh
# Starts sshd (authorising SSH_AUTHORIZED_KEY for root) and then dockerd as the main process, so
# the node stops when its engine does.
set -eu
: "${SSH_AUTHORIZED_KEY:?SSH_AUTHORIZED_KEY must hold the public key that may log in}"
install -d -m 700 /root/.ssh
printf '%s\n' "$SSH_AUTHORIZED_KEY" >/root/.ssh/authorized_keys
chmod 600 /root/.ssh/authorized_keys
ssh-keygen -A >/dev/null
install -d -m 755 /run/sshd /etc/docker
if [ -n "${INSECURE_REGISTRIES:-}" ]; then
    # Registries the node pulls stack images from over plain HTTP (the local registry).
    list=$(printf '%s' "$INSECURE_REGISTRIES" | sed 's/[^,][^,]*/"&"/g')
    printf '{"insecure-registries": [%s]}\n' "$list" >/etc/docker/daemon.json
fi
/usr/sbin/sshd
exec dockerd
