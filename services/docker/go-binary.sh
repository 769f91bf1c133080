#!/usr/bin/env bash
# Builds a Go program from the Go module proxy at the version pinned in <dir>/go.mod (checked
# against <dir>/go.sum), for the target's architecture (TARGET_PLATFORM, such as linux/amd64; else
# this machine's), and copies it to <out>. Built once per version, go.sum and architecture, then
# cached in SWARM_TOOLS_CACHE (default ~/.cache/swarm-tools). The go on PATH builds it when it is
# at least the go.mod's version; else the Go toolchain pinned below is fetched from the module proxy
# (checked against its SHA-256) and cached.
# Usage: go-binary.sh <dir> <module> <package> <name> <out>   (GO_TAGS, GO_LDFLAGS: added to the build)
set -euo pipefail
[ $# -eq 5 ] || { echo "usage: go-binary.sh <dir> <module> <package> <name> <out>" >&2; exit 2; }
dir=$(cd "$1" && pwd) module=$2 package=$3 name=$4 out=$5
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
say() { printf '%s: %s\n' "$name" "$*" >&2; }

version=$(awk -v m="$module" '($1 == "require" && $2 == m) || $1 == m { print ($1 == "require" ? $3 : $2); exit }' "$dir/go.mod")
[ -n "$version" ] || { say "$module is not required in $dir/go.mod"; exit 1; }
needs_go=$(awk '$1 == "go" { print $2; exit }' "$dir/go.mod")
case "${TARGET_PLATFORM:-}" in
    */amd64) arch=amd64 ;;
    */arm64) arch=arm64 ;;
    "") case "$(uname -m)" in x86_64) arch=amd64 ;; aarch64 | arm64) arch=arm64 ;; *) arch="" ;; esac ;;
    *) arch="" ;;
esac
[ -n "$arch" ] || { say "no build for ${TARGET_PLATFORM:-$(uname -m)}: the machines must be linux/amd64 or linux/arm64"; exit 1; }
built="$cache/$name-$version-$(sha256sum "$dir/go.sum" | cut -c1-12)-linux-$arch/$name"

# Whether go version $1 is at least $2 (both like 1.26.7).
at_least() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

if [ ! -x "$built" ]; then
    go=$(command -v go || true)
    if [ -n "$go" ] && ! at_least "$("$go" env GOVERSION | sed 's/^go//')" "$needs_go"; then
        say "the go on PATH ($("$go" env GOVERSION)) is older than the $needs_go that $module needs: using Go $go_version"
        go=""
    fi
    if [ -z "$go" ]; then
        host="$(uname -s | tr '[:upper:]' '[:lower:]')-$(uname -m | sed 's/x86_64/amd64/; s/aarch64/arm64/')"
        sum=$(go_sha256 "$host")
        [ -n "$sum" ] || { say "no Go $needs_go or later on PATH and no Go toolchain pinned for $host: install Go >= $needs_go"; exit 1; }
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
    (cd "$dir" && CGO_ENABLED=0 GOOS=linux GOARCH=$arch GOFLAGS=-mod=readonly \
        "$go" build -trimpath -tags "${GO_TAGS:-}" -ldflags "-s -w ${GO_LDFLAGS:-}" -o "$built.tmp" "$package")
    mv "$built.tmp" "$built"
fi
mkdir -p "$(dirname "$out")"
cp "$built" "$out"
