#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run): installs what is missing (apt), checks the
# formatting, builds without warnings in our code, self-tests the LDAP scripts, checks the pull
# for leaks and memory errors under AddressSanitizer, then runs every Swift test (unit, slapd
# integration, CLI end to end). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null 2>&1 || export PATH=/opt/swift/usr/bin:$PATH

scripts/install-deps.sh
scripts/check-format.sh

echo "==> swift build --build-tests"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! swift build --build-tests >"$log" 2>&1; then
    cat "$log"
    exit 1
fi
tail -n 1 "$log"
if grep -E "^$PWD/(Sources|Tests)/.*(warning|error):" "$log"; then
    echo "test.sh: the build has warnings in our code (above)" >&2
    exit 1
fi

echo "==> scripts/test-ldap-scripts.sh"
if ! scripts/test-ldap-scripts.sh >"$log" 2>&1; then
    cat "$log"
    exit 1
fi
echo "ldap scripts: $(tail -n 1 "$log")"

echo "==> scripts/leak-check.sh (AddressSanitizer + LeakSanitizer over success and failure paths)"
if ! scripts/leak-check.sh >"$log" 2>&1; then
    cat "$log"
    exit 1
fi
tail -n 1 "$log"

echo "==> conformance tools (scim2-tester, schemathesis) into .tenure/ venvs"
if ! { scripts/scim-conformance.sh --install && scripts/openapi-conformance.sh --install; } >"$log" 2>&1; then
    cat "$log"
    exit 1
fi
echo "conformance tools: installed"

echo "==> swift test"
swift test --skip-build
