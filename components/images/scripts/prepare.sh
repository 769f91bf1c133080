#!/bin/sh
# shellcheck shell=sh
# Runs PREPARE, a command line that makes a build context ready, in that context, CONTEXT_DIR.
: "${CONTEXT_DIR:?}" "${PREPARE:?}"
cd "$CONTEXT_DIR" || exit
sh -eu -c "$PREPARE"
