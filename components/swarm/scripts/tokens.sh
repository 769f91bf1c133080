#!/bin/sh
# shellcheck shell=sh
# Prints the join tokens as JSON, for a secret output.
printf '{"worker":"%s","manager":"%s"}' "$(docker swarm join-token -q worker)" "$(docker swarm join-token -q manager)"
