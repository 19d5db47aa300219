#!/usr/bin/env bash
# The main job, on the bundled sample directory:
#   1. install what is missing (apt), build tenure;
#   2. start the sample directory (Config/sample-directory.ldif) in a throwaway slapd on
#      127.0.0.1:3890 (another free port if that one is taken), in .tenure/sample-directory;
#   3. with Config/tenure.yaml and Mappings/: a fresh PIM store, audit key and vault in
#      .tenure/, pull a snapshot, sync (everyone is a joiner; holders written into the
#      privileged write-back groups as cn=tenure-writer; drift handled by each role's policy),
#      apply a scripted day of churn (Config/sample-churn.ldif: joiners, movers, a rename,
#      leavers, a hand-made group change), show the plan, sync again (a leaver's service
#      account is rotated), show the drift report, the vault and the audit, verify the audit;
#   4. stop the directory (unless --keep).
#
# Usage: scripts/demo.sh [--keep]
set -euo pipefail
cd "$(dirname "$0")/.."
keep=0
[[ ${1:-} == --keep ]] && keep=1

command -v swift >/dev/null 2>&1 || export PATH=/opt/swift/usr/bin:$PATH
scripts/install-deps.sh

echo "==> building tenure"
swift build --product tenure 2>&1 | tail -n 1
bin=$(swift build --show-bin-path)/tenure

dir=.tenure/sample-directory
scripts/slapd-test-server.sh stop "$dir" --clean >/dev/null 2>&1 || true
mkdir -p .tenure
port_args=(--port 3890 --tls-port 3891)
if (exec 3<>/dev/tcp/127.0.0.1/3890) 2>/dev/null; then
    echo "==> 127.0.0.1:3890 is taken; using a free port (TENURE_LDAP_URLS overrides the config)"
    port_args=()
fi
echo "==> starting the sample directory"
scripts/slapd-test-server.sh start "$dir" "${port_args[@]}" --ldif Config/sample-directory.ldif >/dev/null
# shellcheck disable=SC1091
. "$dir/env"
export TENURE_LDAP_URLS=$LDAP_URL
if [[ $keep -eq 0 ]]; then
    trap 'scripts/slapd-test-server.sh stop "$dir" --clean >/dev/null 2>&1 || true' EXIT
fi

run() {
    echo
    echo "==> tenure $*"
    "$bin" "$@"
}
config=(--config Config/tenure.yaml)
rm -f .tenure/tenure.sqlite .tenure/tenure.sqlite-wal .tenure/tenure.sqlite-shm .tenure/audit.key
run config check "${config[@]}" --password >/dev/null && echo "configuration OK"
rm -f .tenure/vault.key
run audit init-key "${config[@]}"
run vault init "${config[@]}"
echo
echo "==> tenure vault add ldap-rootdn --ldap-account cn=ldap-rootdn,ou=services,dc=tenure,dc=test --secret-stdin"
printf 'rootdn-demo-initial\n' | "$bin" vault add ldap-rootdn "${config[@]}" \
    --ldap-account cn=ldap-rootdn,ou=services,dc=tenure,dc=test --secret-stdin
run pull "${config[@]}"
run sync "${config[@]}"
echo
echo "==> a day of churn in the directory (Config/sample-churn.ldif)"
scripts/slapd-test-server.sh modify "$dir" Config/sample-churn.ldif
grep -E '^(dn|changetype):' Config/sample-churn.ldif | paste -d ' ' - - | awk '{printf "  %-7s %s\n", $4, $2}'
set +e
run plan "${config[@]}" --detailed-exitcode
status=$?
set -e
echo "(plan exit status $status: 2 = changes to apply)"
run sync "${config[@]}"
run plan "${config[@]}"
run drift "${config[@]}"
run vault show ldap-rootdn "${config[@]}"
run audit tail "${config[@]}" -n 12
run audit verify "${config[@]}"
echo
if [[ $keep -eq 1 ]]; then
    echo "The sample directory keeps running at $LDAP_URL (stop: scripts/slapd-test-server.sh stop $dir --clean)."
    echo "Try: TENURE_LDAP_URLS=$LDAP_URL $bin pull --config Config/tenure.yaml --format json"
fi
