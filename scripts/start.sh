#!/usr/bin/env bash
# `npm start` (after setup): select or create the dev stack, then bring it up.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
cd "$here/.."
pulumi stack select dev --create --non-interactive
pulumi up --yes --stack dev --non-interactive
