# shellcheck shell=bash
# Environment for the project's Pulumi CLI: source it (`. scripts/env.sh`) to use plain `pulumi`.
# Puts the tools made by `npm run setup` first on PATH, uses the project's local state backend and
# the dev passphrase file unless you chose a backend or a passphrase yourself.
swarm_root=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)
export PATH="$swarm_root/.tools/bin:$swarm_root/node_modules/.bin:$PATH"
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$swarm_root/.pulumi-state}"
if [ -z "${PULUMI_CONFIG_PASSPHRASE+set}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ] \
    && [ -f "$swarm_root/.pulumi-state/passphrase" ]; then
    export PULUMI_CONFIG_PASSPHRASE_FILE="$swarm_root/.pulumi-state/passphrase"
fi
export PULUMI_SKIP_UPDATE_CHECK="${PULUMI_SKIP_UPDATE_CHECK:-true}"
# The program is type-checked by `npm test` (tsc); type-checking it again on every preview and up
# took about 11 of a no-op preview's 17 s.
export PULUMI_NODEJS_TRANSPILE_ONLY="${PULUMI_NODEJS_TRANSPILE_ONLY:-true}"
unset swarm_root
