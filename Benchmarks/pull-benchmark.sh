#!/usr/bin/env bash
# pull-benchmark.sh — `tenure pull` against ldapsearch on the same directory.
#
# USAGE
#   Benchmarks/pull-benchmark.sh [--runs N] [--users N] [--groups M]
#       [--big-groups K] [--big-group-size S] [--seed N] [--page-size P]
#       [--skip-tenure | --tenure-bin PATH] [--keep] [--out FILE]
#
#   --runs N           measured runs of each side, alternating (default 5)
#   --users N          generated users (default 100000)
#   --groups M         generated groups, big ones included (default 10000)
#   --big-groups K     groups of S members (default 3)
#   --big-group-size S (default 20000, capped at --users)
#   --seed N           generator seed (default 42)
#   --page-size P      paged-results size for both sides (default 1000)
#   --skip-tenure      do not build or run tenure: measure the ldapsearch
#                      baseline only (tenure columns say "skipped"); without
#                      it, a failing build or `tenure pull` fails the script
#   --tenure-bin PATH  use this tenure binary instead of building
#                      .build/release/tenure
#   --keep             leave the server running and its directory in place
#   --out FILE         results file (default
#                      Benchmarks/results/pull-<UTC date-time>.md)
#
# WHAT IT DOES
#   1. scripts/install-deps.sh; `swift build -c release --product tenure`.
#   2. scripts/gen-directory.py --nesting --ad-attributes
#      --disabled-fraction 0.02 (so userAccountControl, accountExpires,
#      pwdAccountLockedTime and nsAccountLock have values to transfer) into
#      Benchmarks/.work/ (git-ignored; deleted once loaded), and a fresh
#      scripts/slapd-test-server.sh loaded with it through slapadd.
#   3. A tenure config (YAML) for the server's reader account.
#   4. One unmeasured warm-up of each side (which also checks that ldapsearch
#      returns every user and group), then N alternating measured runs of
#        (a) ldapsearch -E pr=P/noprompt of ou=people (the attributes tenure
#            requests) followed by ldapsearch of ou=groups, both to /dev/null;
#            wall = both together, peak RSS = the larger of the two;
#        (b) tenure pull --config CFG --format json > /dev/null.
#      Wall time from `date +%s%N`, peak RSS from `/usr/bin/time -v`.
#   5. A markdown table (every run, medians, tenure/ldapsearch ratio, targets)
#      on stdout and in the results file; the server is stopped and removed.
#
# TARGETS: median tenure wall <= 1.5 x median ldapsearch wall, and tenure
# peak RSS (largest run) <= 400 MiB.
#
# EXIT STATUS: 0 targets met (or --skip-tenure), 3 a target missed,
# 1 anything else failed.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

RUNS=5
N_USERS=100000
N_GROUPS=10000
BIG_GROUPS=3
BIG_GROUP_SIZE=20000
SEED=42
PAGE_SIZE=1000
SKIP_TENURE=0
TENURE_BIN=""
KEEP=0
OUT=""
USER_ATTRS=(entryUUID uid mail displayName employeeNumber departmentNumber title manager employeeType
    userAccountControl accountExpires pwdAccountLockedTime nsAccountLock)
GROUP_ATTRS=(entryUUID cn member uniqueMember memberUid)
WALL_FACTOR=1.5
RSS_LIMIT_MIB=400

die() {
    printf 'pull-benchmark: error: %s\n' "$*" >&2
    exit 1
}
say() { printf 'pull-benchmark: %s\n' "$*" >&2; }

posint() { [[ $2 =~ ^[0-9]+$ && $2 -ge ${3:-1} ]] || die "$1 needs a number >= ${3:-1} (got '$2')"; }

while [[ $# -gt 0 ]]; do
    case $1 in
    --runs) posint "$1" "${2:-}"; RUNS=$2; shift 2 ;;
    --users) posint "$1" "${2:-}"; N_USERS=$2; shift 2 ;;
    --groups) posint "$1" "${2:-}" 5; N_GROUPS=$2; shift 2 ;;
    --big-groups) posint "$1" "${2:-}" 0; BIG_GROUPS=$2; shift 2 ;;
    --big-group-size) posint "$1" "${2:-}"; BIG_GROUP_SIZE=$2; shift 2 ;;
    --seed) posint "$1" "${2:-}" 0; SEED=$2; shift 2 ;;
    --page-size) posint "$1" "${2:-}"; PAGE_SIZE=$2; shift 2 ;;
    --skip-tenure) SKIP_TENURE=1; shift ;;
    --tenure-bin) [[ $# -ge 2 ]] || die "--tenure-bin needs a PATH"; TENURE_BIN=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --out) [[ $# -ge 2 ]] || die "--out needs a FILE"; OUT=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo pipefail/{/^#/{s/^# \{0,1\}//;p}}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
    esac
done
[[ $SKIP_TENURE -eq 1 && -n $TENURE_BIN ]] && die "--skip-tenure and --tenure-bin exclude each other"
((BIG_GROUPS + 5 <= N_GROUPS)) || die "--groups must exceed --big-groups by at least 5 (nesting cycles)"
((BIG_GROUP_SIZE > N_USERS)) && BIG_GROUP_SIZE=$N_USERS

STAMP=$(date -u +%Y-%m-%dT%H%M%SZ)
[[ -n $OUT ]] || OUT=Benchmarks/results/pull-$STAMP.md
WORK=$REPO/Benchmarks/.work
mkdir -p "$WORK" "$(dirname "$OUT")"
SERVER_DIR=$WORK/server-$$
CFG=$WORK/tenure-$$.yaml
RAW=$WORK/runs-$$.tsv
LOGS=$WORK/logs-$$
mkdir -p "$LOGS"

# shellcheck disable=SC2317  # invoked through the EXIT trap
cleanup() {
    local rc=$?
    if [[ $KEEP -eq 0 ]]; then
        scripts/slapd-test-server.sh stop "$SERVER_DIR" --clean 2>/dev/null || true
        rm -rf "$LOGS" "$RAW" "$CFG"
    elif [[ -d $SERVER_DIR ]]; then
        say "kept: server $SERVER_DIR (stop: scripts/slapd-test-server.sh stop $SERVER_DIR --clean), config $CFG, logs $LOGS"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 1. dependencies and build ----
scripts/install-deps.sh >&2
[[ -x /usr/bin/time ]] || die "/usr/bin/time missing (package 'time')"
if [[ $SKIP_TENURE -eq 0 ]]; then
    if [[ -z $TENURE_BIN ]]; then
        command -v swift >/dev/null 2>&1 ||
            die "swift not found: install a Swift toolchain, pass --tenure-bin PATH, or --skip-tenure"
        say "building tenure (swift build -c release --product tenure)"
        if ! swift build -c release --product tenure >"$LOGS/build.log" 2>&1; then
            tail -n 40 "$LOGS/build.log" >&2
            die "swift build failed (use --skip-tenure for the ldapsearch baseline only)"
        fi
        TENURE_BIN=$REPO/.build/release/tenure
    fi
    [[ -x $TENURE_BIN ]] || die "tenure binary '$TENURE_BIN' not found or not executable"
fi

# ---- 2. data and server ----
LDIF=$WORK/directory-u$N_USERS-g$N_GROUPS-b${BIG_GROUPS}x$BIG_GROUP_SIZE-s$SEED.ldif
say "generating $N_USERS users, $N_GROUPS groups ($BIG_GROUPS x $BIG_GROUP_SIZE members, nested)"
python3 scripts/gen-directory.py --users "$N_USERS" --groups "$N_GROUPS" \
    --big-groups "$BIG_GROUPS" --big-group-size "$BIG_GROUP_SIZE" --nesting \
    --disabled-fraction 0.02 --ad-attributes --seed "$SEED" --out "$LDIF" 2>"$LOGS/gen.log" ||
    { cat "$LOGS/gen.log" >&2; die "gen-directory.py failed"; }
LDIF_BYTES=$(stat -c %s "$LDIF")

say "starting the test server (slapadd of $((LDIF_BYTES / 1048576)) MiB)"
rm -rf "$SERVER_DIR"
t0=$(date +%s%N)
scripts/slapd-test-server.sh start "$SERVER_DIR" --slapadd "$LDIF" >"$LOGS/server.env" 2>"$LOGS/server.err" ||
    { cat "$LOGS/server.err" >&2; die "could not start the test server"; }
START_S=$(awk -v ns="$(($(date +%s%N) - t0))" 'BEGIN { printf "%.2f", ns / 1e9 }')
rm -f "$LDIF" # 60+ MiB; regenerated (deterministically) next time
# shellcheck disable=SC1091
. "$SERVER_DIR/env"

cat >"$CFG" <<EOF
# written by Benchmarks/pull-benchmark.sh for a throwaway test server
ldap:
  urls: ["$LDAP_URL"]
  bindDN: "$LDAP_READER_DN"
  passwordFile: "$LDAP_READER_PASSWORD_FILE"
  pageSize: $PAGE_SIZE
users:
  baseDNs: ["ou=people,$LDAP_SUFFIX"]
  filter: "(objectClass=inetOrgPerson)"
groups:
  baseDNs: ["ou=groups,$LDAP_SUFFIX"]
  filter: "(objectClass=groupOfNames)"
EOF
chmod 0600 "$CFG"

# ---- 3. the two sides ----
LDAP_COMMON=(-x -H "$LDAP_URL" -D "$LDAP_READER_DN" -y "$LDAP_READER_PASSWORD_FILE" -E "pr=$PAGE_SIZE/noprompt")

peak_rss_kib() { # /usr/bin/time -v output file
    awk -F': *' '/Maximum resident set size/ { print $2 }' "$1"
}

# run_ldapsearch TAG [users_out groups_out] -> prints "wall_ns rss_kib"
run_ldapsearch() {
    local tag=$1 uout=${2:-/dev/null} gout=${3:-/dev/null} t0 t1 rc=0 r1 r2
    t0=$(date +%s%N)
    /usr/bin/time -v -o "$LOGS/$tag-users.time" ldapsearch "${LDAP_COMMON[@]}" \
        -b "ou=people,$LDAP_SUFFIX" '(objectClass=inetOrgPerson)' "${USER_ATTRS[@]}" \
        >"$uout" 2>"$LOGS/$tag-users.err" || rc=$?
    if [[ $rc -eq 0 ]]; then
        /usr/bin/time -v -o "$LOGS/$tag-groups.time" ldapsearch "${LDAP_COMMON[@]}" \
            -b "ou=groups,$LDAP_SUFFIX" '(objectClass=groupOfNames)' "${GROUP_ATTRS[@]}" \
            >"$gout" 2>"$LOGS/$tag-groups.err" || rc=$?
    fi
    t1=$(date +%s%N)
    if [[ $rc -ne 0 ]]; then
        cat "$LOGS/$tag-users.err" "$LOGS/$tag-groups.err" 2>/dev/null >&2 || true
        die "ldapsearch failed (exit $rc) in $tag"
    fi
    r1=$(peak_rss_kib "$LOGS/$tag-users.time")
    r2=$(peak_rss_kib "$LOGS/$tag-groups.time")
    echo "$((t1 - t0)) $((r1 > r2 ? r1 : r2))"
}

# run_tenure TAG [json_out] -> prints "wall_ns rss_kib"
run_tenure() {
    local tag=$1 out=${2:-/dev/null} t0 t1 rc=0
    t0=$(date +%s%N)
    /usr/bin/time -v -o "$LOGS/$tag-tenure.time" "$TENURE_BIN" pull --config "$CFG" --format json \
        >"$out" 2>"$LOGS/$tag-tenure.err" </dev/null || rc=$?
    t1=$(date +%s%N)
    if [[ $rc -ne 0 ]]; then
        tail -n 30 "$LOGS/$tag-tenure.err" >&2
        die "tenure pull failed (exit $rc) in $tag; config $CFG (use --skip-tenure for the ldapsearch baseline only)"
    fi
    echo "$((t1 - t0)) $(peak_rss_kib "$LOGS/$tag-tenure.time")"
}

say "warm-up"
run_ldapsearch warmup "$LOGS/warmup-users.ldif" "$LOGS/warmup-groups.ldif" >/dev/null
n_users=$(grep -c '^dn: ' "$LOGS/warmup-users.ldif" || true)
n_groups=$(grep -c '^dn: ' "$LOGS/warmup-groups.ldif" || true)
rm -f "$LOGS/warmup-users.ldif" "$LOGS/warmup-groups.ldif"
[[ $n_users -eq $N_USERS && $n_groups -eq $N_GROUPS ]] ||
    die "ldapsearch returned $n_users users and $n_groups groups, expected $N_USERS and $N_GROUPS"
TENURE_JSON_BYTES=""
if [[ $SKIP_TENURE -eq 0 ]]; then
    run_tenure warmup "$LOGS/warmup-tenure.json" >/dev/null
    TENURE_JSON_BYTES=$(stat -c %s "$LOGS/warmup-tenure.json")
    rm -f "$LOGS/warmup-tenure.json"
fi

: >"$RAW"
for ((i = 1; i <= RUNS; i++)); do
    res=$(run_ldapsearch "run$i")
    read -r lw lr <<<"$res"
    if [[ $SKIP_TENURE -eq 0 ]]; then
        res=$(run_tenure "run$i")
        read -r tw tr <<<"$res"
    else
        tw=- tr=-
    fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$i" "$lw" "$lr" "$tw" "$tr" >>"$RAW"
    tmsg=skipped
    [[ $tw == - ]] || tmsg=$(awk -v n="$tw" 'BEGIN { printf "%.3f s", n / 1e9 }')
    say "run $i/$RUNS: ldapsearch $(awk -v n="$lw" 'BEGIN { printf "%.3f", n / 1e9 }') s, tenure $tmsg"
done

# ---- 4. report ----
REPORT=$WORK/report-$$.md
status=0
python3 - "$RAW" "$WALL_FACTOR" "$RSS_LIMIT_MIB" >"$REPORT" <<'PY' || status=$?
import statistics, sys
raw, factor, rss_limit = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
rows = [line.rstrip("\n").split("\t") for line in open(raw) if line.strip()]
skip = rows[0][3] == "-"
s = lambda ns: float(ns) / 1e9
mib = lambda kib: float(kib) / 1024
out = []
out.append("| run | ldapsearch wall (s) | ldapsearch peak RSS (MiB) | tenure wall (s) | tenure peak RSS (MiB) | tenure / ldapsearch |")
out.append("|---:|---:|---:|---:|---:|---:|")
for r in rows:
    if skip:
        out.append(f"| {r[0]} | {s(r[1]):.3f} | {mib(r[2]):.1f} | skipped | skipped | – |")
    else:
        out.append(f"| {r[0]} | {s(r[1]):.3f} | {mib(r[2]):.1f} | {s(r[3]):.3f} | {mib(r[4]):.1f} | {s(r[3]) / s(r[1]):.2f}× |")
lw = statistics.median(s(r[1]) for r in rows)
lr = statistics.median(mib(r[2]) for r in rows)
if skip:
    out.append(f"| **median** | **{lw:.3f}** | **{lr:.1f}** | skipped | skipped | – |")
    out.append("")
    out.append("tenure was not run (--skip-tenure): no pass/fail.")
    print("\n".join(out))
    sys.exit(0)
tw = statistics.median(s(r[3]) for r in rows)
tr = statistics.median(mib(r[4]) for r in rows)
tr_max = max(mib(r[4]) for r in rows)
ratio = tw / lw
out.append(f"| **median** | **{lw:.3f}** | **{lr:.1f}** | **{tw:.3f}** | **{tr:.1f}** | **{ratio:.2f}×** |")
out.append("")
ok_wall = ratio <= factor
ok_rss = tr_max <= rss_limit
out.append("| target | measured | result |")
out.append("|---|---|---|")
out.append(f"| tenure wall ≤ {factor}× ldapsearch (medians) | {ratio:.2f}× ({tw:.3f} s vs {lw:.3f} s) | {'PASS' if ok_wall else 'FAIL'} |")
out.append(f"| tenure peak RSS ≤ {rss_limit:.0f} MiB (largest run) | {tr_max:.1f} MiB | {'PASS' if ok_rss else 'FAIL'} |")
print("\n".join(out))
sys.exit(0 if ok_wall and ok_rss else 3)
PY
[[ $status -eq 0 || $status -eq 3 ]] || die "report generation failed"

{
    echo "# tenure pull benchmark — $STAMP"
    echo
    echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (work tree modified)')"
    echo "- machine: $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr)"
    echo "- server: $(/usr/sbin/slapd -VV 2>&1 | head -n 1 | sed 's/^.*OpenLDAP: //; s/ (.*$//'), mdb, 127.0.0.1, plain LDAP"
    echo "- data: $N_USERS users, $N_GROUPS groups ($BIG_GROUPS of $BIG_GROUP_SIZE members, nested to depth 3, 2 cycles), seed $SEED; LDIF $((LDIF_BYTES / 1048576)) MiB; server start (slapadd included) ${START_S} s"
    echo "- paged results: $PAGE_SIZE per page; $RUNS alternating runs after one warm-up of each"
    echo "- ldapsearch: ou=people with \`${USER_ATTRS[*]}\`, then ou=groups with \`${GROUP_ATTRS[*]}\` (wall = both, RSS = larger)"
    if [[ $SKIP_TENURE -eq 0 ]]; then
        echo "- tenure: \`$TENURE_BIN pull --config CFG --format json\` (JSON: $TENURE_JSON_BYTES bytes)"
    else
        echo "- tenure: skipped (--skip-tenure)"
    fi
    echo
    cat "$REPORT"
} >"$OUT"
rm -f "$REPORT"
cat "$OUT"
say "results written to $OUT"
exit "$status"
