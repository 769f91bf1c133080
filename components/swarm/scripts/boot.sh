#!/bin/sh
# shellcheck shell=sh
# Waits until cloud-init has finished (cloud VMs install Docker and add the login user to the
# docker group from it). Its own session: the next command logs in anew, with the new groups.
# Exit 2 is "done, with recoverable errors" (cloud-init 23.4 and later): the readiness check that
# follows tells whether Docker works.
: "${TIMEOUT:?}"
command -v cloud-init >/dev/null 2>&1 || exit 0
status=0
timeout "$TIMEOUT" cloud-init status --wait >/dev/null || status=$?
case "$status" in
    0) ;;
    2) echo "cloud-init finished with recoverable errors (see /var/log/cloud-init.log): checking Docker anyway" >&2 ;;
    124) fail "cloud-init did not finish within ${TIMEOUT}s" ;;
    *) fail "cloud-init failed (status $status): see /var/log/cloud-init-output.log" ;;
esac
