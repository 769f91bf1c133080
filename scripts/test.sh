#!/usr/bin/env bash
# `npm test`: type-check, lint, the program's unit and end-to-end tests, then the pipeline's tests,
# all on the project's Node.js (scripts/env.sh).
set -euo pipefail
# shellcheck source=scripts/env.sh
. "$(dirname "$0")/env.sh"
cd "$(dirname "$0")/.."
tsc --noEmit -p .
eslint .
node --import tsx test/remove-stale.ts
node --import tsx --test --test-concurrency=1 test/unit/*.test.ts test/e2e/*.test.ts
npm --prefix services test
