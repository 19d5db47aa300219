#!/usr/bin/env bash
# audit-benchmark.sh — audit log append and verify throughput of the SQLite store.
#
# USAGE
#   Benchmarks/audit-benchmark.sh [--records N] [--runs R] [--batch B]
#       [--dir DIR] [--bench-bin PATH] [--out FILE]
#
#   --records N       events appended per run (default 200000)
#   --runs R          measured runs, each on a fresh database (default 5)
#   --batch B         events per appendAudit call, i.e. per transaction
#                     (default 1000)
#   --dir DIR         parent of the temporary work directory (default
#                     $TMPDIR, else /var/tmp); it should be a local disk,
#                     not tmpfs, for the numbers to mean anything
#   --bench-bin PATH  use this tenure-bench binary instead of building
#                     .build/release/tenure-bench
#   --out FILE        also write the report (markdown) to FILE
#
# WHAT IT DOES
#   1. swift build -c release --product tenure-bench (unless --bench-bin).
#   2. R times: `tenure-bench audit --records N --batch B --db DIR/run-i.sqlite`
#      — a fresh store with a throwaway random key; N realistic events
#      (actor sync, type role.granted, a UUID subject, a role, 2–3 details)
#      appended in batches of B (timed), then one verifyAudit() over the
#      whole chain (timed; it must report the log intact). Each run prints
#      {"benchmark":"audit.append",...} and {"benchmark":"audit.verify",...}.
#   3. A markdown table on stdout: every run, the medians, the targets.
#
# TARGETS (medians): append >= 50,000 records/s; verify >= 500,000 records/s.
#
# EXIT STATUS: 0 targets met, 3 a target missed, 1 anything else failed.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

RECORDS=200000
RUNS=5
BATCH=1000
PARENT=${TMPDIR:-/var/tmp}
BENCH_BIN=""
OUT=""
APPEND_TARGET=50000
VERIFY_TARGET=500000

die() {
    printf 'audit-benchmark: error: %s\n' "$*" >&2
    exit 1
}
say() { printf 'audit-benchmark: %s\n' "$*" >&2; }

posint() { [[ $2 =~ ^[0-9]+$ && $2 -ge 1 ]] || die "$1 needs a number >= 1 (got '$2')"; }

while [[ $# -gt 0 ]]; do
    case $1 in
    --records) posint "$1" "${2:-}"; RECORDS=$2; shift 2 ;;
    --runs) posint "$1" "${2:-}"; RUNS=$2; shift 2 ;;
    --batch) posint "$1" "${2:-}"; BATCH=$2; shift 2 ;;
    --dir) [[ $# -ge 2 ]] || die "--dir needs a DIR"; PARENT=$2; shift 2 ;;
    --bench-bin) [[ $# -ge 2 ]] || die "--bench-bin needs a PATH"; BENCH_BIN=$2; shift 2 ;;
    --out) [[ $# -ge 2 ]] || die "--out needs a FILE"; OUT=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo pipefail/{/^#/{s/^# \{0,1\}//;p}}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
    esac
done
command -v python3 >/dev/null 2>&1 || die "python3 is needed for the report"
[[ -d $PARENT ]] || die "--dir '$PARENT' is not a directory"

WORK=$(mktemp -d "$PARENT/tenure-audit-bench.XXXXXX")
# shellcheck disable=SC2317  # invoked through the EXIT trap
cleanup() {
    local rc=$?
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

FS_TYPE=$(stat -f -c %T "$WORK" 2>/dev/null || echo unknown)
[[ $FS_TYPE != tmpfs ]] || say "warning: $WORK is on tmpfs (memory), not a disk: the numbers will flatter the store"

# ---- 1. build ----
if [[ -z $BENCH_BIN ]]; then
    command -v swift >/dev/null 2>&1 || export PATH=/opt/swift/usr/bin:$PATH
    command -v swift >/dev/null 2>&1 || die "swift not found: install a Swift toolchain or pass --bench-bin PATH"
    say "building tenure-bench (swift build -c release --product tenure-bench)"
    if ! swift build -c release --product tenure-bench >"$WORK/build.log" 2>&1; then
        tail -n 40 "$WORK/build.log" >&2
        die "swift build failed"
    fi
    BENCH_BIN=$REPO/.build/release/tenure-bench
fi
[[ -x $BENCH_BIN ]] || die "tenure-bench binary '$BENCH_BIN' not found or not executable"

# ---- 2. runs ----
RAW=$WORK/runs.jsonl
: >"$RAW"
for ((i = 1; i <= RUNS; i++)); do
    if ! "$BENCH_BIN" audit --records "$RECORDS" --batch "$BATCH" --db "$WORK/run-$i.sqlite" \
        >"$WORK/run-$i.out" 2>"$WORK/run-$i.err"; then
        cat "$WORK/run-$i.err" >&2
        die "tenure-bench audit failed in run $i"
    fi
    sed "s/^{/{\"run\":$i,/" "$WORK/run-$i.out" >>"$RAW"
    rm -f "$WORK/run-$i.sqlite" "$WORK/run-$i.sqlite-wal" "$WORK/run-$i.sqlite-shm"
    say "run $i/$RUNS: $(tr '\n' ' ' <"$WORK/run-$i.out")"
done

# ---- 3. report ----
REPORT=$WORK/report.md
status=0
python3 - "$RAW" "$RUNS" "$APPEND_TARGET" "$VERIFY_TARGET" >"$REPORT" <<'PY' || status=$?
import json, statistics, sys
raw, runs, append_target, verify_target = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
rows = {}
for line in open(raw):
    if line.strip():
        record = json.loads(line)
        rows.setdefault(record["run"], {})[record["benchmark"]] = record
if len(rows) != runs or any(set(r) != {"audit.append", "audit.verify"} for r in rows.values()):
    print(f"expected {runs} runs with audit.append and audit.verify, got {rows}", file=sys.stderr)
    sys.exit(1)
fmt = lambda value: f"{value:,.0f}"
out = ["| run | append (s) | append (records/s) | verify (s) | verify (records/s) |", "|---:|---:|---:|---:|---:|"]
for run in sorted(rows):
    a, v = rows[run]["audit.append"], rows[run]["audit.verify"]
    out.append(f"| {run} | {a['seconds']:.3f} | {fmt(a['perSecond'])} | {v['seconds']:.3f} | {fmt(v['perSecond'])} |")
append = statistics.median(r["audit.append"]["perSecond"] for r in rows.values())
verify = statistics.median(r["audit.verify"]["perSecond"] for r in rows.values())
append_s = statistics.median(r["audit.append"]["seconds"] for r in rows.values())
verify_s = statistics.median(r["audit.verify"]["seconds"] for r in rows.values())
out.append(f"| **median** | **{append_s:.3f}** | **{fmt(append)}** | **{verify_s:.3f}** | **{fmt(verify)}** |")
out.append("")
ok_append, ok_verify = append >= append_target, verify >= verify_target
out.append("| target | measured (median) | result |")
out.append("|---|---:|---|")
out.append(f"| audit append ≥ {fmt(append_target)} records/s | {fmt(append)} | {'PASS' if ok_append else 'FAIL'} |")
out.append(f"| audit verify ≥ {fmt(verify_target)} records/s | {fmt(verify)} | {'PASS' if ok_verify else 'FAIL'} |")
print("\n".join(out))
sys.exit(0 if ok_append and ok_verify else 3)
PY
[[ $status -eq 0 || $status -eq 3 ]] || die "report generation failed"

{
    echo "# tenure audit benchmark — $(date -u +%Y-%m-%dT%H%M%SZ)"
    echo
    echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (work tree modified)')"
    echo "- machine: $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr)"
    echo "- database: SQLite $(python3 -c 'import sqlite3; print(sqlite3.sqlite_version)' 2>/dev/null || echo '?') (WAL, synchronous=NORMAL) in $PARENT ($FS_TYPE)"
    echo "- workload: $RECORDS events per run in transactions of $BATCH, then verifyAudit() of all $RECORDS; $RUNS runs, a fresh database each"
    echo
    cat "$REPORT"
} >"$WORK/final.md"
cat "$WORK/final.md"
if [[ -n $OUT ]]; then
    mkdir -p "$(dirname "$OUT")"
    cp "$WORK/final.md" "$OUT"
    say "report written to $OUT"
fi
exit "$status"
