#!/usr/bin/env bash
# Makes .image/nats-server in the NATS image's build context: nats-server built from the Go module
# proxy at the version pinned in go.mod, for the target's architecture (TARGET_PLATFORM, such as
# linux/amd64; else this machine's). Built once per version and architecture, then cached in
# SWARM_TOOLS_CACHE (default ~/.cache/swarm-tools). The go on PATH builds it; without one, the Go
# toolchain pinned below is fetched from the module proxy (checked against its SHA-256) and cached.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache="${SWARM_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/swarm-tools}"
go_version=1.26.8
go_sha256() {
    case "$1" in
        linux-amd64) echo 30c2b1bf7dcc88d3eb0a1364e47ddd9128edb3110a30e8a0ef61cd5856b31de7 ;;
        linux-arm64) echo 02b36b6787b3ac767668f630e2998df45a3b1f9ffee08d1bf3ef6487cd658d99 ;;
        darwin-amd64) echo fe99a2009e5bb51e06d7784f1a486478673512041c2671157bd382806e2aedcf ;;
        darwin-arm64) echo 0aad5fb52b88498885290178adc0bcfe429bc63012621af9f83282eb640bd9c7 ;;
    esac
}
say() { printf 'nats-server: %s\n' "$*" >&2; }

version=$(awk '$1 == "require" && $2 == "github.com/nats-io/nats-server/v2" { print $3 }' "$here/go.mod")
case "${TARGET_PLATFORM:-}" in
    */amd64) arch=amd64 ;;
    */arm64) arch=arm64 ;;
    "") case "$(uname -m)" in x86_64) arch=amd64 ;; aarch64 | arm64) arch=arm64 ;; *) arch="" ;; esac ;;
    *) arch="" ;;
esac
[ -n "$arch" ] || { say "no build for ${TARGET_PLATFORM:-$(uname -m)}: the machines must be linux/amd64 or linux/arm64"; exit 1; }
built="$cache/nats-server-$version-$(sha256sum "$here/go.sum" | cut -c1-12)-linux-$arch/nats-server"

if [ ! -x "$built" ]; then
    go=$(command -v go || true)
    if [ -z "$go" ]; then
        host="$(uname -s | tr '[:upper:]' '[:lower:]')-$(uname -m | sed 's/x86_64/amd64/; s/aarch64/arm64/')"
        sum=$(go_sha256 "$host")
        [ -n "$sum" ] || { say "no Go on PATH and no Go toolchain pinned for $host: install Go >= 1.26"; exit 1; }
        toolchain="$cache/go$go_version-$host"
        if [ ! -x "$toolchain/bin/go" ]; then
            command -v unzip >/dev/null || { say "no Go on PATH, and unzip (to unpack Go) is missing: install one of them"; exit 1; }
            proxy=$(printf '%s' "${GOPROXY:-https://proxy.golang.org}" | cut -d, -f1)
            say "fetching Go $go_version from $proxy"
            tmp=$(mktemp -d)
            trap 'rm -rf "$tmp"' EXIT
            curl -fsSL -o "$tmp/go.zip" "$proxy/golang.org/toolchain/@v/v0.0.1-go$go_version.$host.zip"
            echo "$sum  $tmp/go.zip" | sha256sum -c - >/dev/null || { say "the Go toolchain's SHA-256 does not match"; exit 1; }
            (cd "$tmp" && unzip -q go.zip)
            # Module zips carry no file modes.
            chmod -R +x "$tmp"/golang.org/toolchain@*/bin "$tmp"/golang.org/toolchain@*/pkg/tool
            rm -rf "$toolchain" && mkdir -p "$(dirname "$toolchain")" && mv "$tmp"/golang.org/toolchain@* "$toolchain"
        fi
        go="$toolchain/bin/go"
    fi
    say "building $version for linux/$arch with $("$go" env GOVERSION) (once; cached in $(dirname "$built"))"
    mkdir -p "$(dirname "$built")"
    (cd "$here" && CGO_ENABLED=0 GOOS=linux GOARCH=$arch GOFLAGS=-mod=readonly \
        "$go" build -trimpath -ldflags "-s -w" -o "$built.tmp" github.com/nats-io/nats-server/v2)
    mv "$built.tmp" "$built"
fi
mkdir -p "$here/../.image"
cp "$built" "$here/../.image/nats-server"
