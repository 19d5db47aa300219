#!/usr/bin/env bash
# leaver-benchmark.sh — one leaver with 5 write-back groups and 10 vault credentials, fully
# applied by `tenure sync` on the sample directory (target: under 1 s, every run).
#
# USAGE
#   Benchmarks/leaver-benchmark.sh [--runs R]
#
# It starts the sample directory (Config/sample-directory.ldif) in a throwaway slapd on
# 127.0.0.1 and adds 5 write-back groups, 10 LDAP service accounts and R operators. The mappings
# give every operator 5 standing roles; each role has a write-back group and unlocks 2 of the 10
# service accounts, all enrolled in the vault. One first sync grants the roles and writes the
# operators into the groups. Then, R times: one operator is locked (pwdAccountLockedTime) and
#   tenure sync
# is timed from start to exit: pull, plan, revoke 5 roles, remove the operator from the 5 groups
# (as the writer account), rotate the 10 passwords (Password Modify, then a verifying bind each),
# audit everything. Each run is checked: 5 revocations, 5 write-back removals and 10 rotations,
# all successful, and the operator gone from every group.
# Exit 0 when every run is under 1 s, 3 when not, 1 on error.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=5
while [[ $# -gt 0 ]]; do
    case $1 in
    --runs) runs=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 1 ;;
    esac
done
command -v swift >/dev/null 2>&1 || export PATH=/opt/swift/usr/bin:$PATH
scripts/install-deps.sh >/dev/null
swift build -c release --product tenure 2>&1 | tail -n 1 >&2
bin=$(swift build -c release --show-bin-path)/tenure

work=$(mktemp -d)
trap 'scripts/slapd-test-server.sh stop "$work/slapd" --clean >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
# shellcheck source-path=SCRIPTDIR source=lib/leaver-world.sh
. Benchmarks/lib/leaver-world.sh
leaver_world "$runs" "guard: { maxLeavers: 10, maxLeaverPercent: 50 }"

now() { date +%s%N; }
times=()
for ((r = 1; r <= runs; r++)); do
    printf 'dn: uid=bench-op-%s,%s\nchangetype: modify\nadd: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n' \
        "$r" "$people" >"$work/lock.ldif"
    scripts/slapd-test-server.sh modify "$work/slapd" "$work/lock.ldif" >/dev/null
    before=$("$bin" audit tail --config "$config" -n 1 | awk '{print $1}')
    start=$(now)
    "$bin" sync --config "$config" >"$work/sync.out"
    times+=($(( ($(now) - start) / 1000000 )))
    "$bin" audit export --config "$config" --format csv --after "$before" >"$work/audit.csv"
    count() { grep -c ",$1,[^,]*,[^,]*,$2," "$work/audit.csv" || true; }
    revoked=$(count role.revoked success) removed=$(count writeback.remove success) rotated=$(count credential.rotate success)
    failures=$(grep -c ',failure,' "$work/audit.csv" || true)
    if [[ $revoked -ne 5 || $removed -ne 5 || $rotated -ne 10 || $failures -ne 0 ]]; then
        echo "run $r: expected 5 revocations, 5 removals, 10 rotations, no failure; got $revoked, $removed, $rotated, $failures" >&2
        cat "$work/sync.out" >&2
        exit 1
    fi
    for g in $(seq 1 "$roles"); do
        if members "$g" | grep -qx "uid=bench-op-$r,$people"; then
            echo "run $r: bench-op-$r is still in bench-wb-$g" >&2; exit 1
        fi
    done
    echo "run $r/$runs: leaver applied in ${times[-1]} ms (5 revoked, 5 written back, 10 rotated, audited)" >&2
done
"$bin" audit verify --config "$config" >/dev/null
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
max() { printf '%s\n' "$@" | sort -n | tail -n 1; }
md=$(median "${times[@]}") mx=$(max "${times[@]}")
ok=$(awk -v m="$mx" 'BEGIN {print (m < 1000) ? "PASS" : "FAIL"}')
echo
echo "| runs | write-back groups | credentials | sync median (ms) | sync max (ms) | target < 1 s |"
echo "|---:|---:|---:|---:|---:|---|"
echo "| $runs | 5 | 10 | $md | $mx | $ok |"
[[ $ok == PASS ]] || exit 3
