#!/bin/sh
# shellcheck shell=sh
# Waits until the machine's Docker engine answers this login; prints the machine's hostname.
: "${TIMEOUT:?}"
docker_answers() { docker info >/dev/null 2>&1; }
wait_until "$TIMEOUT" "the Docker engine did not answer within ${TIMEOUT}s" docker_answers
hostname
