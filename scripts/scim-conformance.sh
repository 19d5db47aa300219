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

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${TENURE_SCIM_VENV:-$root/.tenure/scim-venv}
TOOL=scim-conformance
TOOL_LABEL="scim2-tester 0.5.2"
HELP_LINES=2,33p
MIN_PYTHON=3.11
READY_BIN=python
# shellcheck source-path=SCRIPTDIR source=lib/pinned-venv.sh
. "$root/scripts/lib/pinned-venv.sh"
venv_parse_args "$@"
venv_ensure

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
