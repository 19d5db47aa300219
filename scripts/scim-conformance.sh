#!/usr/bin/env bash
# SCIM 2.0 conformance of Tenure's /scim/v2 service provider, checked by an external tool:
# scim2-tester (python-scim, https://scim2-tester.readthedocs.io), which drives the server
# through the scim2-client library over HTTP.
#
# Usage:
#   scripts/scim-conformance.sh --install              create/update the venv, run nothing
#   scripts/scim-conformance.sh [--no-install] BASE_URL [TOKEN]
#
#   BASE_URL  the SCIM root, e.g. http://127.0.0.1:8080/scim/v2 (or $SCIM_BASE_URL)
#   TOKEN     a bearer token with the `hr` (or `admin`) scope (or $SCIM_TOKEN)
#
# The venv lives in .tenure/scim-venv (override: $TENURE_SCIM_VENV). Without --no-install it is
# created when missing (python3 -m venv; on Debian/Ubuntu the python3-venv package is
# apt-installed first if venv does not work, the way scripts/install-deps.sh installs packages)
# and the pinned packages below are pip-installed. With --no-install a missing venv is an error
# (exit 3): the Swift test runs it that way, so a machine without the venv fails loudly.
#
# What runs: every check of scim2_tester.check_server — discovery (ServiceProviderConfig,
# ResourceTypes, Schemas, 405 on their unsupported methods, 404 SCIM errors for unknown ids),
# a random URL (SCIM 404), and for each resource type the server publishes (User only):
# create, get, list, attributes/excludedAttributes on get, list and POST /.search, replace,
# delete (then 404), and PATCH add/remove/replace of every writable attribute of the core User,
# the Enterprise extension and Tenure's extension.
# What is not checked, and why: Groups (Tenure publishes no Group resource type, so the tester
# has nothing to drive) and Bulk (ServiceProviderConfig says bulk.supported = false; the tester
# has no Bulk checks). Checks the tester itself reports as SKIPPED are listed with its reason
# (against Tenure: none). One shim: scim2-tester 0.5.2 cannot generate dateTime values (see the
# runner below), so dateTime attributes get a random xsd:dateTime; no check is changed.
#
# Prints one line per check and a summary. Exit 0 only when every check that ran passed
# (SUCCESS, COMPLIANT or ACCEPTABLE); 1 when any failed (DEVIATION, ERROR, CRITICAL);
# 2 for a usage error; 3 when the venv is missing under --no-install.
set -euo pipefail

# Pinned: scim2-tester and everything it pulls in (pip freeze of a fresh install).
PINS=(
    "scim2-tester[httpx2]==0.5.2"
    "scim2-client==0.13.2"
    "scim2-models==0.12.3"
    "httpx2==2.16.2"
    "httpcore2==2.16.2"
    "h11==0.16.0"
    "anyio==4.16.0"
    "idna==3.20"
    "truststore==0.10.5"
    "pydantic==2.14.4"
    "pydantic_core==2.50.5"
    "annotated-types==0.8.0"
    "typing-inspection==0.4.5"
    "typing_extensions==4.16.0"
    "email-validator==2.4.0"
    "dnspython==2.9.2"
    "lark==1.3.1"
)

die() {
    printf 'scim-conformance: %s\n' "$1" >&2
    exit "${2:-1}"
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${TENURE_SCIM_VENV:-$root/.tenure/scim-venv}
stamp="$venv/.tenure-pins"

install_only=0
no_install=0
args=()
for arg in "$@"; do
    case "$arg" in
    --install) install_only=1 ;;
    --no-install) no_install=1 ;;
    -h | --help)
        sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    -*) die "unknown option $arg" 2 ;;
    *) args+=("$arg") ;;
    esac
done

pins_text=$(printf '%s\n' "${PINS[@]}")

venv_ready() {
    [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$pins_text" ]]
}

ensure_python_venv() {
    local probe
    probe=$(mktemp -d "${TMPDIR:-/tmp}/scim-venv-probe.XXXXXX")
    if python3 -m venv "$probe/v" >/dev/null 2>&1; then
        rm -rf "$probe"
        return 0
    fi
    rm -rf "$probe"
    command -v dpkg-query >/dev/null 2>&1 || die "python3 -m venv does not work and this is not Debian/Ubuntu: install Python's venv module"
    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || die "python3 -m venv needs the python3-venv package; as root: apt-get install python3-venv"
        sudo=(sudo)
    fi
    local log
    log=$(mktemp "${TMPDIR:-/tmp}/scim-venv-apt.XXXXXX.log")
    local apt_env=(env DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true)
    if ! "${sudo[@]}" "${apt_env[@]}" apt-get update -q >"$log" 2>&1 ||
        ! "${sudo[@]}" "${apt_env[@]}" apt-get install -y -q --no-install-recommends python3-venv >>"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        die "apt-get install python3-venv failed"
    fi
    rm -f "$log"
    python3 -m venv --help >/dev/null 2>&1 || die "python3 -m venv still does not work after installing python3-venv"
}

install_venv() {
    command -v python3 >/dev/null 2>&1 || die "python3 is required (scripts/install-deps.sh installs it)"
    python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' ||
        die "scim2-tester needs Python 3.11 or newer; python3 is $(python3 -V 2>&1)"
    if [[ ! -x "$venv/bin/python" ]]; then
        ensure_python_venv
        mkdir -p "$(dirname "$venv")"
        python3 -m venv "$venv" || die "python3 -m venv $venv failed"
    fi
    local log
    log=$(mktemp "${TMPDIR:-/tmp}/scim-venv-pip.XXXXXX.log")
    if ! "$venv/bin/python" -m pip install --disable-pip-version-check -q "${PINS[@]}" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        die "pip install into $venv failed"
    fi
    rm -f "$log"
    printf '%s' "$pins_text" >"$stamp"
    echo "scim-conformance: venv ready in $venv (scim2-tester 0.5.2)"
}

if ! venv_ready; then
    if [[ $no_install -eq 1 ]]; then
        die "the scim2-tester venv is not installed in $venv; run scripts/scim-conformance.sh --install" 3
    fi
    install_venv
fi
[[ $install_only -eq 1 ]] && exit 0

base_url=${args[0]:-${SCIM_BASE_URL:-}}
token=${args[1]:-${SCIM_TOKEN:-}}
[[ -n "$base_url" ]] || die "usage: scripts/scim-conformance.sh [--no-install] BASE_URL [TOKEN] (or SCIM_BASE_URL, SCIM_TOKEN)" 2
[[ -n "$token" ]] || die "a bearer token is required (second argument or SCIM_TOKEN)" 2

SCIM_BASE_URL="$base_url" SCIM_TOKEN="$token" exec "$venv/bin/python" - <<'PYTHON'
import collections
import os
import sys

import datetime
import random

import httpx2
import scim2_tester.checkers.patch_add
import scim2_tester.checkers.patch_replace
import scim2_tester.filling
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

# scim2-tester 0.5.2 has no generator for dateTime attributes: filling.generate_random_value
# falls through to a random UUID string, which scim2-models then refuses client-side before any
# request is sent (Tenure's extension has terminationDate, an xsd:dateTime). Give dateTime
# attributes a random whole-second UTC time instead; everything else is generated as before and
# no check is altered.
_generate = scim2_tester.filling.generate_random_value


def _generate_with_datetimes(context, path, mutability=None, required=None):
    value = _generate(context, path, mutability=mutability, required=required)
    binding = path.resolve()
    if value is None or binding is None or binding.target_type is not datetime.datetime:
        return value
    moment = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(
        seconds=random.randrange(0, 10 * 365 * 86400))
    return [moment] if isinstance(value, list) else moment


for module in (scim2_tester.filling, scim2_tester.checkers.patch_add, scim2_tester.checkers.patch_replace):
    module.generate_random_value = _generate_with_datetimes

base_url = os.environ["SCIM_BASE_URL"].rstrip("/")
token = os.environ["SCIM_TOKEN"]

PASSED = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}

with httpx2.Client(
    base_url=base_url,
    headers={"Authorization": f"Bearer {token}"},
    timeout=60,
) as http:
    client = SyncSCIMClient(http)
    results = check_server(client)

counts = collections.Counter()
failed = []
for result in results:
    counts[result.status.name] += 1
    where = f" [{result.resource_type}]" if result.resource_type else ""
    reason = (result.reason or "").replace("\n", " | ")
    print(f"{result.status.name:<10} {result.title}{where}: {reason}")
    if result.status not in PASSED and result.status != Status.SKIPPED:
        failed.append(result)

print()
print(f"scim2-tester against {base_url}: {len(results)} checks; " + ", ".join(
    f"{name} {count}" for name, count in sorted(counts.items())))
if not results:
    print("FAIL: no check ran")
    sys.exit(1)
if failed:
    print(f"FAIL: {len(failed)} check(s) did not pass")
    for result in failed:
        print(f"  - {result.title}: {result.reason}")
        if result.data is not None:
            print(f"    data: {result.data!r}"[:2000])
    sys.exit(1)
print("PASS: every check that ran passed")
PYTHON
