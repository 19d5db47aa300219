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
suffix=dc=tenure,dc=test
{
    for g in 1 2 3 4 5; do
        printf 'dn: cn=bench-wb-%s,ou=privileged,ou=groups,%s\nobjectClass: groupOfNames\ncn: bench-wb-%s\nmember: cn=nobody,%s\n\n' \
            "$g" "$suffix" "$g" "$suffix"
    done
    for s in $(seq 1 10); do
        printf 'dn: cn=bench-svc-%s,ou=services,%s\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: bench-svc-%s\nuserPassword: bench-initial-%s\n\n' \
            "$s" "$suffix" "$s" "$s"
    done
    for r in $(seq 1 "$runs"); do
        printf 'dn: uid=bench-op-%s,ou=people,%s\nobjectClass: inetOrgPerson\nuid: bench-op-%s\ncn: Bench Operator %s\nsn: Operator\nemployeeType: Employee\ntitle: Bench Operator\n\n' \
            "$r" "$suffix" "$r" "$r"
    done
} >"$work/bench.ldif"
scripts/slapd-test-server.sh start "$work/slapd" --ldif Config/sample-directory.ldif --ldif "$work/bench.ldif" \
    >"$work/env" 2>/dev/null
# shellcheck disable=SC1091
. "$work/env"

mkdir -p "$work/state/mappings"
{
    echo "roles:"
    for g in 1 2 3 4 5; do
        echo "  - name: bench-role-$g"
        echo "    tier: 1"
        echo "    mode: standing"
        echo "    writeBackGroup: \"cn=bench-wb-$g,ou=privileged,ou=groups,$suffix\""
        echo "    credentials: [bench-svc-$((2 * g - 1)), bench-svc-$((2 * g))]"
        echo "    drift: revert"
    done
    echo "rules:"
    for g in 1 2 3 4 5; do
        echo "  - { name: operators-$g, when: { attribute: title, equals: Bench Operator }, grant: bench-role-$g }"
    done
    echo "guard: { maxLeavers: 10, maxLeaverPercent: 50 }"
} >"$work/state/mappings/bench.yaml"
cat >"$work/state/tenure.yaml" <<YAML
ldap:
  urls: ["$LDAP_URL"]
  bindDN: "$LDAP_READER_DN"
  passwordFile: "$LDAP_READER_PASSWORD_FILE"
users:
  baseDNs: ["ou=people,$LDAP_SUFFIX"]
  disabled: [pwdAccountLockedTime]
groups:
  baseDNs: ["ou=groups,$LDAP_SUFFIX"]
state:
  database: tenure.sqlite
  auditKeyFile: audit.key
  mappings: mappings
  vaultKeyFile: vault.key
writeBack:
  bindDN: "$LDAP_WRITER_DN"
  passwordFile: "$LDAP_WRITER_PASSWORD_FILE"
  emptyGroupPlaceholder: "cn=nobody,$suffix"
YAML
config=$work/state/tenure.yaml
"$bin" audit init-key --config "$config" >/dev/null
"$bin" vault init --config "$config" >/dev/null
for s in $(seq 1 10); do
    printf 'bench-initial-%s\n' "$s" | "$bin" vault add "bench-svc-$s" --config "$config" \
        --ldap-account "cn=bench-svc-$s,ou=services,$suffix" --secret-stdin >/dev/null
done
"$bin" sync --config "$config" >/dev/null
members() { # GROUP-NUMBER -> member values
    ldapsearch -x -H "$LDAP_URL" -D "$LDAP_READER_DN" -y "$LDAP_READER_PASSWORD_FILE" -LLL -o ldif-wrap=no \
        -b "cn=bench-wb-$1,ou=privileged,ou=groups,$suffix" -s base member | sed -n 's/^member: //p'
}
for g in 1 2 3 4 5; do
    [[ $(members "$g" | grep -c '^uid=bench-op-') -eq $runs ]] || { echo "setup: group $g lacks operators" >&2; exit 1; }
done

now() { date +%s%N; }
times=()
for ((r = 1; r <= runs; r++)); do
    printf 'dn: uid=bench-op-%s,ou=people,%s\nchangetype: modify\nadd: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n' \
        "$r" "$suffix" >"$work/lock.ldif"
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
    for g in 1 2 3 4 5; do
        if members "$g" | grep -qx "uid=bench-op-$r,ou=people,$suffix"; then
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
