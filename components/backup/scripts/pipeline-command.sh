#!/bin/sh
# shellcheck shell=sh
# Runs one of the pipeline's commands (backup, restore) in a running profile-api task on this
# machine: its environment has the stores' addresses and credentials. Its stdin and stdout are
# this script's; exit 5 when no such task runs here (the caller tries another machine).
set -eu
service="${STACK}_profile-api"
container=$(docker ps --quiet --filter "label=${SERVICE_NAME_LABEL}=${service}" --filter status=running | head -n 1)
if [ -z "$container" ]; then
    echo "no running $service task on this machine" >&2
    exit 5
fi
echo "running $COMMAND in the task $container of $service" >&2
exec docker exec -i "$container" node dist/main.js "$COMMAND"
