#!/bin/sh
# shellcheck shell=sh
# Waits until the machine's Docker engine answers (after cloud-init, on cloud VMs that install
# Docker from it); prints the machine's hostname.
: "${TIMEOUT:?}" "${CLOUD_INIT:?}"
if [ "$CLOUD_INIT" = true ] && command -v cloud-init >/dev/null 2>&1; then
    cloud-init status --wait >/dev/null || fail "cloud-init failed: see /var/log/cloud-init-output.log"
fi
docker_answers() { docker info >/dev/null 2>&1; }
wait_until "$TIMEOUT" "the Docker engine did not answer within ${TIMEOUT}s" docker_answers
hostname
