#!/usr/bin/env bash
# Makes the build context of the pipeline image ready: the compiled code, the runtime packages,
# and (in .image/) the Node.js binary from the npm registry's node-linux-<arch> package, at the
# version the project pins in its .nvmrc (Node 22), so the image runs that Node whatever Node the
# base image's distribution ships, and `docker build` itself downloads nothing but Debian packages.
# NODE_ARCH (x64 or arm64) is the target's architecture; else that of TARGET_PLATFORM (a Docker
# platform such as linux/amd64); else this machine's.
set -euo pipefail
cd "$(dirname "$0")/.."
node_version=$(tr -d ' \nv' <../.nvmrc)

if [ ! package-lock.json -ot node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund
fi
npm run build

arch=${NODE_ARCH:-}
case "${TARGET_PLATFORM:-}" in
    */amd64) arch=${arch:-x64} ;;
    */arm64) arch=${arch:-arm64} ;;
esac
if [ -z "$arch" ]; then
    case "$(uname -m)" in
        x86_64) arch=x64 ;;
        aarch64 | arm64) arch=arm64 ;;
        *) echo "prepare-image: no Node.js build for $(uname -m); set NODE_ARCH" >&2; exit 1 ;;
    esac
fi
tarball="node-linux-$arch-$node_version.tgz"
mkdir -p .image
if [ ! -s ".image/$tarball" ]; then
    rm -f .image/node-linux-*.tgz
    (cd .image && npm pack --silent "node-linux-$arch@$node_version" >/dev/null)
fi
