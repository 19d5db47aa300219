# shellcheck shell=bash disable=SC2154  # the LDAP_* variables come from the slapd environment
# tenure-config.sh — the part of tenure.yaml every benchmark shares: the throwaway slapd started by
# scripts/slapd-test-server.sh (its environment file sourced: LDAP_URL, LDAP_READER_DN, …) read as
# the reader account, and the state in tenure.sqlite / audit.key / mappings beside the file.
# Prints it; the caller appends its own sections (vault, writeBack, server).
tenure_config_base() {
    cat <<YAML
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
YAML
}
