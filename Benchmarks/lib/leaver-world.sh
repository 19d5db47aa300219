# shellcheck shell=bash disable=SC2154  # work, bin and the slapd environment come from the caller
# leaver-world.sh — the directory and Tenure state shared by Benchmarks/leaver-benchmark.sh and
# Benchmarks/offboarding-benchmark.sh: the sample directory in a throwaway slapd on 127.0.0.1 plus
# 5 write-back groups (cn=bench-wb-G under ou=privileged,ou=groups), 10 LDAP service accounts
# (cn=bench-svc-S, password bench-initial-S) and N operators (uid=bench-op-I, title Bench
# Operator); mappings giving every operator the 5 standing roles bench-role-G, each written back
# to its group and unlocking 2 of the service accounts; all 10 enrolled in the vault; one first
# sync, checked to have written every operator into every group.
#
# The sourcing script sets `work` (a scratch directory it removes) and `bin` (the tenure binary),
# then calls
#   leaver_world OPERATORS [MAPPINGS_EXTRA] [CONFIG_EXTRA]
# (extra lines appended to the mappings file and to tenure.yaml). Afterwards: `config` (the
# tenure.yaml), `suffix`, `people`, `privileged`, `roles`, `credentials`, the slapd environment
# (LDAP_URL, LDAP_READER_DN, …) and `members G` (the member values of bench-wb-G).
# The caller's EXIT trap must stop the slapd: scripts/slapd-test-server.sh stop "$work/slapd" --clean.

# shellcheck source-path=SCRIPTDIR source=tenure-config.sh
. Benchmarks/lib/tenure-config.sh

roles=5 credentials=10
suffix=dc=tenure,dc=test
people=ou=people,$suffix
privileged=ou=privileged,ou=groups,$suffix

members() { # GROUP-NUMBER -> member values
    ldapsearch -x -H "$LDAP_URL" -D "$LDAP_READER_DN" -y "$LDAP_READER_PASSWORD_FILE" -LLL -o ldif-wrap=no \
        -b "cn=bench-wb-$1,$privileged" -s base member | sed -n 's/^member: //p'
}

leaver_world() {
    local operators=$1 mappings_extra=${2:-} config_extra=${3:-}
    local g s u
    {
        for g in $(seq 1 "$roles"); do
            printf 'dn: cn=bench-wb-%s,%s\nobjectClass: groupOfNames\ncn: bench-wb-%s\nmember: cn=nobody,%s\n\n' \
                "$g" "$privileged" "$g" "$suffix"
        done
        for s in $(seq 1 "$credentials"); do
            printf 'dn: cn=bench-svc-%s,ou=services,%s\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: bench-svc-%s\nuserPassword: bench-initial-%s\n\n' \
                "$s" "$suffix" "$s" "$s"
        done
        for u in $(seq 1 "$operators"); do
            printf 'dn: uid=bench-op-%s,%s\nobjectClass: inetOrgPerson\nuid: bench-op-%s\ncn: Bench Operator %s\nsn: Operator\nemployeeType: Employee\ntitle: Bench Operator\n\n' \
                "$u" "$people" "$u" "$u"
        done
    } >"$work/bench.ldif"
    scripts/slapd-test-server.sh start "$work/slapd" --ldif Config/sample-directory.ldif --ldif "$work/bench.ldif" \
        >"$work/env" 2>/dev/null
    # shellcheck disable=SC1091
    . "$work/env"

    mkdir -p "$work/state/mappings"
    {
        echo "roles:"
        for g in $(seq 1 "$roles"); do
            echo "  - name: bench-role-$g"
            echo "    tier: 1"
            echo "    mode: standing"
            echo "    writeBackGroup: \"cn=bench-wb-$g,$privileged\""
            echo "    credentials: [bench-svc-$((2 * g - 1)), bench-svc-$((2 * g))]"
            echo "    drift: revert"
        done
        echo "rules:"
        for g in $(seq 1 "$roles"); do
            echo "  - { name: operators-$g, when: { attribute: title, equals: Bench Operator }, grant: bench-role-$g }"
        done
        if [[ -n $mappings_extra ]]; then echo "$mappings_extra"; fi
    } >"$work/state/mappings/bench.yaml"
    {
        tenure_config_base
        cat <<YAML
  vaultKeyFile: vault.key
writeBack:
  bindDN: "$LDAP_WRITER_DN"
  passwordFile: "$LDAP_WRITER_PASSWORD_FILE"
  emptyGroupPlaceholder: "cn=nobody,$suffix"
YAML
        if [[ -n $config_extra ]]; then echo "$config_extra"; fi
    } >"$work/state/tenure.yaml"
    config=$work/state/tenure.yaml
    "$bin" audit init-key --config "$config" >/dev/null
    "$bin" vault init --config "$config" >/dev/null
    for s in $(seq 1 "$credentials"); do
        printf 'bench-initial-%s\n' "$s" | "$bin" vault add "bench-svc-$s" --config "$config" \
            --ldap-account "cn=bench-svc-$s,ou=services,$suffix" --secret-stdin >/dev/null
    done
    "$bin" sync --config "$config" >/dev/null
    for g in $(seq 1 "$roles"); do
        [[ $(members "$g" | grep -c '^uid=bench-op-') -eq $operators ]] || {
            echo "setup: group $g lacks operators" >&2
            exit 1
        }
    done
}
