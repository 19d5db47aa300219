#!/usr/bin/env bash
# Self-test of the LDAP test tooling: install-deps.sh, gen-directory.py,
# slapd-test-server.sh (three servers started in parallel, LDAP, LDAPS,
# StartTLS, wrong CA, limits, ACL, ppolicy lock via `modify`) and
# Config/sample-directory.ldif. Takes a few seconds; only 127.0.0.1.
#
# Usage: scripts/test-ldap-scripts.sh [--keep]
#   --keep  leave the work directory (servers are stopped anyway)
# Ends with the line "N passed, M failed"; exit status 0 only if M is 0.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRV=$REPO/scripts/slapd-test-server.sh
GEN=$REPO/scripts/gen-directory.py
KEEP=0
[[ ${1:-} == --keep ]] && KEEP=1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tenure-ldap-selftest.XXXXXX")
passed=0
failed=0

cleanup() {
    local d
    for d in "$WORK"/s*; do
        if [[ -d $d ]]; then "$SRV" stop "$d" >/dev/null 2>&1 || true; fi
    done
    [[ $KEEP -eq 1 ]] || rm -rf "$WORK"
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); printf 'ok    %s\n' "$1"; }
fail() { failed=$((failed + 1)); printf 'FAIL  %s\n' "$1"; }
# check NAME EXPECTED_EXIT CMD... : the command's exit status must be EXPECTED_EXIT
check() {
    local name=$1 want=$2 rc=0
    shift 2
    "$@" >"$WORK/last.out" 2>&1 || rc=$?
    if [[ $rc -eq $want ]]; then ok "$name"; else
        fail "$name (exit $rc, want $want)"
        sed 's/^/      /' "$WORK/last.out" | tail -n 8
    fi
}
# expect NAME ACTUAL WANTED
expect() {
    if [[ "$2" == "$3" ]]; then ok "$1"; else fail "$1 (got '$2', want '$3')"; fi
}
envval() { sed -n "s/^$2=//p" "$1/env"; }

# ---- install-deps ----
out=$("$REPO/scripts/install-deps.sh" 2>&1) && rc=0 || rc=$?
expect "install-deps exits 0" "$rc" 0
if [[ $out =~ ^deps:\ (all\ present|installed\ .+)$ ]]; then
    ok "install-deps prints one deps: line"
else
    fail "install-deps output: $out"
fi

# ---- gen-directory ----
gen_args=(--users 300 --groups 40 --big-groups 2 --big-group-size 150 --nesting
    --disabled-fraction 0.1 --ad-attributes --seed 7)
python3 "$GEN" "${gen_args[@]}" --out "$WORK/a.ldif" 2>/dev/null
python3 "$GEN" "${gen_args[@]}" --out "$WORK/b.ldif" 2>/dev/null
check "gen-directory is deterministic" 0 cmp -s "$WORK/a.ldif" "$WORK/b.ldif"
expect "gen-directory entry count" "$(grep -c '^dn: ' "$WORK/a.ldif")" 340
expect "gen-directory big group size" \
    "$(awk '/^dn: cn=big-01,/{f=1} /^$/{f=0} f && /^member: uid=/' "$WORK/a.ldif" | wc -l)" 150
check "gen-directory 2-cycle" 0 grep -q '^member: cn=cycle-a,' "$WORK/a.ldif"
disabled_gen=$(grep -c '^pwdAccountLockedTime: ' "$WORK/a.ldif" || true)

# ---- three servers in parallel ----
pids=()
"$SRV" start "$WORK/s1" --ldif "$REPO/Config/sample-directory.ldif" >"$WORK/s1.out" 2>"$WORK/s1.err" &
pids+=($!)
"$SRV" start "$WORK/s2" --slapadd "$WORK/a.ldif" >"$WORK/s2.out" 2>"$WORK/s2.err" &
pids+=($!)
"$SRV" start "$WORK/s3" --suffix dc=example,dc=org >"$WORK/s3.out" 2>"$WORK/s3.err" &
pids+=($!)
for p in 1 2 3; do
    if wait "${pids[p - 1]}"; then ok "start s$p (parallel)"; else
        fail "start s$p (parallel)"
        sed 's/^/      /' "$WORK/s$p.err"
    fi
done
[[ -f $WORK/s1/env && -f $WORK/s2/env && -f $WORK/s3/env ]] || {
    echo "$passed passed, $((failed + 1)) failed"
    exit 1
}
ports=$(cat "$WORK"/s*/env | sed -n 's/^LDAPS\{0,1\}_PORT=//p' | sort -u | wc -l)
expect "six distinct ports" "$ports" 6
for key in LDAP_URL LDAPS_URL LDAP_SUFFIX LDAP_ADMIN_DN LDAP_ADMIN_PASSWORD_FILE LDAP_READER_DN \
    LDAP_READER_PASSWORD_FILE LDAP_LIMITED_DN LDAP_LIMITED_PASSWORD_FILE LDAP_WRITER_DN LDAP_WRITER_PASSWORD_FILE \
    LDAP_CA_FILE \
    LDAP_WRONG_CA_FILE SLAPD_PID; do
    [[ -n $(envval "$WORK/s1" "$key") ]] || fail "env key $key missing"
done
ok "env keys present"
check "stdout of start equals DIR/env" 0 cmp -s "$WORK/s1.out" "$WORK/s1/env"
if grep -qF "$(cat "$WORK/s1/reader.password")" "$WORK/s1.out" "$WORK/s1.err"; then
    fail "a password was printed"
else ok "no password printed"; fi
expect "password file mode" "$(stat -c %a "$WORK/s1/reader.password")" 600

# ---- s1: sample directory, TLS, limits, ACL, ppolicy ----
D=$WORK/s1
URL=$(envval "$D" LDAP_URL)
SURL=$(envval "$D" LDAPS_URL)
SUF=$(envval "$D" LDAP_SUFFIX)
CA=$(envval "$D" LDAP_CA_FILE)
WCA=$(envval "$D" LDAP_WRONG_CA_FILE)
READER=(-D "$(envval "$D" LDAP_READER_DN)" -y "$(envval "$D" LDAP_READER_PASSWORD_FILE)")
LIMITED=(-D "$(envval "$D" LDAP_LIMITED_DN)" -y "$(envval "$D" LDAP_LIMITED_PASSWORD_FILE)")
base=(-b "$SUF" -s base dn)

n=$(ldapsearch -x -H "$URL" "${READER[@]}" -b "ou=people,$SUF" -LLL '(objectClass=inetOrgPerson)' dn | grep -c '^dn: ')
expect "sample: 26 people" "$n" 26
n=$(ldapsearch -x -H "$URL" "${READER[@]}" -b "ou=groups,$SUF" -LLL '(objectClass=*)' dn | grep -c '^dn: cn=')
expect "sample: 14 groups (7 + 7 write-back groups)" "$n" 14
check "ldaps with the CA (LDAPTLS_CACERT)" 0 env LDAPTLS_CACERT="$CA" ldapsearch -x -H "$SURL" "${READER[@]}" "${base[@]}"
check "ldaps with the CA (-o TLS_CACERT)" 0 ldapsearch -o "TLS_CACERT=$CA" -x -H "$SURL" "${READER[@]}" "${base[@]}"
check "ldaps://localhost with the CA" 0 env LDAPTLS_CACERT="$CA" ldapsearch -x \
    -H "ldaps://localhost:$(envval "$D" LDAPS_PORT)" "${READER[@]}" "${base[@]}"
check "ldaps with the wrong CA fails" 255 env LDAPTLS_CACERT="$WCA" ldapsearch -x -H "$SURL" "${READER[@]}" "${base[@]}"
check "StartTLS (-ZZ) with the CA" 0 env LDAPTLS_CACERT="$CA" ldapsearch -ZZ -x -H "$URL" "${READER[@]}" "${base[@]}"
check "StartTLS with the wrong CA fails" 1 env LDAPTLS_CACERT="$WCA" ldapsearch -ZZ -x -H "$URL" "${READER[@]}" "${base[@]}"
check "limited-reader hits the size limit" 4 ldapsearch -x -H "$URL" "${LIMITED[@]}" -b "$SUF" dn
check "limited-reader hits it paged too" 4 ldapsearch -x -H "$URL" "${LIMITED[@]}" -E pr=2/noprompt -b "$SUF" dn
WRITER=(-D "$(envval "$D" LDAP_WRITER_DN)" -y "$(envval "$D" LDAP_WRITER_PASSWORD_FILE)")
printf 'dn: cn=auditor,ou=privileged,ou=groups,%s\nchangetype: modify\nadd: member\nmember: uid=lwu,ou=people,%s\n' "$SUF" "$SUF" >"$WORK/wb-add.ldif"
check "writer adds a member to a write-back group" 0 ldapmodify -x -H "$URL" "${WRITER[@]}" -f "$WORK/wb-add.ldif"
printf 'dn: cn=auditor,ou=privileged,ou=groups,%s\nchangetype: modify\ndelete: member\nmember: uid=lwu,ou=people,%s\n' "$SUF" "$SUF" >"$WORK/wb-del.ldif"
check "writer removes it again" 0 ldapmodify -x -H "$URL" "${WRITER[@]}" -f "$WORK/wb-del.ldif"
printf 'dn: cn=dba,ou=groups,%s\nchangetype: modify\nadd: member\nmember: uid=lwu,ou=people,%s\n' "$SUF" "$SUF" >"$WORK/wb-other.ldif"
check "writer cannot write other groups" 50 ldapmodify -x -H "$URL" "${WRITER[@]}" -f "$WORK/wb-other.ldif"
printf 'dn: cn=auditor,ou=privileged,ou=groups,%s\nchangetype: modify\nreplace: description\ndescription: x\n' "$SUF" >"$WORK/wb-desc.ldif"
check "writer cannot write other attributes" 50 ldapmodify -x -H "$URL" "${WRITER[@]}" -f "$WORK/wb-desc.ldif"
check "anonymous cannot read" 32 ldapsearch -x -H "$URL" -b "$SUF" dn
check "wrong password: 49" 49 ldapsearch -x -H "$URL" -D "$(envval "$D" LDAP_READER_DN)" -w wrong "${base[@]}"
n=$(ldapsearch -x -H "$URL" "${READER[@]}" -b "ou=people,$SUF" -LLL userPassword | grep -c '^userPassword' || true)
expect "reader cannot read people's userPassword" "$n" 0
check "locked sample user (fdubois) cannot bind" 49 ldapsearch -x -H "$URL" \
    -D "uid=fdubois,ou=people,$SUF" -w tenure-demo "${base[@]}"
check "sample user (hsato) binds" 0 ldapsearch -x -H "$URL" -D "uid=hsato,ou=people,$SUF" -w tenure-demo "${base[@]}"
printf 'dn: uid=hsato,ou=people,%s\nchangetype: modify\nreplace: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n' "$SUF" >"$WORK/lock.ldif"
check "modify helper sets pwdAccountLockedTime" 0 "$SRV" modify "$D" "$WORK/lock.ldif"
check "locked user cannot bind" 49 ldapsearch -x -H "$URL" -D "uid=hsato,ou=people,$SUF" -w tenure-demo "${base[@]}"
n=$(ldapsearch -x -H "$URL" "${READER[@]}" -b "ou=people,$SUF" -LLL '(uid=hsato)' pwdAccountLockedTime |
    sed -n 's/^pwdAccountLockedTime: //p')
expect "reader sees pwdAccountLockedTime" "$n" 000001010000Z
printf 'dn: uid=hsato,ou=people,%s\nchangetype: modify\ndelete: pwdAccountLockedTime\n' "$SUF" |
    "$SRV" modify "$D" - >/dev/null 2>&1 || true
check "unlocked user binds again" 0 ldapsearch -x -H "$URL" -D "uid=hsato,ou=people,$SUF" -w tenure-demo "${base[@]}"
n=$(ldapsearch -x -H "$URL" "${READER[@]}" -b "ou=groups,$SUF" -LLL '(cn=dba)' memberOf | sed -n 's/^memberOf: //p')
expect "memberof overlay: nested group has memberOf" "$n" "cn=platform-admins,ou=groups,$SUF"

# ---- s2: generated data through slapadd ----
D=$WORK/s2
URL=$(envval "$D" LDAP_URL)
SUF=$(envval "$D" LDAP_SUFFIX)
READER=(-D "$(envval "$D" LDAP_READER_DN)" -y "$(envval "$D" LDAP_READER_PASSWORD_FILE)")
n=$(ldapsearch -x -H "$URL" "${READER[@]}" -E pr=100/noprompt -b "ou=people,$SUF" '(objectClass=inetOrgPerson)' entryUUID | grep -c '^entryUUID: ')
expect "slapadd data: 300 users with entryUUID" "$n" 300
n=$(ldapsearch -x -H "$URL" "${READER[@]}" -b "ou=people,$SUF" '(userAccountControl=514)' dn | grep -c '^dn: ' || true)
expect "slapadd data: disabled users (userAccountControl=514)" "$n" "$disabled_gen"
n=$(ldapsearch -x -H "$URL" "${READER[@]}" -b "ou=groups,$SUF" '(objectClass=groupOfNames)' dn | grep -c '^dn: ')
expect "slapadd data: 40 groups" "$n" 40

# ---- s3: other suffix ----
D=$WORK/s3
check "custom suffix" 0 ldapsearch -x -H "$(envval "$D" LDAP_URL)" -D "$(envval "$D" LDAP_READER_DN)" \
    -y "$(envval "$D" LDAP_READER_PASSWORD_FILE)" -b dc=example,dc=org -s base dn

# ---- stop ----
for s in s1 s2 s3; do
    pid=$(envval "$WORK/$s" SLAPD_PID)
    check "stop $s" 0 "$SRV" stop "$WORK/$s" --clean
    # A zombie (exited, not yet reaped by init) counts as gone.
    state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null || true)
    if [[ -n $state && $state != Z ]]; then fail "slapd $pid of $s still runs"; else ok "slapd of $s is gone"; fi
    if [[ -e $WORK/$s ]]; then fail "$s not removed by --clean"; else ok "$s removed"; fi
done
check "stop of a stopped server is fine" 0 "$SRV" stop "$WORK/s1" --clean

echo
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
