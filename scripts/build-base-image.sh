#!/usr/bin/env bash
# Make the base image tag (default debian:bookworm-slim) available to the local
# Docker engine. Idempotent, and safe to start several times at once: the runs take
# a machine-wide lock, so one makes the image and the others then find it.
#   1. the tag already exists locally          -> nothing to do
#   2. `docker pull` works (a registry is reachable) -> pulled
#   3. otherwise build it offline from Debian packages with debootstrap
#      (minbase variant) and `docker import` it under the same tag.
# Usage: scripts/build-base-image.sh [TAG]   (env: BASE_IMAGE, DEBIAN_SUITE, DEBIAN_MIRROR)
set -euo pipefail

TAG="${1:-${BASE_IMAGE:-debian:bookworm-slim}}"
SUITE="${DEBIAN_SUITE:-bookworm}"
start=$(date +%s)
say() { printf 'build-base-image: %s\n' "$*" >&2; }
took() { echo "$(( $(date +%s) - start ))s"; }

if ! docker info >/dev/null 2>&1; then
  say "the Docker engine is not reachable (docker info failed); start dockerd first"
  exit 1
fi

if docker image inspect "$TAG" >/dev/null 2>&1; then
  say "$TAG already present; nothing to do ($(took))"
  exit 0
fi

# One run at a time (held until exit); a run that waited finds the image made by the other.
lock="${SWARM_BASE_IMAGE_LOCK:-${TMPDIR:-/tmp}/swarm-base-image.lock}"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$lock"
  if ! flock --nonblock 9; then
    say "another run is making a base image; waiting for it"
    flock 9
  fi
  if docker image inspect "$TAG" >/dev/null 2>&1; then
    say "$TAG was made by another run meanwhile; nothing to do ($(took))"
    exit 0
  fi
fi

if timeout 120 docker pull "$TAG" >/dev/null 2>&1; then
  say "pulled $TAG from a registry ($(took))"
  exit 0
fi
say "could not pull $TAG; building it offline with debootstrap"

# The Debian mirror: explicit setting, else the machine's apt sources, else the default.
mirror="${DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
    | awk '$1=="deb" {for (i=2;i<=NF;i++) if ($i ~ /^https?:\/\//) {print $i; exit}}' || true)
fi
if [ -z "$mirror" ]; then
  mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | awk '/^URIs:/ {for (i=2;i<=NF;i++) if ($i ~ /^https?:\/\// && $i !~ /security/) {print $i; exit}}' || true)
fi
mirror="${mirror:-http://deb.debian.org/debian}"

if ! command -v debootstrap >/dev/null 2>&1; then
  say "installing debootstrap"
  "$(dirname "$0")/lib/apt-install.sh" debootstrap \
    || { say "debootstrap is missing; install it (apt-get install debootstrap) or run as root"; exit 1; }
fi

root=$(mktemp -d /tmp/base-image.XXXXXX)
cleanup() { rm -rf "$root"; }
trap cleanup EXIT

say "debootstrap --variant=minbase $SUITE from $mirror"
if ! debootstrap --variant=minbase "$SUITE" "$root" "$mirror" >"$root.log" 2>&1; then
  say "debootstrap failed; last lines of its log:"
  tail -n 20 "$root.log" >&2
  rm -f "$root.log"
  exit 1
fi
rm -f "$root.log"

# Slim it down the way the official -slim images are: no apt lists, caches, docs.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
  "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/tmp/*
# apt inside builds should use the same mirror
echo "deb $mirror $SUITE main" > "$root/etc/apt/sources.list"
if [ "$SUITE" = bookworm ] || [ "$SUITE" = trixie ]; then
  echo "deb $mirror $SUITE-updates main" >> "$root/etc/apt/sources.list"
fi

tar -C "$root" -c . | docker import -c 'CMD ["bash"]' - "$TAG" >/dev/null
say "built $TAG offline with debootstrap from $mirror ($(took)); size $(docker image inspect -f '{{.Size}}' "$TAG") bytes"
