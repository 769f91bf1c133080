#!/bin/sh
# shellcheck shell=sh
# Waits until the machine's Docker engine answers this login; prints the machine's hostname.
: "${TIMEOUT:?}"
wait_for_docker "$TIMEOUT"
hostname
