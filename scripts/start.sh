#!/usr/bin/env bash
# `npm start` (after setup): select or create the dev stack (or $SWARM_STACK), then bring it up.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/env.sh
. "$here/env.sh"
cd "$here/.."
stack="${SWARM_STACK:-dev}"
pulumi stack select "$stack" --create --non-interactive
pulumi up --yes --stack "$stack" --non-interactive
