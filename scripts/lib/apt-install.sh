#!/usr/bin/env bash
# Installs Debian packages on this machine, one apt run at a time: every step of the project that
# needs apt (setup, the offline base image) comes through here, so two of them started at once
# wait for each other instead of failing on apt's own locks. Does nothing for packages already
# installed. Needs root and apt-get; exits 1 otherwise.
# Usage: scripts/lib/apt-install.sh PACKAGE...
set -euo pipefail

[ "$#" -gt 0 ] || { echo "usage: $0 PACKAGE..." >&2; exit 2; }
missing=()
for package in "$@"; do
    dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$package")
done
[ "${#missing[@]}" -gt 0 ] || exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "apt-install: installing ${missing[*]} needs root and apt-get" >&2
    exit 1
fi

# A machine-wide lock of our own (held until this script exits), and apt's lock timeout for any
# other apt user (unattended upgrades, a person at the shell).
exec 9>"${SWARM_APT_LOCK:-/var/lock/swarm-apt.lock}"
flock 9
export DEBIAN_FRONTEND=noninteractive
apt_options=(-qq -o DPkg::Lock::Timeout=300)
# The package lists may be missing (fresh machines and containers ship without them) or stale.
if ! apt-get install "${apt_options[@]}" -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    apt-get update "${apt_options[@]}" >/dev/null
    apt-get install "${apt_options[@]}" -y --no-install-recommends "${missing[@]}" >/dev/null
fi
