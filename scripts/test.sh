#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run): installs what is missing (apt), checks the
# formatting, builds without warnings in our code, self-tests the LDAP scripts, checks the pull
# for leaks and memory errors under AddressSanitizer, then runs every Swift test (unit, slapd
# integration, CLI end to end). Exits non-zero on any failure.
#
# Bounded and quiet: every step has a time limit (a step that reaches it fails the run, saying
# so); the output is a few lines per step, the failures, and the summary (`swift test`'s whole
# output is kept in .tenure/swift-test.log); what the tests leave running is stopped and named.
#   TENURE_TEST_TIME_LIMIT  seconds for `swift test` (default 1500; it takes about a minute on
#                           two cores)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null 2>&1 || export PATH=/opt/swift/usr/bin:$PATH

# Descriptors this script was given beyond 0-2 (a CI runner's own pipes, say) are not passed on:
# a server a test leaves running must not hold them open. (Bash moves the descriptor it reads this
# script from out of the way.)
for fd in /proc/$$/fd/*; do
    fd=${fd##*/}
    [[ $fd -gt 2 ]] || continue
    eval "exec $fd>&-" 2>/dev/null || true
done
# Everything the run starts carries this mark (not TENURE_*: the CLI tests keep those from
# `tenure`): what is still running at the end is stopped and named (scripts/lib/stop-leftovers.py).
export TEST_RUN_MARK_TENURE="$$-$RANDOM$RANDOM"

limit=${TENURE_TEST_TIME_LIMIT:-1500}
[[ "$limit" =~ ^[1-9][0-9]*$ ]] || { echo "test.sh: TENURE_TEST_TIME_LIMIT must be a positive integer" >&2; exit 2; }

log=$(mktemp)
events=$(mktemp)
step_pid=""
finish() {
    [[ -n "$step_pid" ]] && kill -TERM "$step_pid" 2>/dev/null
    python3 scripts/lib/stop-leftovers.py "$TEST_RUN_MARK_TENURE" "${TMPDIR:-/tmp}" || true
    rm -f "$log" "$events"
}
trap finish EXIT
# Ctrl-C or a runner's SIGTERM reach the step running (`timeout` runs it in a process group of its
# own, which the terminal's signals do not reach): it stops, then the EXIT trap cleans up.
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# bounded SECONDS LABEL COMMAND...: runs COMMAND with its output in $log, at most SECONDS; on
# failure prints what it said (the errors first, then the end) and exits.
bounded() {
    local seconds=$1 label=$2 status=0
    shift 2
    timeout --kill-after=30 "$seconds" "$@" >"$log" 2>&1 &
    step_pid=$!
    wait "$step_pid" || status=$?
    step_pid=""
    [[ $status -eq 0 ]] && return 0
    if [[ $status -eq 124 || $status -eq 137 ]]; then
        echo "test.sh: $label did not finish within ${seconds}s; the end of its output:" >&2
    else
        echo "test.sh: $label failed (exit $status):" >&2
        grep -E "(error|FAIL|fatal)" "$log" | head -n 50 >&2 || true
        echo "----- the end of its output -----" >&2
    fi
    tail -n 100 "$log" >&2
    exit 1
}

bounded 900 "scripts/install-deps.sh" scripts/install-deps.sh
cat "$log"
bounded 300 "scripts/check-format.sh" scripts/check-format.sh
cat "$log"

echo "==> swift build --build-tests"
bounded 2400 "swift build" swift build --build-tests
tail -n 1 "$log"
if grep -E "^$PWD/(Sources|Tests)/.*(warning|error):" "$log"; then
    echo "test.sh: the build has warnings in our code (above)" >&2
    exit 1
fi

echo "==> scripts/test-ldap-scripts.sh"
bounded 600 "scripts/test-ldap-scripts.sh" scripts/test-ldap-scripts.sh
echo "ldap scripts: $(tail -n 1 "$log")"

echo "==> scripts/leak-check.sh (AddressSanitizer + LeakSanitizer over success and failure paths)"
bounded 900 "scripts/leak-check.sh" scripts/leak-check.sh
tail -n 1 "$log"

echo "==> conformance tools (scim2-tester, schemathesis) into .tenure/ venvs"
bounded 600 "the conformance tools' install" \
    bash -c 'scripts/scim-conformance.sh --install && scripts/openapi-conformance.sh --install'
echo "conformance tools: installed"

# A test that hangs fails the run in $limit seconds, naming every test still running (from Swift
# Testing's event stream) instead of running into CI's own limit with nothing said. The whole
# output (about 300 KB: a line per test started and ended, the conformance tools' reports) goes
# to a file; what is printed is its failures and summary (scripts/lib/test-report.py).
mkdir -p .tenure
output=.tenure/swift-test.log
echo "==> swift test (at most ${limit}s; the whole output in $output)"
status=0
timeout --kill-after=30 "$limit" swift test --skip-build \
    --event-stream-output-path "$events" --event-stream-version 0 >"$output" 2>&1 &
step_pid=$!
wait "$step_pid" || status=$?
step_pid=""
python3 scripts/lib/test-report.py "$output" || tail -n 50 "$output"
if [[ $status -eq 124 || $status -eq 137 ]]; then
    printf 'test.sh: swift test did not finish within %ss (TENURE_TEST_TIME_LIMIT); still running:\n' "$limit" >&2
    python3 scripts/lib/unfinished-tests.py "$events" >&2 || true
fi
exit "$status"
