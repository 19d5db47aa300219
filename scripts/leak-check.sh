#!/usr/bin/env bash
# Builds tenure with AddressSanitizer + LeakSanitizer (.build-asan) and runs `tenure pull` over
# the success and failure paths against a throwaway slapd loaded with the sample directory:
# plain LDAP, LDAPS, StartTLS, a wrong CA, a wrong password, unreachable servers, a missing base,
# and slapd killed in the middle of a paged read. Fails on any sanitizer report (a leak of a C
# allocation — LDAPMessage, BerElement, controls, cookies — or a memory error) or a wrong exit
# status. Only 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null 2>&1 || export PATH=/opt/swift/usr/bin:$PATH

echo "==> building tenure with -sanitize=address (.build-asan)"
swift build --scratch-path .build-asan -Xswiftc -sanitize=address --product tenure 2>&1 | tail -n 1
bin=$(swift build --scratch-path .build-asan --show-bin-path)/tenure

work=$(mktemp -d)
dir=$work/slapd
trap 'scripts/slapd-test-server.sh stop "$dir" --clean >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
# 3,000 extra people so a small page size gives many pages to interrupt.
python3 scripts/gen-directory.py --users 3000 --groups 30 --out "$work/bulk.ldif" >/dev/null 2>&1
scripts/slapd-test-server.sh start "$dir" --slapadd "$work/bulk.ldif" --ldif Config/sample-directory.ldif \
    >"$work/env" 2>/dev/null
# shellcheck disable=SC1091
. "$work/env"
printf 'not-the-password' >"$work/wrong.password"
chmod 600 "$work/wrong.password"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
failures=0
check() { # NAME EXPECTED-EXIT EXPECTED-STDERR-REGEX ENV... -- ARGS...
    local name=$1 expected=$2 pattern=$3
    shift 3
    local -a env=()
    while [[ $1 != -- ]]; do env+=("$1"); shift; done
    shift
    local rc=0
    env "${env[@]}" "$bin" "$@" >"$work/out" 2>"$work/err" || rc=$?
    local reports
    reports=$(grep -cE "ERROR: (AddressSanitizer|LeakSanitizer)" "$work/err" || true)
    if [[ $rc -ne $expected || $reports -ne 0 ]] || { [[ -n $pattern ]] && ! grep -qE "$pattern" "$work/err"; }; then
        echo "FAIL $name: exit $rc (expected $expected), $reports sanitizer report(s), stderr /$pattern/:"
        grep -A20 "ERROR: " "$work/err" | head -40 || tail -n 5 "$work/err"
        failures=$((failures + 1))
    else
        echo "ok   $name"
    fi
}
common=(TENURE_LDAP_PASSWORD_FILE="$LDAP_READER_PASSWORD_FILE" TENURE_LDAP_PAGE_SIZE=100)
config=(--config Config/tenure.yaml)
check "plain LDAP, json" 0 "" "${common[@]}" TENURE_LDAP_URLS="$LDAP_URL" -- pull "${config[@]}" --format json
check "LDAPS" 0 "" "${common[@]}" TENURE_LDAP_URLS="$LDAPS_URL" TENURE_LDAP_TLS_CA_FILE="$LDAP_CA_FILE" -- pull "${config[@]}"
check "StartTLS" 0 "" "${common[@]}" TENURE_LDAP_URLS="$LDAP_URL" TENURE_LDAP_START_TLS=true \
    TENURE_LDAP_TLS_CA_FILE="$LDAP_CA_FILE" -- pull "${config[@]}"
check "wrong CA" 1 "certificate" "${common[@]}" TENURE_LDAP_URLS="$LDAPS_URL" TENURE_LDAP_TLS_CA_FILE="$LDAP_WRONG_CA_FILE" \
    -- pull "${config[@]}"
check "wrong password" 1 "invalidCredentials" TENURE_LDAP_URLS="$LDAP_URL" TENURE_LDAP_PASSWORD_FILE="$work/wrong.password" \
    -- pull "${config[@]}"
check "unreachable servers" 1 "all 2 servers failed" "${common[@]}" TENURE_LDAP_URLS="[ldap://127.0.0.1:1, ldap://127.0.0.1:2]" \
    -- pull "${config[@]}"
check "missing base" 1 "noSuchObject" "${common[@]}" TENURE_LDAP_URLS="$LDAP_URL" \
    TENURE_USERS_BASE_DNS="ou=nothere,$LDAP_SUFFIX" -- pull "${config[@]}"
check "size limit" 1 "sizeLimitExceeded|adminLimitExceeded" "${common[@]}" TENURE_LDAP_URLS="$LDAP_URL" TENURE_LDAP_BIND_DN="$LDAP_LIMITED_DN" \
    TENURE_LDAP_PASSWORD_FILE="$LDAP_LIMITED_PASSWORD_FILE" -- pull "${config[@]}"
# Last: slapd killed while the pull pages through 3,000 entries 10 at a time.
(sleep 0.3 && kill -9 "$SLAPD_PID") &
check "slapd killed mid-pull" 1 "serverDown.*page [0-9]+ after" "${common[@]}" TENURE_LDAP_URLS="$LDAP_URL" TENURE_LDAP_PAGE_SIZE=10 \
    -- pull "${config[@]}"
wait

echo "leak check: $((9 - failures)) passed, $failures failed"
[[ $failures -eq 0 ]]
