#!/usr/bin/env bash
# sync-benchmark.sh — a no-change `tenure sync` against `tenure pull` alone, on the same
# directory, in the same run (target: sync ≤ 1.2× pull, medians).
#
# USAGE
#   Benchmarks/sync-benchmark.sh [--users N] [--groups M] [--runs R]
#
# It generates a directory (scripts/gen-directory.py, default 100,000 users and 10,000 groups
# with three groups of 20,000 and nesting), loads it into a throwaway slapd on 127.0.0.1, writes a
# configuration with a state: section and mappings of a few roles and rules, runs one first sync
# (timed: it grants everything), then alternates R runs of
#   (a) tenure pull --format table > /dev/null
#   (b) tenure sync > /dev/null            (nothing to change: pull + load model + plan + audit)
# and prints the medians. Exit 0 when the target is met, 3 when not, 1 on error.
set -euo pipefail
cd "$(dirname "$0")/.."
users=100000 groups=10000 runs=5
while [[ $# -gt 0 ]]; do
    case $1 in
    --users) users=$2; shift 2 ;;
    --groups) groups=$2; shift 2 ;;
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
python3 scripts/gen-directory.py --users "$users" --groups "$groups" --big-groups 3 --nesting \
    --out "$work/data.ldif" >&2
scripts/slapd-test-server.sh start "$work/slapd" --slapadd "$work/data.ldif" >"$work/env" 2>/dev/null
rm -f "$work/data.ldif"
# shellcheck disable=SC1091
. "$work/env"
mkdir -p "$work/state/mappings"
cat >"$work/state/mappings/bench.yaml" <<'YAML'
roles:
  - { name: eng-deploy, tier: 1, mode: standing }
  - { name: ops-root, tier: 0, mode: eligible, maxActivation: 2h, requirements: [approval] }
  - { name: big-one, tier: 2, mode: standing }
  - { name: contractor-read, tier: 2, mode: standing }
rules:
  - { name: engineers, when: { attribute: department, equals: Engineering }, grant: eng-deploy, as: standing }
  - name: operations
    when: { all: [ { attribute: department, equals: Operations }, { not: { attribute: employeeType, equals: Contractor } } ] }
    grant: ops-root
    as: eligible
  - { name: big, when: { memberOf: big-01 }, grant: big-one, as: standing }
  - { name: contractors, when: { attribute: employeeType, equals: Contractor }, grant: contractor-read, as: standing }
guard: { maxLeavers: 500, maxLeaverPercent: 10 }
YAML
cat >"$work/state/tenure.yaml" <<YAML
ldap:
  urls: ["$LDAP_URL"]
  bindDN: "$LDAP_READER_DN"
  passwordFile: "$LDAP_READER_PASSWORD_FILE"
  pageSize: 1000
users:
  baseDNs: ["ou=people,$LDAP_SUFFIX"]
groups:
  baseDNs: ["ou=groups,$LDAP_SUFFIX"]
  filter: "(objectClass=groupOfNames)"
state:
  database: tenure.sqlite
  auditKeyFile: audit.key
  mappings: mappings
YAML
config=$work/state/tenure.yaml
"$bin" audit init-key --config "$config" >/dev/null

now() { date +%s%N; }
start=$(now)
"$bin" sync --config "$config" >/dev/null
first=$(( ($(now) - start) / 1000000 ))
echo "first sync (everything granted): ${first} ms" >&2

pulls=() syncs=()
for ((i = 1; i <= runs; i++)); do
    start=$(now); "$bin" pull --config "$config" --format table >/dev/null; pulls+=($(( ($(now) - start) / 1000000 )))
    start=$(now); "$bin" sync --config "$config" >"$work/sync.out"; syncs+=($(( ($(now) - start) / 1000000 )))
    grep -q "No changes" "$work/sync.out" || { echo "sync run $i was not a no-change run:" >&2; cat "$work/sync.out" >&2; exit 1; }
    echo "run $i/$runs: pull ${pulls[-1]} ms, no-change sync ${syncs[-1]} ms" >&2
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mp=$(median "${pulls[@]}") ms=$(median "${syncs[@]}")
ratio=$(awk -v s="$ms" -v p="$mp" 'BEGIN {printf "%.2f", s/p}')
ok=$(awk -v r="$ratio" 'BEGIN {print (r <= 1.2) ? "PASS" : "FAIL"}')
echo
echo "| users | groups | runs | first sync (ms) | pull median (ms) | no-change sync median (ms) | ratio | target ≤ 1.2× |"
echo "|---:|---:|---:|---:|---:|---:|---:|---|"
echo "| $users | $groups | $runs | $first | $mp | $ms | ${ratio}× | $ok |"
[[ $ok == PASS ]] || exit 3
