#!/bin/sh
# shellcheck shell=sh
# This machine's swarm membership: its state and node ID (`active <id>` while it is a member).
docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.NodeID}}'
