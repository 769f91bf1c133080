#!/usr/bin/env bash
# Runs a command with the project's environment (scripts/env.sh): the Node.js, Pulumi CLI and
# state backend that `npm run setup` provided. The npm scripts go through it, so they run on the
# project's Node.js whatever Node started npm.
set -euo pipefail
# shellcheck source=scripts/env.sh
. "$(dirname "$0")/env.sh"
exec "$@"
