#!/usr/bin/env bash
# offboarding-benchmark.sh — HR offboarding latency through SCIM: from the PATCH that deactivates
# a user arriving at `tenure serve` to its response, which is sent only after the linked
# identity's roles are revoked, it is removed from every write-back group, the credentials it could
# know are rotated and all of it is audited (target: p99 under 1 s).
#
# USAGE
#   Benchmarks/offboarding-benchmark.sh [--users N] [--population M]
#
# It starts the sample directory (Config/sample-directory.ldif) in a throwaway slapd on 127.0.0.1
# and adds 5 write-back groups, 10 LDAP service accounts and N operators (default 50). The mappings
# give every operator 5 standing roles; each role has a write-back group and unlocks 2 of the 10
# service accounts, all enrolled in the vault. One sync grants the roles and writes the operators
# into the groups. With --population M (default 0), M more people (uid=bench-emp-K, employeeNumber
# BE-K, no privileged role) are added to the directory as the rootDN and synced, so the store and the
# model hold M + N identities and HR users: the people HR knows but does not offboard here, the size
# a per-request scan of every HR user, offboarding or identity would show in the latencies. Then
# `tenure serve` (release build) starts on a free port with an `hr` token,
# and one SCIM user per person is created, each POST timed: first the M (Enterprise employeeNumber
# = BE-K, no externalId, so linked by employee number), then one per operator (externalId = the
# operator's entryUUID, so it is linked to its identity); every one must be linked. Then, for each operator in turn, an Entra-style
#   PATCH /scim/v2/Users/{id}  {"Operations":[{"op":"Replace","path":"active","value":"False"}]}
# is timed with curl (`%{time_total}`, loopback, a new connection each): revoke 5 roles, remove
# the operator from 5 groups (as the writer account), rotate 10 passwords (Password Modify, then a
# verifying bind each), audit everything. Right after each response the operator is checked to be
# in no privileged group any more. After the last one the server is stopped (SIGTERM) and the audit
# is checked: per operator an hr.termination and an offboarding.completed (success) with 5
# role.revoked, 5 writeback.remove and 10 credential.rotate records, all successful, no failure
# anywhere, the chain verified; no service account binds with its initial password; and none of the M
# was offboarded. Prints a Markdown table (the POST columns time all M + N creations). Exit 0 when p99 is under 1 s, 3 when not, 1 on error.
set -euo pipefail
cd "$(dirname "$0")/.."
users=50
population=0
while [[ $# -gt 0 ]]; do
    case $1 in
    --users) users=$2; shift 2 ;;
    --population) population=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 1 ;;
    esac
done
[[ $users =~ ^[1-9][0-9]*$ ]] || { echo "--users needs a positive number" >&2; exit 1; }
[[ $population =~ ^(0|[1-9][0-9]*)$ ]] || { echo "--population needs a number (0 or more)" >&2; exit 1; }
# shellcheck source-path=SCRIPTDIR source=lib/bench-tools.sh
. Benchmarks/lib/bench-tools.sh
bench_release_build

bench_workdir
port=$(bench_free_port)
bench_token bench-hr hr
# shellcheck source-path=SCRIPTDIR source=lib/leaver-world.sh
. Benchmarks/lib/leaver-world.sh
leaver_world "$users" "" "server:
  port: $port
  tokens:
    - name: bench-hr
      sha256: \"$hash\"
      scopes: [hr]"
if ((population > 0)); then
    for k in $(seq 1 "$population"); do
        printf 'dn: uid=bench-emp-%s,%s\nobjectClass: inetOrgPerson\nuid: bench-emp-%s\ncn: Bench Employee %s\nsn: Employee\nemployeeType: Employee\nemployeeNumber: BE-%s\ntitle: Bench Employee\n\n' \
            "$k" "$people" "$k" "$k" "$k"
    done >"$work/population.ldif"
    ldapadd -x -H "$LDAP_URL" -D "$LDAP_ADMIN_DN" -y "$LDAP_ADMIN_PASSWORD_FILE" -f "$work/population.ldif" >/dev/null
    "$bin" sync --config "$config" >/dev/null
fi
# The operators' stable ids (entryUUID), from the snapshot.
"$bin" pull --config "$config" --format json >"$work/snapshot.json"
python3 - "$work/snapshot.json" >"$work/ids" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
for identity in doc["identities"]:
    name = identity.get("username") or ""
    if name.startswith("bench-op-"):
        print(name, identity["id"])
PY
[[ $(wc -l <"$work/ids") -eq $users ]] || { echo "setup: the snapshot lacks operators" >&2; exit 1; }

"$bin" serve --config "$config" >"$work/serve.log" 2>&1 &
serve_pid=$!
base=http://127.0.0.1:$port
for _ in $(seq 1 100); do
    curl -s "$base/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -s "$base/healthz" >/dev/null || { echo "tenure serve did not start" >&2; cat "$work/serve.log" >&2; exit 1; }
# Curl's headers come from a file, so the token is on no command line.
printf 'Authorization: Bearer %s\nContent-Type: application/scim+json\n' "$token" >"$work/headers"
chmod 600 "$work/headers"
scim() { # METHOD PATH BODY -> "CODE SECONDS", the response body in $work/response
    curl -s -S --max-time 30 -X "$1" -H "@$work/headers" --data-binary "$3" -o "$work/response" \
        -w '%{http_code} %{time_total}\n' "$base/scim/v2/$2"
}

# One SCIM user per person of the population, linked by employee number.
post_times=()
ms() { awk -v s="$1" 'BEGIN {printf "%.1f", s * 1000}'; }
for k in $(seq 1 "$population"); do
    read -r code seconds < <(scim POST Users \
        "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\",\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"],\"userName\":\"bench-emp-$k\",\"active\":true,\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\":{\"employeeNumber\":\"BE-$k\"}}")
    [[ $code == 201 ]] || { echo "POST /Users for bench-emp-$k: HTTP $code $(cat "$work/response")" >&2; exit 1; }
    post_times+=("$(ms "$seconds")")
    if ((k % 500 == 0)); then echo "created $k/$population (last: ${post_times[-1]} ms)" >&2; fi
done
# One SCIM user per operator, linked by externalId.
declare -A hr_id
while read -r name id; do
    read -r code seconds < <(scim POST Users \
        "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"$name\",\"externalId\":\"$id\",\"active\":true}")
    [[ $code == 201 ]] || { echo "POST /Users for $name: HTTP $code $(cat "$work/response")" >&2; exit 1; }
    post_times+=("$(ms "$seconds")")
    hr_id[$name]=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["id"])' "$work/response")
done <"$work/ids"
before=$("$bin" audit tail --config "$config" -n 1 | awk '{print $1}')

patch='{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}'
times=()
i=0
while read -r name _; do
    i=$((i + 1))
    read -r code seconds < <(scim PATCH "Users/${hr_id[$name]}" "$patch")
    [[ $code == 200 ]] || { echo "PATCH for $name: HTTP $code $(cat "$work/response")" >&2; exit 1; }
    grep -q '"active":false' "$work/response" || { echo "PATCH for $name: $(cat "$work/response")" >&2; exit 1; }
    times+=("$(ms "$seconds")")
    # The response came after the offboarding: the operator is already in no privileged group.
    left=$(ldapsearch -x -H "$LDAP_URL" -D "$LDAP_READER_DN" -y "$LDAP_READER_PASSWORD_FILE" -LLL -o ldif-wrap=no \
        -b "$privileged" "(member=uid=$name,$people)" dn | grep -c '^dn:' || true)
    [[ $left -eq 0 ]] || { echo "$name is still in $left privileged group(s) after the 200" >&2; exit 1; }
    if ((i % 10 == 0 || i == users)); then echo "offboarded $i/$users (last: ${times[-1]} ms)" >&2; fi
done <"$work/ids"

kill -TERM "$serve_pid"
wait "$serve_pid" || { echo "tenure serve did not stop cleanly" >&2; cat "$work/serve.log" >&2; exit 1; }
serve_pid=""
"$bin" audit verify --config "$config" >/dev/null
"$bin" audit export --config "$config" --format jsonl --after "$before" >"$work/audit.jsonl"
"$bin" audit export --config "$config" --format jsonl >"$work/audit-all.jsonl"
python3 - "$work/audit.jsonl" "$work/ids" "$roles" "$credentials" "$work/audit-all.jsonl" "$population" <<'PY' || exit 1
import collections, json, sys
records = [json.loads(line) for line in open(sys.argv[1])]
ids = dict(line.split() for line in open(sys.argv[2]))
roles, credentials = int(sys.argv[3]), int(sys.argv[4])
population = int(sys.argv[6])
failures = [r for r in records if r["outcome"] == "failure"]
count = collections.Counter((r["subject"], r["type"], r["outcome"]) for r in records)
problems = [f"{len(failures)} failed record(s), e.g. {failures[0]}"] if failures else []
everything = [json.loads(line) for line in open(sys.argv[5])]
linked = sum(1 for r in everything if r["type"] == "hr.user.linked")
if linked != len(ids) + population:
    problems.append(f"{linked} HR users linked, expected {len(ids) + population}")
offboarded = {r["subject"] for r in records if r["type"] in ("hr.termination", "offboarding.completed")}
if offboarded - set(ids.values()):
    problems.append(f"{len(offboarded - set(ids.values()))} identities offboarded that are not operators")
expected = {("hr.termination", "success"): 1, ("offboarding.completed", "success"): 1,
            ("role.revoked", "success"): roles, ("writeback.remove", "success"): roles,
            ("credential.rotate", "success"): credentials}
for name, identity in ids.items():
    for (kind, outcome), n in expected.items():
        got = count[(identity, kind, outcome)]
        if got != n:
            problems.append(f"{name}: {got} {kind} ({outcome}), expected {n}")
if problems:
    print("audit check failed:\n  " + "\n  ".join(problems[:20]), file=sys.stderr)
    sys.exit(1)
PY
for s in $(seq 1 "$credentials"); do
    if ldapwhoami -x -H "$LDAP_URL" -D "cn=bench-svc-$s,ou=services,$suffix" -w "bench-initial-$s" >/dev/null 2>&1; then
        echo "bench-svc-$s still binds with its initial password" >&2; exit 1
    fi
done
if grep -qF "$token" "$work/serve.log" "$work/audit.jsonl"; then echo "the token leaked into the log or audit" >&2; exit 1; fi

sorted=$(printf '%s\n' "${times[@]}" | sort -n)
rank() { awk -v p="$1" '{a[NR]=$1} END {r=int(p*NR/100); if (r<p*NR/100) r++; if (r<1) r=1; print a[r]}' <<<"$sorted"; }
md=$(rank 50) p99=$(rank 99) mx=$(tail -n 1 <<<"$sorted")
sorted=$(printf '%s\n' "${post_times[@]}" | sort -n)
post_md=$(rank 50) post_p99=$(rank 99)
ok=$(awk -v p="$p99" 'BEGIN {print (p < 1000) ? "PASS" : "FAIL"}')
echo
echo "| operators (N) | other HR users (M) | roles / write-back groups each | credentials rotated each | POST median (ms) | POST p99 (ms) | PATCH median (ms) | PATCH p99 (ms) | PATCH max (ms) | target p99 < 1 s |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
echo "| $users | $population | $roles | $credentials | $post_md | $post_p99 | $md | $p99 | $mx | $ok |"
[[ $ok == PASS ]] || exit 3
