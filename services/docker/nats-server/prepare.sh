#!/usr/bin/env bash
# Makes .image/nats-server in the NATS image's build context: nats-server built from the Go module
# proxy at the version pinned in go.mod (see ../go-binary.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec bash "$here/../go-binary.sh" "$here" github.com/nats-io/nats-server/v2 github.com/nats-io/nats-server/v2 nats-server "$here/../.image/nats-server"
