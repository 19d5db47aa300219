#!/usr/bin/env bash
# activation-benchmark.sh — latency of just-in-time activation through the API: POST /v1/activations
# (answered once the activation, its audit record and the index are written) and DELETE
# /v1/activations/{id} (ending it), one request at a time, as people use it. No target in the
# issue: it measures what the API's writes cost with every commit synced (`state.durability: full`,
# the default) against `normal`.
#
# USAGE
#   Benchmarks/activation-benchmark.sh [--count N] [--durability full|normal]
#
# It starts the sample directory (Config/sample-directory.ldif) in a throwaway slapd on 127.0.0.1,
# syncs it into a fresh store with mappings of its own — one eligible role, `bench-jit`, granted to
# everyone in scope, requiring only a justification (no approval, no TOTP: a code cannot be used
# twice, and one per activation would measure the clock) — and starts `tenure serve` (release
# build) on a free port with an `admin` token. Then N times (default 300), over 6 of the sample's
# people in turn: POST an activation of `bench-jit` (it must answer 201, active), DELETE it (204),
# each timed with curl (`%{time_total}`, loopback, a new connection each). Finally the audit
# chain is verified. Prints a Markdown table. Exit 0 on success, 1 on error.
set -euo pipefail
cd "$(dirname "$0")/.."
count=300 durability=full
while [[ $# -gt 0 ]]; do
    case $1 in
    --count) count=$2; shift 2 ;;
    --durability) durability=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 1 ;;
    esac
done
[[ $durability == full || $durability == normal ]] || { echo "--durability is full or normal" >&2; exit 1; }
# shellcheck source-path=SCRIPTDIR source=lib/bench-tools.sh
. Benchmarks/lib/bench-tools.sh
bench_release_build

bench_workdir
bench_sample_directory
port=$(bench_free_port)
bench_token bench admin
mkdir -p "$work/state/mappings"
cp Mappings/policy.yaml "$work/state/mappings/"
cat >"$work/state/mappings/roles.yaml" <<'YAML'
roles:
  - name: bench-jit
    tier: 2
    mode: eligible
    maxActivation: 1h
    requirements: [justification]
YAML
cat >"$work/state/mappings/rules.yaml" <<'YAML'
rules:
  - name: everyone-gets-bench-jit
    when:
      underDN: "ou=people,dc=tenure,dc=test"
    grant: bench-jit
YAML
# shellcheck source-path=SCRIPTDIR source=lib/tenure-config.sh
. Benchmarks/lib/tenure-config.sh
{
    tenure_config_base
    cat <<YAML
  durability: $durability
server:
  port: $port
  tokens:
    - name: bench
      sha256: "$hash"
      scopes: [admin]
YAML
} >"$work/state/tenure.yaml"
config=$work/state/tenure.yaml
bench_sync_and_serve
base=http://127.0.0.1:$port
for _ in $(seq 1 100); do curl -s "$base/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

people=(kmueller aivanova rpatel dkowalski mchen lwu)
: >"$work/post.times"
: >"$work/delete.times"
for i in $(seq 1 "$count"); do
    subject=${people[$((i % ${#people[@]}))]}
    out=$(curl -s -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
        -w '\n%{http_code} %{time_total}\n' "$base/v1/activations" \
        -d "{\"subject\":\"$subject\",\"role\":\"bench-jit\",\"duration\":600,\"justification\":\"benchmark $i\"}")
    status=$(tail -n 1 <<<"$out" | cut -d' ' -f1)
    id=$(head -n 1 <<<"$out" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("id",""))' 2>/dev/null || true)
    if [[ $status != 201 || -z $id ]]; then
        echo "activation $i of $subject: HTTP $status: $(head -n 1 <<<"$out")" >&2
        exit 1
    fi
    tail -n 1 <<<"$out" | cut -d' ' -f2 >>"$work/post.times"
    ended=$(curl -s -o /dev/null -X DELETE -H "Authorization: Bearer $token" -w '%{http_code} %{time_total}' \
        "$base/v1/activations/$id")
    [[ ${ended%% *} == 204 ]] || { echo "ending $id: HTTP ${ended%% *}" >&2; exit 1; }
    echo "${ended#* }" >>"$work/delete.times"
    if ((i % 100 == 0)); then echo "activated and ended $i/$count" >&2; fi
done
kill "$serve_pid"
wait "$serve_pid" 2>/dev/null || true
serve_pid=""
"$bin" audit verify --config "$config" >/dev/null || { echo "the audit chain does not verify" >&2; exit 1; }

stats() {
    sort -n "$1" | awk '{v[NR]=$1*1000} END {
        p50=v[int((NR+1)/2)]; i=int(NR*0.99+0.999999); if (i<1) i=1; if (i>NR) i=NR
        printf "%.1f | %.1f | %.1f", p50, v[i], v[NR]}'
}
echo
echo "| request (durability $durability, $count each) | median (ms) | p99 (ms) | max (ms) |"
echo "|---|---:|---:|---:|"
echo "| POST /v1/activations | $(stats "$work/post.times") |"
echo "| DELETE /v1/activations/{id} | $(stats "$work/delete.times") |"
