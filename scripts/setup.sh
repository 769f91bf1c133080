#!/usr/bin/env bash
# `npm run setup`: makes the toolchain available. Idempotent: re-running it only checks.
#
#   1. Node.js at the version pinned in .nvmrc (major 22): the system's when new enough, else the
#      npm registry's node-<os>-<arch> package, cached outside the clone, linked into .tools/bin
#   2. npm dependencies of the program and of services/ (npm ci when missing or stale)
#   3. a running Docker engine (reused; else, as root on Debian, docker.io installed and started)
#   4. the Pulumi CLI and the Node.js language host, at the versions pinned in tools/:
#      already on PATH -> the official installer -> built from the Go module proxy.
#      Built or installed binaries are cached outside the clone, keyed by version.
#   5. Pulumi's dynamic-provider plugin launcher, when the CLI did not bring one
#   6. the local state backend (.pulumi-state/) and the dev stack's passphrase file
#
# Environment: SWARM_TOOLS_CACHE (default ~/.cache/swarm-tools) is where binaries are cached.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tools_bin="$root/.tools/bin"
cache="${SWARM_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/swarm-tools}"
mkdir -p "$tools_bin" "$cache"
# Everything below (npm ci included) runs on the Node.js this script provides.
export PATH="$tools_bin:$PATH"

setup_start=$(date +%s%N)
seconds_since() { awk -v a="$1" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'; }
step() {
    step_start=$(date +%s%N)
    printf '==> %s\n' "$1"
}
done_step() { printf '    %s (%ss)\n' "$1" "$(seconds_since "$step_start")"; }
fail() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }
apt_install() { "$root/scripts/lib/apt-install.sh" "$@"; }
# Version pinned by a tools module: the version of `module` in its go.mod.
pinned_version() {
    awk -v m="$2" '$1 == m { print $2 } $1 == "require" && $2 == m { print $3 }' "$root/tools/$1/go.mod"
}
short_hash() { sha256sum "$1" | cut -c1-12; }

# curl talks to the registries the program pushes to
have curl || apt_install curl ca-certificates || fail "curl is missing: install it"
# unzip unpacks the Go toolchain that builds the NATS image's nats-server where no go is installed
have go || have unzip || apt_install unzip || fail "unzip is missing (and no Go): install one of them"

# ---------------------------------------------------------------------------------------------
node_version=$(tr -d ' \nv' <"$root/.nvmrc")
node_major=${node_version%%.*}
step "Node.js $node_major"
major_of() { "$1" --version 2>/dev/null | sed -n 's/^v\([0-9]*\).*/\1/p'; }
system_node=$(PATH="${PATH//$tools_bin:/}" command -v node || true)
if [ -x "$tools_bin/node" ] && [ "$("$tools_bin/node" --version)" = "v$node_version" ]; then
    done_step "ready: $(readlink -f "$tools_bin/node")"
elif [ -n "$system_node" ] && [ "$(major_of "$system_node")" -ge "$node_major" ] 2>/dev/null; then
    rm -f "$tools_bin/node"
    done_step "using $system_node ($("$system_node" --version))"
else
    case "$(uname -s)-$(uname -m)" in
        Linux-x86_64) platform=linux-x64 ;;
        Linux-aarch64) platform=linux-arm64 ;;
        Darwin-x86_64) platform=darwin-x64 ;;
        Darwin-arm64) platform=darwin-arm64 ;;
        *) fail "no Node.js $node_major package for $(uname -s) $(uname -m): install Node.js $node_major yourself" ;;
    esac
    node_dir="$cache/node-v$node_version-$platform"
    if [ ! -x "$node_dir/bin/node" ]; then
        have npm || fail "npm is missing: install Node.js and npm"
        unpack=$(mktemp -d)
        (cd "$unpack" && npm pack --silent "node-$platform@$node_version" >/dev/null && tar -xzf ./*.tgz) \
            || { rm -rf "$unpack"; fail "could not fetch node-$platform@$node_version from the npm registry"; }
        rm -rf "$node_dir" && mv "$unpack/package" "$node_dir" && rm -rf "$unpack"
    fi
    ln -sfn "$node_dir/bin/node" "$tools_bin/node"
    done_step "Node.js $("$tools_bin/node" --version) from the npm registry in $node_dir (system: ${system_node:-none} $( [ -n "$system_node" ] && "$system_node" --version))"
fi

# ---------------------------------------------------------------------------------------------
step "npm dependencies"
npm_ci_if_stale() {
    if [ ! -d "$1/node_modules" ] || [ "$1/package-lock.json" -nt "$1/node_modules/.package-lock.json" ]; then
        (cd "$1" && npm ci --no-audit --no-fund --loglevel=error)
        echo "    installed in $1"
    fi
}
npm_ci_if_stale "$root"
npm_ci_if_stale "$root/services"
done_step "up to date (npm $(npm --version) on Node.js $(node --version))"

# ---------------------------------------------------------------------------------------------
step "Docker engine"
if docker info >/dev/null 2>&1; then
    done_step "running: engine $(docker info --format '{{.ServerVersion}}')"
else
    if ! have dockerd; then
        echo "    installing docker.io"
        apt_install docker.io || fail "no Docker engine: install Docker (https://docs.docker.com/engine/install/) and start it, then re-run"
    fi
    if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] && have systemctl; then
        systemctl start docker
    elif [ "$(id -u)" = 0 ]; then
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
if [ -z "$cli_version" ] || [ -z "$langhost_version" ]; then fail "cannot read the pinned versions in tools/*/go.mod"; fi


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

printf '==> ready in %ss: %s, language host %s, Node.js %s\n' "$(seconds_since "$setup_start")" \
    "$(cli_version_of "$tools_bin/pulumi")" "$langhost_version" "$(node --version)"
