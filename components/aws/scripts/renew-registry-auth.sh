#!/bin/sh
# shellcheck shell=sh
# Renews the registry login the swarm's services pull with, on the leader only (every machine has
# the timer; the leader moves). Swarm agents pull only with the credentials a service was last
# deployed or updated with, and ECR's last 12 hours; this manager's ECR credential helper (the
# instance role) gives fresh ones, so rescheduled tasks and new machines can always pull.
set -eu
[ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = true ] || exit 0
[ "$(docker node inspect self --format '{{.ManagerStatus.Leader}}')" = true ] || exit 0
# One service that cannot be updated (being removed, say) does not stop the others; each that
# failed is named, and the run fails so the timer's log shows it.
failed=''
for service in $(docker service ls --quiet); do
    docker service update --detach --quiet --with-registry-auth "$service" >/dev/null || failed="$failed $(docker service inspect --format '{{.Spec.Name}}' "$service" 2>/dev/null || echo "$service")"
done
[ -z "$failed" ] || { echo "the registry login was not renewed for:$failed" >&2; exit 1; }
