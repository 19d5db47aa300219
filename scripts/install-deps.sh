#!/usr/bin/env bash
# Install the Debian packages Tenure's scripts, tests and benchmarks need.
#
# Usage: scripts/install-deps.sh
#
# Idempotent: asks dpkg-query which packages are missing and apt-get installs
# only those (running `apt-get update` first, and only when something is
# missing). Non-interactive (DEBIAN_FRONTEND=noninteractive); while installing,
# a temporary /usr/sbin/policy-rc.d (exit 101) keeps Debian's maintainer
# scripts from starting the system slapd service (only if no policy-rc.d
# already exists; it is removed afterwards).
#
# Runs as root without sudo; as another user it uses sudo when something is
# missing (and fails clearly if sudo is not available).
#
# Prints exactly one line on success: "deps: all present" or
# "deps: installed X Y ...". apt output goes to a log that is shown only on
# failure.
set -euo pipefail

PACKAGES=(slapd ldap-utils libldap-dev libssl-dev libsqlite3-dev openssl python3 python3-venv time procps curl)

die() {
    printf 'install-deps: %s\n' "$*" >&2
    exit 1
}

command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found: this script supports Debian/Ubuntu only"

missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
    # "ii " = installed; anything else (absent, rc, half-installed) = missing.
    if [[ "$status" != ii* ]]; then
        missing+=("$pkg")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "deps: all present"
    exit 0
fi

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        die "missing packages (${missing[*]}) and not root and sudo is not available; run as root: apt-get install ${missing[*]}"
    fi
fi

POLICY=/usr/sbin/policy-rc.d
policy_installed=0
log=$(mktemp "${TMPDIR:-/tmp}/install-deps.XXXXXX.log")

cleanup() {
    if [[ $policy_installed -eq 1 ]]; then
        "${SUDO[@]}" rm -f "$POLICY" || true
    fi
    rm -f "$log"
}
trap cleanup EXIT

if [[ ! -e $POLICY ]]; then
    # Keep invoke-rc.d from starting services (notably the system slapd).
    printf '#!/bin/sh\n# temporary, from tenure scripts/install-deps.sh\nexit 101\n' |
        "${SUDO[@]}" tee "$POLICY" >/dev/null
    "${SUDO[@]}" chmod 0755 "$POLICY"
    policy_installed=1
fi

apt_env=(env DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true)
if ! "${SUDO[@]}" "${apt_env[@]}" apt-get update -q >"$log" 2>&1; then
    cat "$log" >&2
    die "apt-get update failed"
fi
if ! "${SUDO[@]}" "${apt_env[@]}" apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}" >>"$log" 2>&1; then
    cat "$log" >&2
    die "apt-get install ${missing[*]} failed"
fi

echo "deps: installed ${missing[*]}"
