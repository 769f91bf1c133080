#!/bin/sh
# shellcheck shell=sh
# Work on every machine: Swarm places a stack's tasks when it deploys them and never moves them,
# so services scheduled at once can all land on the same machines, and a machine that joins later
# gets nothing. While a machine that is ready and active runs no task of stack STACK, the next of
# its spread services (replicated, with a placement preference: the stateless ones) gets a forced
# rolling update (start-first, one task at a time, so no request fails), and the update is waited
# for (TIMEOUT seconds each). Prints each machine with its number of the stack's tasks.
: "${STACK:?}" "${TIMEOUT:?}" "${SWARM_ID:?}" "${STACK_LABEL:?}"
in_swarm "$SWARM_ID"
filter="label=$STACK_LABEL=$STACK"
# Machines that can take work: Ready and Active.
machines() { docker node ls --format '{{.Hostname}} {{.Status}} {{.Availability}}' | awk '$2 == "Ready" && $3 == "Active" { print $1 }'; }
stack_tasks() { docker node ps "$1" --filter desired-state=running --format '{{.Name}}' | grep -c "^${STACK}_" || true; }
idle() {
    for machine in $(machines); do
        [ "$(stack_tasks "$machine")" -gt 0 ] || echo "$machine"
    done
}
spread_services() {
    for id in $(docker service ls --quiet --filter "$filter"); do
        docker service inspect --format '{{if .Spec.Mode.Replicated}}{{if .Spec.TaskTemplate.Placement.Preferences}}{{.Spec.Name}}{{end}}{{end}}' "$id"
    done | sort
}
for service in $(spread_services); do
    waiting=$(idle | tr '\n' ' ')
    [ -n "$waiting" ] || break
    progress "giving $service's tasks to ${waiting% }, which run no task of $STACK"
    docker service update --force --detach --quiet "$service" >/dev/null
    wait_until "$TIMEOUT" "$service did not run all its tasks again within ${TIMEOUT}s after its tasks were moved" converged --filter "name=$service"
done
for machine in $(machines); do echo "$machine $(stack_tasks "$machine")"; done
