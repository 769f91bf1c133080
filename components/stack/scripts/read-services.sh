#!/bin/sh
# shellcheck shell=sh
# The services of stack STACK as deployed: name, desired replicas (or `global`) and image, one line
# each, sorted; nothing when the stack is gone. STACK_LABEL: the label Docker gives a stack's
# objects (com.docker.stack.namespace).
: "${STACK:?}" "${STACK_LABEL:?}"
for id in $(docker service ls --quiet --filter "label=$STACK_LABEL=$STACK"); do
    docker service inspect --format '{{.Spec.Name}} {{if .Spec.Mode.Replicated}}{{.Spec.Mode.Replicated.Replicas}}{{else}}global{{end}} {{.Spec.TaskTemplate.ContainerSpec.Image}}' "$id"
done | sort
