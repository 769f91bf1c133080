#!/usr/bin/env bash
# Makes .image/prometheus in the Prometheus image's build context: the server built from the Go
# module proxy at the version pinned in go.mod (see ../go-binary.sh), with Docker Swarm service
# discovery only (remove_all_sd,enable_moby_sd: the cloud ones pull in hundreds of MB) and its
# version stamped as Prometheus's own release builds do. The module has no built web UI: the
# server answers its HTTP API only.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
module=github.com/prometheus/prometheus
version=$(awk -v m="$module" '$1 == m || ($1 == "require" && $2 == m) { print ($1 == "require" ? $3 : $2); exit }' "$here/go.mod")
# Module v0.316.0 is Prometheus 3.16.0.
release=$(printf '%s' "$version" | sed -E 's/^v0\.([0-9]+)([0-9]{2})\.([0-9]+)$/\1.\2.\3/')
stamp=github.com/prometheus/common/version
export GO_TAGS=remove_all_sd,enable_moby_sd
export GO_LDFLAGS="-X $stamp.Version=$release -X $stamp.Revision=$version -X $stamp.Branch=HEAD -X $stamp.BuildUser=swarm-tools"
exec bash "$here/../go-binary.sh" "$here" "$module" "$module/cmd/prometheus" prometheus "$here/.image/prometheus"
