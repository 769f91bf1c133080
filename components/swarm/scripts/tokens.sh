#!/bin/sh
# shellcheck shell=sh
# On manager 0 (node NODE_ID): prints the join tokens and the swarm's ID as JSON, for a secret output.
: "${NODE_ID:?}"
[ "$(docker info --format '{{.Swarm.NodeID}}')" = "$NODE_ID" ] || fail "$(hostname) is not node $NODE_ID, manager 0 of this swarm"
printf '{"worker":"%s","manager":"%s","swarm":"%s"}' "$(docker swarm join-token -q worker)" "$(docker swarm join-token -q manager)" "$(docker info --format '{{.Swarm.Cluster.ID}}')"
