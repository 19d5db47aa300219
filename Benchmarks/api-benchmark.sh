#!/usr/bin/env bash
# api-benchmark.sh — decisions per second and p99 latency of POST /access/v1/evaluation, against an
# nginx on the same machine that answers every request with a fixed 200 (the ceiling of an HTTP
# server here), measured with wrk in the same run (keep-alive, loopback).
# Targets (issue 5): at least 0.5× nginx's requests per second, p99 under 5 ms.
#
# USAGE
#   Benchmarks/api-benchmark.sh [--duration 10] [--connections 32] [--threads 1] [--audit-flush SECONDS]
#   (--audit-flush sets server.auditFlushSeconds, the audit batcher's wait; default: the server's)
#
# It starts the sample directory in a throwaway slapd on 127.0.0.1, syncs it into a fresh store,
# starts `tenure serve` (release build) on a free port with one `check` token, starts nginx on
# another port, warms both up, then runs wrk against each with the same settings: the same POST
# (an AuthZEN evaluation for a user and a role, alternating permit and deny subjects through a wrk
# script), the same connections and duration. Every decision is audited (batched commits), as in
# production. Prints a Markdown table, then tenure serve's CPU time per decision (its network
# threads and the rest, from /proc). Exit 0 when both targets are met, 3 when not, 1 on error.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=10 connections=32 threads=1 audit_flush=""
while [[ $# -gt 0 ]]; do
    case $1 in
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --audit-flush) audit_flush=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 1 ;;
    esac
done
# shellcheck source-path=SCRIPTDIR source=lib/bench-tools.sh
. Benchmarks/lib/bench-tools.sh
bench_release_build
for tool in wrk nginx; do
    if ! command -v "$tool" >/dev/null 2>&1 && [[ ! -x /usr/sbin/$tool ]]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$tool" >/dev/null
    fi
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

bench_workdir
bench_sample_directory
api_port=$(bench_free_port) nginx_port=$(bench_free_port)
bench_token bench check
mkdir -p "$work/state"
cp -r Mappings "$work/state/mappings"
# shellcheck source-path=SCRIPTDIR source=lib/tenure-config.sh
. Benchmarks/lib/tenure-config.sh
{
    tenure_config_base
    cat <<YAML
server:
  port: $api_port
${audit_flush:+  auditFlushSeconds: $audit_flush
}  tokens:
    - name: bench
      sha256: "$hash"
      scopes: [check]
YAML
} >"$work/state/tenure.yaml"
config=$work/state/tenure.yaml
bench_sync_and_serve

cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $work/nginx-body;
    server {
        listen 127.0.0.1:$nginx_port;
        location / { return 200 '{"decision":true}'; }
    }
}
NGINX
"$NGINX" -c "$work/nginx.conf" -g 'daemon off;' &
nginx_pid=$!

for _ in $(seq 1 100); do
    curl -s "http://127.0.0.1:$api_port/healthz" >/dev/null 2>&1 && curl -s "http://127.0.0.1:$nginx_port/" >/dev/null 2>&1 && break
    sleep 0.1
done

cat >"$work/post.lua" <<LUA
local bodies = {
  '{"subject":{"type":"user","id":"kmueller"},"resource":{"type":"role","id":"payments-operator"},"action":{"name":"assume"}}',
  '{"subject":{"type":"user","id":"aivanova"},"resource":{"type":"role","id":"payments-operator"},"action":{"name":"assume"}}',
}
local i = 0
request = function()
  i = i + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["Authorization"] = "Bearer $token"}, bodies[(i % 2) + 1])
end
LUA
# Sanity: both answer as expected.
curl -s -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"subject":{"type":"user","id":"aivanova"},"resource":{"type":"role","id":"payments-operator"},"action":{"name":"assume"}}' \
    "http://127.0.0.1:$api_port/access/v1/evaluation" | grep -q '"decision":true' || { echo "tenure did not permit the sanity request" >&2; cat "$work/serve.log" >&2; exit 1; }

measure() { # URL → "rps p99ms requests"
    wrk -t"$threads" -c"$connections" -d"${duration}s" --latency -s "$work/post.lua" "$1" >"$work/wrk.out"
    local rps p99 requests
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.out")
    requests=$(awk '/ requests in / {print $1}' "$work/wrk.out")
    p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us$/, "", v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/, "", v)} else if (v ~ /s$/) {sub(/s$/, "", v); v=v*1000}; print v}' "$work/wrk.out")
    if grep -q "Non-2xx" "$work/wrk.out"; then echo "non-2xx responses from $1:" >&2; cat "$work/wrk.out" >&2; exit 1; fi
    echo "$rps $p99 $requests"
}
# CPU time (clock ticks, user + system) of tenure serve's threads: "network other" — NIO's event loops,
# and the rest (the audit writer, the checkpointer, Swift's pool). Threads that end between two
# snapshots are not counted.
cpu_ticks() {
    local network=0 other=0 task name ticks
    for task in /proc/"$serve_pid"/task/*; do
        name=$(cat "$task/comm" 2>/dev/null) || continue
        # utime and stime: fields 14 and 15, counted after the ")" that ends the name.
        ticks=$(sed 's/.*) //' "$task/stat" 2>/dev/null | awk '{print $12 + $13}') || continue
        case $name in
        NIO-*) network=$((network + ticks)) ;;
        *) other=$((other + ticks)) ;;
        esac
    done
    echo "$network $other"
}
# Warm-up (JIT-free, but caches and connections).
wrk -t1 -c4 -d2s -s "$work/post.lua" "http://127.0.0.1:$api_port/access/v1/evaluation" >/dev/null
read -r nginx_rps nginx_p99 _ < <(measure "http://127.0.0.1:$nginx_port/access/v1/evaluation")
read -r network_before other_before < <(cpu_ticks)
read -r api_rps api_p99 api_requests < <(measure "http://127.0.0.1:$api_port/access/v1/evaluation")
read -r network_after other_after < <(cpu_ticks)
cpu=$(awk -v n=$((network_after - network_before)) -v o=$((other_after - other_before)) -v r="$api_requests" \
    -v hz="$(getconf CLK_TCK)" 'BEGIN {f = 1e6 / hz / r; printf "%.1f µs (network threads %.1f, audit writer and the rest %.1f)", (n + o) * f, n * f, o * f}')
# For scale: the same server answering GET /healthz (no token, no body, no decision, no audit) — the
# floor of the HTTP stack itself on this machine.
wrk -t"$threads" -c"$connections" -d"${duration}s" --latency "http://127.0.0.1:$api_port/healthz" >"$work/wrk.out"
health_rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.out")
health_p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us$/, "", v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/, "", v)} else if (v ~ /s$/) {sub(/s$/, "", v); v=v*1000}; print v}' "$work/wrk.out")
decisions=$("$bin" audit export --config "$config" --format csv | grep -c ',access.decision,' || true)
ratio=$(awk -v a="$api_rps" -v n="$nginx_rps" 'BEGIN {printf "%.2f", a/n}')
ok=$(awk -v r="$ratio" -v p="$api_p99" 'BEGIN {print (r >= 0.5 && p < 5) ? "PASS" : "FAIL"}')
echo
echo "| server | requests/s | p99 (ms) |"
echo "|---|---:|---:|"
echo "| nginx (fixed 200) | $nginx_rps | $nginx_p99 |"
echo "| tenure /access/v1/evaluation (audited) | $api_rps | $api_p99 |"
echo "| tenure GET /healthz (for scale: no token, decision or audit) | $health_rps | $health_p99 |"
echo
echo "tenure/nginx: ${ratio}× (target ≥ 0.5×), p99 ${api_p99} ms (target < 5 ms): $ok; $decisions decisions audited; wrk -t$threads -c$connections -d${duration}s"
echo "tenure serve's CPU per decision: $cpu"
[[ $ok == PASS ]] || exit 3
