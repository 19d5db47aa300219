#!/usr/bin/env bash
# Property-based conformance of the running API to its own OpenAPI document, checked by an
# external tool: schemathesis (https://schemathesis.readthedocs.io) loads BASE_URL/openapi.json,
# generates requests for every documented operation (valid and invalid bodies, parameters and
# headers) and checks each response against the document.
#
# Usage:
#   scripts/openapi-conformance.sh --install              create/update the venv, run nothing
#   scripts/openapi-conformance.sh [--no-install] BASE_URL [TOKEN]
#
#   BASE_URL  the server root, e.g. http://127.0.0.1:8080 (or $OPENAPI_BASE_URL)
#   TOKEN     a bearer token with the `admin` scope (or $OPENAPI_TOKEN), so that every operation
#             gets past authorisation and its real behaviour is exercised
#
# The venv lives in .tenure/openapi-venv (override: $TENURE_OPENAPI_VENV). Without --no-install
# it is created when missing (python3 -m venv) and the pinned packages below are pip-installed.
# With --no-install a missing venv is an error (exit 3): the Swift test runs it that way, so a
# machine without the venv fails loudly instead of skipping.
#
# Checks: not_a_server_error (no 5xx but the documented 503s), status_code_conformance (every
# status is documented for the operation), content_type_conformance (the Content-Type is one
# documented for that status), response_schema_conformance (the body validates against the
# documented schema). Phases: examples (the document's), coverage, fuzzing, and stateful
# (following the document's links: create a SCIM User or an activation, then read, change and
# delete it); at most $OPENAPI_MAX_EXAMPLES (default 20) generated cases per operation, so a run
# stays well under a minute. $OPENAPI_SEED fixes hypothesis' seed (to reproduce a failure);
# schemathesis prints the seed of every run.
#
# The run changes the server's state (it creates SCIM Users, requests activations, offboards
# whoever a generated subject names): point it only at a throwaway server.
#
# Exit 0 when every check passed; 1 when any failed (the failing requests are printed with a
# curl command to reproduce each); 2 for a usage error; 3 when the venv is missing under
# --no-install.
set -euo pipefail

# Pinned: schemathesis and everything it pulls in (pip freeze of a fresh install).
SCHEMATHESIS_VERSION=4.32.5
PINS=(
    "schemathesis==$SCHEMATHESIS_VERSION"
    "anyio==4.16.0"
    "certifi==2026.10.19.post1"
    "charset-normalizer==3.5.3"
    "click==8.5.1"
    "graphql-core==3.3.2"
    "harfile==0.6.0"
    "hypothesis==6.170.17"
    "hypothesis-graphql==0.13.5"
    "idna==3.20"
    "iniconfig==2.3.1"
    "jsonschema_rs==0.60.3"
    "markdown-it-py==4.3.0"
    "MarkupSafe==3.0.4"
    "mdurl==0.1.2"
    "packaging==26.4"
    "pluggy==1.7.0"
    "Pygments==2.21.0"
    "pyrate-limiter==4.5.1"
    "pytest==9.2.0"
    "PyYAML==6.0.4"
    "requests==2.34.2"
    "rich==15.0.0"
    "sortedcontainers==2.4.0"
    "typing_extensions==4.16.0"
    "urllib3==2.8.0"
    "Werkzeug==3.1.9"
)

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${TENURE_OPENAPI_VENV:-$root/.tenure/openapi-venv}
TOOL=openapi-conformance
TOOL_LABEL="schemathesis $SCHEMATHESIS_VERSION"
HELP_LINES=2,34p
MIN_PYTHON=3.10
READY_BIN=schemathesis
# shellcheck source-path=SCRIPTDIR source=lib/pinned-venv.sh
. "$root/scripts/lib/pinned-venv.sh"
venv_parse_args "$@"
venv_ensure

base_url=${args[0]:-${OPENAPI_BASE_URL:-}}
token=${args[1]:-${OPENAPI_TOKEN:-}}
[[ -n "$base_url" ]] ||
    die "usage: scripts/openapi-conformance.sh [--no-install] BASE_URL [TOKEN] (or OPENAPI_BASE_URL, OPENAPI_TOKEN)" 2
[[ -n "$token" ]] || die "a bearer token is required (second argument or OPENAPI_TOKEN)" 2
base_url=${base_url%/}
max_examples=${OPENAPI_MAX_EXAMPLES:-20}
[[ "$max_examples" =~ ^[1-9][0-9]*$ ]] || die "OPENAPI_MAX_EXAMPLES must be a positive integer" 2

seed=()
if [[ -n "${OPENAPI_SEED:-}" ]]; then
    [[ "$OPENAPI_SEED" =~ ^[0-9]+$ ]] || die "OPENAPI_SEED must be an integer" 2
    seed=(--seed "$OPENAPI_SEED")
fi

# Run from an empty directory: schemathesis would read a schemathesis.toml found there, and
# nothing (reports, hypothesis' example database) is left behind.
work=$(mktemp -d "${TMPDIR:-/tmp}/openapi-conformance.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

# 501 is what /scim/v2/Bulk and /scim/v2/Me answer by design (documented; ServiceProviderConfig
# says bulk.supported = false): not a server error there. Everywhere else any 5xx fails the run,
# the documented 503s included (in a healthy test server, nothing may be unavailable).
cat >schemathesis.toml <<'TOML'
[[operations]]
include-operation-id = ["scimBulk", "scimMe"]
checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "501"]
TOML

status=0
"$venv/bin/schemathesis" --no-color --config-file schemathesis.toml run "$base_url/openapi.json" \
    --url "$base_url" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --phases examples,coverage,fuzzing,stateful \
    --max-examples "$max_examples" \
    --generation-with-security-parameters false \
    --generation-database none \
    --request-timeout 20 \
    --wait-for-schema 10 \
    --workers 1 \
    "${seed[@]}" || status=$?

if [[ $status -eq 0 ]]; then
    echo "openapi-conformance: PASS: every check passed against $base_url"
else
    echo "openapi-conformance: FAIL: schemathesis exited $status against $base_url"
fi
exit "$status"
