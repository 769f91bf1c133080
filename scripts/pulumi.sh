#!/usr/bin/env bash
# `npm run pulumi -- <args>`: the project's Pulumi CLI with its backend and PATH.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/env.sh
. "$here/env.sh"
if ! command -v pulumi >/dev/null 2>&1; then
    echo "error: no Pulumi CLI found: run 'npm run setup' first" >&2
    exit 1
fi
exec pulumi "$@"
