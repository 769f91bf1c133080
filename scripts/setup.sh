#!/usr/bin/env bash
# `npm run setup`: makes the toolchain available. Idempotent: re-running it only checks.
#
#   1. npm dependencies (npm ci when node_modules is missing or stale)
#   2. a running Docker engine (reused; else, as root on Debian, docker.io installed and started)
#   3. the Pulumi CLI and the Node.js language host, at the versions pinned in tools/:
#      already on PATH -> the official installer -> built from the Go module proxy.
#      Built or installed binaries are cached outside the clone, keyed by version.
#   4. Pulumi's dynamic-provider plugin launcher, when the CLI did not bring one
#   5. the local state backend (.pulumi-state/) and the dev stack's passphrase file
#
# Environment: SWARM_TOOLS_CACHE (default ~/.cache/swarm-tools) is where binaries are cached.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tools_bin="$root/.tools/bin"
cache="${SWARM_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/swarm-tools}"
mkdir -p "$tools_bin" "$cache"

setup_start=$(date +%s.%N)
step() {
    step_name=$1
    step_start=$(date +%s.%N)
    printf '==> %s\n' "$step_name"
}
done_step() {
    printf '    %s (%.1fs)\n' "$1" "$(echo "$(date +%s.%N) - $step_start" | bc)"
}
fail() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}
is_root() { [ "$(id -u)" = 0 ]; }
have() { command -v "$1" >/dev/null 2>&1; }

# Version pinned by a tools module: the version of `module` in its go.mod.
pinned_version() {
    awk -v m="$2" '$1 == m { print $2 } $1 == "require" && $2 == m { print $3 }' "$root/tools/$1/go.mod"
}
short_hash() { sha256sum "$1" | cut -c1-12; }

apt_install() {
    is_root && have apt-get || return 1
    if [ -z "${apt_updated:-}" ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# bc does the step timings
have bc || apt_install bc || fail "bc is missing: install it"

# ---------------------------------------------------------------------------------------------
step "npm dependencies"
if [ ! -d "$root/node_modules" ] || [ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]; then
    (cd "$root" && npm ci --no-audit --no-fund)
    done_step "installed"
else
    done_step "up to date"
fi

# ---------------------------------------------------------------------------------------------
step "Docker engine"
if docker info >/dev/null 2>&1; then
    done_step "running: engine $(docker info --format '{{.ServerVersion}}')"
else
    if ! have dockerd; then
        apt_install docker.io || fail "no Docker engine: install Docker (https://docs.docker.com/engine/install/) and start it, then re-run"
    fi
    if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] && have systemctl; then
        systemctl start docker
    elif is_root; then
        nohup dockerd >/var/log/dockerd.log 2>&1 &
    else
        fail "the Docker engine is installed but not running, and starting it needs root: start it, then re-run"
    fi
    for _ in $(seq 60); do
        docker info >/dev/null 2>&1 && break
        sleep 1
    done
    docker info >/dev/null 2>&1 || fail "dockerd did not answer within 60s (see /var/log/dockerd.log)"
    done_step "started: engine $(docker info --format '{{.ServerVersion}}')"
fi

# ---------------------------------------------------------------------------------------------
cli_version=$(pinned_version pulumi-cli github.com/pulumi/pulumi/pkg/v3)
langhost_version=$(pinned_version pulumi-language-nodejs github.com/pulumi/pulumi/sdk/v3)
[ -n "$cli_version" ] && [ -n "$langhost_version" ] || fail "cannot read the pinned versions in tools/*/go.mod"


# Prints the version of a pulumi binary, or nothing.
cli_version_of() { "$1" version 2>/dev/null | head -1 || true; }

version_at_least() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -1)" = "$2" ]; }

official_install() {
    local dest=$1 script
    script=$(curl -fsSL --max-time 15 https://get.pulumi.com/install.sh 2>/dev/null) || return 1
    sh -c "$script" -s --version "${cli_version#v}" --install-root "$dest" --no-edit-path >/dev/null 2>&1 || return 1
    [ -x "$dest/bin/pulumi" ] && [ -x "$dest/bin/pulumi-language-nodejs" ]
}

go_build() {
    local module=$1 pkg=$2 out=$3 ldflags=$4
    have go || fail "no Go toolchain to build $pkg: install Go >= 1.26 (or give this machine internet access)"
    (cd "$root/tools/$module" && go build -trimpath -ldflags "-s -w $ldflags" -o "$out.tmp" "$pkg") \
        || fail "building $pkg from the Go module proxy failed (see above)"
    mv "$out.tmp" "$out"
}

step "Pulumi CLI $cli_version"
cli_dir="$cache/pulumi-$cli_version-$(short_hash "$root/tools/pulumi-cli/go.sum")"
found=$(PATH="${PATH//$tools_bin:/}" command -v pulumi || true)
if [ -x "$tools_bin/pulumi" ] && [ "$(cli_version_of "$tools_bin/pulumi")" = "$cli_version" ]; then
    done_step "ready: $(readlink -f "$tools_bin/pulumi")"
elif [ -n "$found" ] && version_at_least "$(cli_version_of "$found")" "$cli_version"; then
    ln -sfn "$found" "$tools_bin/pulumi"
    done_step "using $found ($(cli_version_of "$found"))"
elif [ -x "$cli_dir/bin/pulumi" ]; then
    ln -sfn "$cli_dir/bin/pulumi" "$tools_bin/pulumi"
    done_step "cached: $cli_dir"
elif official_install "$cli_dir"; then
    ln -sfn "$cli_dir/bin/pulumi" "$tools_bin/pulumi"
    done_step "installed by the official installer into $cli_dir"
else
    echo "    the official installer cannot be reached: building from the Go module proxy (takes minutes)"
    mkdir -p "$cli_dir/bin"
    go_build pulumi-cli github.com/pulumi/pulumi/pkg/v3/cmd/pulumi "$cli_dir/bin/pulumi" \
        "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$cli_version"
    ln -sfn "$cli_dir/bin/pulumi" "$tools_bin/pulumi"
    done_step "built into $cli_dir"
fi
[ "$(cli_version_of "$tools_bin/pulumi")" != "" ] || fail "$tools_bin/pulumi does not run"

# ---------------------------------------------------------------------------------------------
step "Pulumi Node.js language host"
# The CLI looks for its plugins beside itself first (on PATH it warns at every run), so plugins
# for a CLI of ours go beside it; a CLI found on PATH brought its own.
cli_real_dir=$(dirname "$(readlink -f "$tools_bin/pulumi")")
plugin_dir=$tools_bin
case "$cli_real_dir" in "$cache"/*) plugin_dir=$cli_real_dir ;; esac
langhost_dir="$cache/pulumi-language-nodejs-$langhost_version-$(short_hash "$root/tools/pulumi-language-nodejs/go.sum")"
if [ -x "$cli_real_dir/pulumi-language-nodejs" ]; then
    done_step "language host beside the CLI in $cli_real_dir"
elif found=$(PATH="${PATH//$tools_bin:/}" command -v pulumi-language-nodejs); then
    ln -sfn "$found" "$plugin_dir/pulumi-language-nodejs"
    done_step "language host: using $found"
else
    if [ ! -x "$langhost_dir/bin/pulumi-language-nodejs" ]; then
        mkdir -p "$langhost_dir/bin"
        go_build pulumi-language-nodejs github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs \
            "$langhost_dir/bin/pulumi-language-nodejs" \
            "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$langhost_version"
    fi
    ln -sfn "$langhost_dir/bin/pulumi-language-nodejs" "$plugin_dir/pulumi-language-nodejs"
    done_step "language host $langhost_version from $langhost_dir"
fi

step "Pulumi dynamic-provider plugin"
if [ -x "$cli_real_dir/pulumi-resource-pulumi-nodejs" ]; then
    done_step "beside the CLI"
else
    # The CLI's releases ship this launcher beside the CLI; a CLI built from source has none.
    # It starts the dynamic-provider host of the program's own @pulumi/pulumi.
    cat >"$plugin_dir/pulumi-resource-pulumi-nodejs" <<'EOF'
#!/bin/sh
exec node "$(node -e "process.stdout.write(require.resolve('@pulumi/pulumi/cmd/dynamic-provider'))")" "$@"
EOF
    chmod +x "$plugin_dir/pulumi-resource-pulumi-nodejs"
    done_step "launcher written to $plugin_dir"
fi

# ---------------------------------------------------------------------------------------------
step "local state backend"
state_dir="$root/.pulumi-state"
mkdir -p "$state_dir"
if [ ! -s "$state_dir/passphrase" ]; then
    (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$state_dir/passphrase")
    done_step "backend file://$state_dir, new passphrase in $state_dir/passphrase"
else
    done_step "backend file://$state_dir, passphrase in $state_dir/passphrase"
fi

printf '==> ready in %.1fs: %s, language host %s\n' "$(echo "$(date +%s.%N) - $setup_start" | bc)" \
    "$(cli_version_of "$tools_bin/pulumi")" "$langhost_version"
