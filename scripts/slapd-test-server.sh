#!/usr/bin/env bash
# slapd-test-server.sh — a throwaway OpenLDAP server for Tenure's tests, demo
# and benchmarks. Listens on 127.0.0.1 only.
#
# USAGE
#   scripts/slapd-test-server.sh start DIR [--suffix DN] [--slapadd FILE]...
#                                [--ldif FILE]... [--port P] [--tls-port P]
#                                [--timeout SECONDS] [--debug]
#       Create DIR (must be absent or empty), generate a CA + server
#       certificate, passwords and a cn=config, load the base entries and every
#       --slapadd FILE offline (slapadd -q: fast, but overlays such as memberof
#       do not run, so memberOf is not computed for that data), start slapd,
#       wait until it answers, then ldapadd every --ldif FILE as the admin
#       (with the same controls as `modify`, see below). FILE may be "-" for
#       stdin (once). Prints the KEY=value lines of DIR/env on stdout (and
#       nothing else on stdout); a one-line summary goes to stderr.
#         --slapadd-unchecked FILE   like --slapadd, without schema checks
#                        (slapadd -s), for public data with schema quirks
#         --suffix DN    default dc=tenure,dc=test (the first RDN must be dc=,
#                        o= or ou=; only letters, digits and '-' in values)
#         --port P       listen for ldap:// on 127.0.0.1:P instead of a random
#                        free port (e.g. 3890 for Config/tenure.yaml's demo);
#         --tls-port P   the same for ldaps://. A fixed port that is taken
#                        fails the start (no retry).
#         --timeout S    how long to wait for slapd to answer (default 10)
#         --debug        run slapd with `-d stats` (one log line per operation)
#                        instead of `-d none` (errors and start/stop only)
#   scripts/slapd-test-server.sh stop DIR [--clean]
#       SIGTERM the slapd of DIR, SIGKILL after 5 s. --clean then removes DIR.
#       Succeeds if it is not running.
#   scripts/slapd-test-server.sh modify DIR FILE|-
#       ldapmodify as the admin (rootDN) with the Relax Rules control
#       (-e relax), e.g. to lock or unlock an account (see below).
#   scripts/slapd-test-server.sh add DIR FILE|-
#       The same with ldapadd (ldapmodify -a).
#   scripts/slapd-test-server.sh env DIR       print DIR/env
#   scripts/slapd-test-server.sh status DIR    exit 0 if the slapd of DIR runs
#
# DIR/env (also printed by `start`) — KEY=value lines, no quoting (values are
# checked to need none), for `set -a; . DIR/env; set +a` or a line parser:
#   LDAP_URL=ldap://127.0.0.1:PORT         (StartTLS works here too: -ZZ)
#   LDAPS_URL=ldaps://127.0.0.1:TLSPORT
#   LDAP_HOST=127.0.0.1  LDAP_PORT=PORT  LDAPS_PORT=TLSPORT
#   LDAP_SUFFIX=dc=tenure,dc=test
#   LDAP_ADMIN_DN=cn=admin,<suffix>        rootDN; no entry in the tree
#   LDAP_ADMIN_PASSWORD_FILE=DIR/admin.password
#   LDAP_READER_DN=cn=tenure-reader,ou=services,<suffix>   no size/time limits
#   LDAP_READER_PASSWORD_FILE=DIR/reader.password
#   LDAP_LIMITED_DN=cn=limited-reader,ou=services,<suffix> at most 5 entries
#   LDAP_LIMITED_PASSWORD_FILE=DIR/limited.password          (also paged)
#   LDAP_CA_FILE=DIR/tls/ca.pem            CA of the server certificate
#   LDAP_WRONG_CA_FILE=DIR/tls/wrong-ca.pem  an unrelated CA (must not verify)
#   SLAPD_PID=PID  SLAPD_DIR=DIR
# Password files hold the password without a trailing newline (as
# `ldapsearch -y` wants), mode 0600. Passwords are never printed.
#
# SERVER
#   slapd (Debian: 2.5, GnuTLS) runs as the calling user, in the foreground
#   under `-d`, detached into its own session, log in DIR/slapd.log, pid in
#   DIR/slapd.pid, config in DIR/slapd.d, data (mdb, 4 GiB sparse map,
#   dbnosync) in DIR/data. It lives until `stop` (nothing else stops it).
#   Certificates: DIR/tls (EC P-256 keys in PKCS#8 PEM, valid 2 days; server:
#   CN=127.0.0.1, SAN IP:127.0.0.1, DNS:localhost and DNS:<this host's name>,
#   because libldap checks a connection to "localhost" against the local host
#   name). Clients: LDAPTLS_CACERT=$LDAP_CA_FILE (or ldapsearch
#   -o TLS_CACERT=...) for ldaps:// and for StartTLS (ldapsearch -ZZ).
#   Schemas: core, cosine, nis, inetorgperson, scripts/ldap/tenure-test.ldif
#   (userAccountControl, accountExpires, objectGUID, nsAccountLock and the
#   auxiliary class tenureTestAccount); ppolicy's schema is built into its
#   overlay in 2.5.
#   Overlays on the database: memberof (memberOfRefInt; memberOf is set on
#   the direct members of a groupOfNames added/changed online, not
#   transitively, and not by slapadd), refint (member, uniqueMember; deleting
#   the last member of a groupOfNames leaves that dangling DN, since the schema
#   needs one; manager is not maintained), syncprov, ppolicy (default policy
#   cn=default,ou=policies,<suffix>: lockout after 5 failures for 5 minutes;
#   the two service accounts use cn=service-accounts,ou=policies,<suffix>,
#   which never locks, so tests of bad passwords cannot lock the reader out).
#   Base entries: <suffix>, ou=people, ou=groups, ou=services, ou=policies,
#   the two policies and the two service accounts — --ldif/--slapadd files
#   must not contain these.
#   ACL: userPassword: self write, anonymous auth; everything else: read by
#   any authenticated user; anonymous can only bind. The admin can also manage
#   cn=config (e.g. change olcLimits at run time). Default size limit 500.
#
# LOCKING AN ACCOUNT (pwdAccountLockedTime)
#   pwdAccountLockedTime is a ppolicy operational attribute. In OpenLDAP 2.5 it
#   is not NO-USER-MODIFICATION, so the rootDN can set it with an ordinary
#   modify or add (and slapadd accepts it too); `modify`/`add` and --ldif add
#   the Relax Rules control anyway, which is harmless. The special value
#   000001010000Z locks permanently (until removed); any other time locks for
#   pwdLockoutDuration (300 s under the default policy) from that time. A
#   locked user's bind fails with invalidCredentials (49). For example:
#     scripts/slapd-test-server.sh modify "$DIR" - <<'LDIF'
#     dn: uid=alice,ou=people,dc=tenure,dc=test
#     changetype: modify
#     replace: pwdAccountLockedTime
#     pwdAccountLockedTime: 000001010000Z
#     LDIF
#   (unlock: "delete: pwdAccountLockedTime").
#
# Several servers can run at once (distinct DIRs): ports are picked at random
# among free 127.0.0.1 ports in 20000-32767 under a lock
# (${TMPDIR:-/tmp}/tenure-slapd-test-server.<uid>.lock, via flock), and a start
# whose bind fails is retried on new ports (up to 5 attempts).
# DIR must be a path of letters, digits and . _ / + @ % - (it is written
# unquoted into DIR/env and the config).
#
# ENVIRONMENT (optional): SLAPD, SLAPADD, SLAPPASSWD (binaries, default
# /usr/sbin/...), SLAPD_MODULE_DIR (/usr/lib/ldap), SLAPD_SCHEMA_DIR
# (/etc/ldap/schema), TENURE_TEST_SCHEMA (scripts/ldap/tenure-test.ldif),
# TENURE_SLAPD_FIRST_PORTS="PORT TLSPORT" (forces the first attempt's ports;
# for testing the retry).
set -euo pipefail

PROG=slapd-test-server
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEST_SCHEMA=${TENURE_TEST_SCHEMA:-$SCRIPT_DIR/ldap/tenure-test.ldif}
SYSTEM_SCHEMA_DIR=${SLAPD_SCHEMA_DIR:-/etc/ldap/schema}
MODULE_DIR=${SLAPD_MODULE_DIR:-/usr/lib/ldap}
SLAPD=${SLAPD:-/usr/sbin/slapd}
SLAPADD=${SLAPADD:-/usr/sbin/slapadd}
SLAPPASSWD=${SLAPPASSWD:-/usr/sbin/slappasswd}
DEFAULT_SUFFIX=dc=tenure,dc=test
HOST=127.0.0.1
PORT_MIN=20000
PORT_MAX=32767
START_ATTEMPTS=5

die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}

note() {
    printf '%s: %s\n' "$PROG" "$*" >&2
}

usage() {
    sed -n '2,/^set -euo pipefail/{/^#/{s/^# \{0,1\}//;p}}' "${BASH_SOURCE[0]}" >&2
    exit 2
}

need_cmd() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 ||
            die "'$c' not found; run scripts/install-deps.sh"
    done
}

# Values must be safe unquoted in DIR/env, in the config LDIF and in URLs.
check_safe_path() {
    [[ $1 =~ ^/[A-Za-z0-9._/+@%-]*$ ]] ||
        die "path '$1' contains characters this script does not quote (use letters, digits, . _ / + @ % -)"
}

abs_path() {
    # Works for paths that do not exist yet (parent must exist).
    local p=$1 parent
    p=${p%/}
    [[ -n $p ]] || p=/
    if [[ -d $p ]]; then
        (cd "$p" && pwd -P)
    else
        parent=$(dirname "$p")
        [[ -d $parent ]] || die "parent directory of '$p' does not exist"
        printf '%s/%s\n' "$(cd "$parent" && pwd -P)" "$(basename "$p")"
    fi
}

# ---------------------------------------------------------------- helpers ----

gen_password() { # FILE
    local pw
    pw=$(openssl rand -hex 20)
    (umask 077 && printf '%s' "$pw" >"$1")
    chmod 0600 "$1"
}

hash_password() { # FILE -> {SSHA}...
    "$SLAPPASSWD" -h '{SSHA}' -T "$1"
}

# Print two distinct free TCP ports on 127.0.0.1 (space separated).
pick_ports() {
    python3 - "$HOST" "$PORT_MIN" "$PORT_MAX" <<'PY'
import random, socket, sys
host, lo, hi = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.SystemRandom()
found = []
for _ in range(2000):
    port = rng.randint(lo, hi)
    if port in found:
        continue
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, port))  # no SO_REUSEADDR: also skips TIME_WAIT ports
    except OSError:
        continue
    finally:
        s.close()
    found.append(port)
    if len(found) == 2:
        print(*found)
        sys.exit(0)
sys.exit("no free ports found")
PY
}

gen_tls() { # TLSDIR
    local d=$1 tag
    mkdir -p "$d"
    chmod 0700 "$d"
    tag=$(openssl rand -hex 4)
    # libldap checks a connection to "localhost" against the machine's host
    # name instead, so that name goes into the certificate too.
    local san="IP:127.0.0.1,DNS:localhost" h
    for h in "$(hostname 2>/dev/null || true)" "$(hostname -f 2>/dev/null || true)"; do
        if [[ $h =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ && $h != localhost && $san != *"DNS:$h"* ]]; then
            san+=",DNS:$h"
        fi
    done
    cat >"$d/openssl.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[v3_server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $san
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
    local name
    for name in ca wrong-ca server; do
        # PKCS#8 PEM ("BEGIN PRIVATE KEY"), which GnuTLS reads.
        (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
            -out "$d/$name.key" 2>/dev/null)
    done
    openssl req -config "$d/openssl.cnf" -new -x509 -days 2 -sha256 \
        -key "$d/ca.key" -subj "/O=Tenure tests/CN=Tenure Test CA $tag" \
        -extensions v3_ca -out "$d/ca.pem"
    openssl req -config "$d/openssl.cnf" -new -x509 -days 2 -sha256 \
        -key "$d/wrong-ca.key" -subj "/O=Tenure tests/CN=Unrelated Test CA $tag" \
        -extensions v3_ca -out "$d/wrong-ca.pem"
    openssl req -config "$d/openssl.cnf" -new -key "$d/server.key" \
        -subj "/O=Tenure tests/CN=127.0.0.1" -out "$d/server.csr"
    openssl x509 -req -in "$d/server.csr" -days 2 -sha256 \
        -CA "$d/ca.pem" -CAkey "$d/ca.key" -set_serial "0x$(openssl rand -hex 12)" \
        -extfile "$d/openssl.cnf" -extensions v3_server -out "$d/server.pem" 2>/dev/null
    rm -f "$d/server.csr" "$d/wrong-ca.key"
    chmod 0644 "$d/ca.pem" "$d/wrong-ca.pem" "$d/server.pem"
}

first_rdn_entry() { # SUFFIX -> objectClass/attribute lines of the suffix entry
    local suffix=$1 rdn attr value
    rdn=${suffix%%,*}
    attr=${rdn%%=*}
    value=${rdn#*=}
    case ${attr,,} in
    dc) printf 'objectClass: top\nobjectClass: dcObject\nobjectClass: organization\ndc: %s\no: %s\n' "$value" "$value" ;;
    o) printf 'objectClass: top\nobjectClass: organization\no: %s\n' "$value" ;;
    ou) printf 'objectClass: top\nobjectClass: organizationalUnit\nou: %s\n' "$value" ;;
    *) die "suffix must start with dc=, o= or ou= (got '$suffix')" ;;
    esac
}

write_config_ldif() { # DIR SUFFIX DEBUG -> stdout
    local dir=$1 suffix=$2 debug=$3 admin_hash loglevel f
    admin_hash=$(hash_password "$dir/admin.password")
    loglevel=none
    [[ $debug -eq 1 ]] && loglevel=stats
    cat <<EOF
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: $dir/slapd.pid
olcArgsFile: $dir/slapd.args
olcLogLevel: $loglevel
olcToolThreads: 2
olcTLSCACertificateFile: $dir/tls/ca.pem
olcTLSCertificateFile: $dir/tls/server.pem
olcTLSCertificateKeyFile: $dir/tls/server.key

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: $MODULE_DIR
olcModuleLoad: {0}back_mdb
olcModuleLoad: {1}memberof
olcModuleLoad: {2}refint
olcModuleLoad: {3}syncprov
olcModuleLoad: {4}ppolicy

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

EOF
    for f in core cosine nis inetorgperson; do
        cat "$SYSTEM_SCHEMA_DIR/$f.ldif"
        echo
    done
    cat "$TEST_SCHEMA"
    echo
    cat <<EOF

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcSizeLimit: 500

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by dn.exact="cn=admin,$suffix" manage by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: $suffix
olcDbDirectory: $dir/data
olcRootDN: cn=admin,$suffix
olcRootPW: $admin_hash
olcDbMaxSize: 4294967296
olcDbNoSync: TRUE
olcDbIndex: objectClass eq
olcDbIndex: entryUUID,entryCSN eq
olcDbIndex: uid,mail,cn eq
olcDbIndex: member,uniqueMember,memberUid eq
olcLimits: {0}dn.exact="cn=tenure-reader,ou=services,$suffix" size=unlimited time=unlimited size.prtotal=unlimited
olcLimits: {1}dn.exact="cn=limited-reader,ou=services,$suffix" size.soft=5 size.hard=5 size.prtotal=5
olcAccess: {0}to attrs=userPassword by self write by anonymous auth by * none
olcAccess: {1}to dn.subtree="ou=privileged,ou=groups,$suffix" attrs=member,uniqueMember,memberUid by dn.exact="cn=tenure-writer,ou=services,$suffix" write by users read by * none
olcAccess: {2}to * by users read by * none

dn: olcOverlay={0}memberof,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcMemberOf
olcOverlay: {0}memberof
olcMemberOfRefInt: TRUE

dn: olcOverlay={1}refint,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcRefintConfig
olcOverlay: {1}refint
olcRefintAttribute: member
olcRefintAttribute: uniqueMember

dn: olcOverlay={2}syncprov,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcSyncProvConfig
olcOverlay: {2}syncprov
olcSpCheckpoint: 100 10
olcSpSessionlog: 1000

dn: olcOverlay={3}ppolicy,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcPPolicyConfig
olcOverlay: {3}ppolicy
olcPPolicyDefault: cn=default,ou=policies,$suffix
olcPPolicyUseLockout: TRUE
EOF
}

write_base_ldif() { # DIR SUFFIX -> stdout
    local dir=$1 suffix=$2 reader_hash limited_hash writer_hash
    reader_hash=$(hash_password "$dir/reader.password")
    limited_hash=$(hash_password "$dir/limited.password")
    writer_hash=$(hash_password "$dir/writer.password")
    printf 'dn: %s\n' "$suffix"
    first_rdn_entry "$suffix"
    cat <<EOF

dn: ou=people,$suffix
objectClass: top
objectClass: organizationalUnit
ou: people

dn: ou=groups,$suffix
objectClass: top
objectClass: organizationalUnit
ou: groups

dn: ou=services,$suffix
objectClass: top
objectClass: organizationalUnit
ou: services

dn: ou=policies,$suffix
objectClass: top
objectClass: organizationalUnit
ou: policies

dn: cn=default,ou=policies,$suffix
objectClass: top
objectClass: device
objectClass: pwdPolicy
cn: default
description: Default password policy: lock out after 5 failures for 5 minutes
pwdAttribute: userPassword
pwdLockout: TRUE
pwdMaxFailure: 5
pwdLockoutDuration: 300
pwdFailureCountInterval: 300
pwdMaxAge: 0
pwdInHistory: 0
pwdCheckQuality: 0
pwdAllowUserChange: TRUE
pwdMustChange: FALSE

dn: cn=service-accounts,ou=policies,$suffix
objectClass: top
objectClass: device
objectClass: pwdPolicy
cn: service-accounts
description: Service accounts: never locked out
pwdAttribute: userPassword
pwdLockout: FALSE
pwdMaxAge: 0
pwdInHistory: 0
pwdCheckQuality: 0

dn: cn=tenure-reader,ou=services,$suffix
objectClass: top
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: tenure-reader
description: Tenure read-only service account (no size or time limit)
userPassword: $reader_hash
pwdPolicySubentry: cn=service-accounts,ou=policies,$suffix

dn: cn=limited-reader,ou=services,$suffix
objectClass: top
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: limited-reader
description: Read-only service account limited to 5 entries per search
userPassword: $limited_hash
pwdPolicySubentry: cn=service-accounts,ou=policies,$suffix

dn: cn=tenure-writer,ou=services,$suffix
objectClass: top
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: tenure-writer
description: Tenure write-back account: may write member/uniqueMember below ou=privileged,ou=groups only
userPassword: $writer_hash
pwdPolicySubentry: cn=service-accounts,ou=policies,$suffix

EOF
}

read_env_value() { # DIR KEY
    local line
    [[ -f $1/env ]] || return 1
    while IFS= read -r line; do
        if [[ $line == "$2="* ]]; then
            printf '%s\n' "${line#*=}"
            return 0
        fi
    done <"$1/env"
    return 1
}

# True if PID is a live slapd using DIR/slapd.d.
is_our_slapd() { # PID DIR
    local pid=$1 dir=$2 cmd
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/cmdline ]] || return 1
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmd == *slapd* && $cmd == *" $dir/slapd.d "* ]]
}

find_pid() { # DIR -> pid of the running slapd, or fail
    local dir=$1 pid
    for pid in "$(cat "$dir/slapd.pid" 2>/dev/null || true)" "$(read_env_value "$dir" SLAPD_PID || true)"; do
        if is_our_slapd "$pid" "$dir"; then
            printf '%s\n' "$pid"
            return 0
        fi
    done
    return 1
}

kill_slapd() { # DIR -> 0 if stopped or not running
    local dir=$1 pid i
    pid=$(find_pid "$dir") || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 50; i++)); do
        is_our_slapd "$pid" "$dir" || return 0
        sleep 0.1
    done
    note "slapd $pid did not stop within 5 s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        is_our_slapd "$pid" "$dir" || return 0
        sleep 0.1
    done
    die "slapd $pid survived SIGKILL"
}

show_log() { # DIR [lines]
    local log=$1/slapd.log
    if [[ -s $log ]]; then
        printf -- '----- %s (last %s lines) -----\n' "$log" "${2:-60}" >&2
        tail -n "${2:-60}" "$log" >&2
        printf -- '-----\n' >&2
    fi
}

admin_ldapmodify() { # DIR FILE [extra ldapmodify args...]
    local dir=$1 file=$2 url admin pwfile
    shift 2
    url=$(read_env_value "$dir" LDAP_URL) || die "$dir/env not found: is '$dir' a server started by this script?"
    admin=$(read_env_value "$dir" LDAP_ADMIN_DN) || die "LDAP_ADMIN_DN missing in $dir/env"
    pwfile=$(read_env_value "$dir" LDAP_ADMIN_PASSWORD_FILE) || die "LDAP_ADMIN_PASSWORD_FILE missing in $dir/env"
    [[ $file == - ]] && file=/dev/stdin
    [[ -r $file ]] || die "cannot read LDIF '$file'"
    # Quiet on success; on failure show ldapmodify's output (it names the
    # entry that failed) on stderr.
    local out rc=0
    out=$(ldapmodify -x -H "$url" -D "$admin" -y "$pwfile" -e relax "$@" -f "$file" 2>&1) || rc=$?
    if [[ $rc -ne 0 ]]; then
        printf '%s\n' "$out" >&2
        return "$rc"
    fi
}

# --------------------------------------------------------------- commands ----

# A slapd spawned by `start` that is not (yet) handed over: killed if start
# fails or is interrupted (slapd runs in its own session, so Ctrl-C does not
# reach it).
SPAWNED_PID=""
on_start_exit() {
    if [[ -n $SPAWNED_PID ]] && kill -0 "$SPAWNED_PID" 2>/dev/null; then
        kill -TERM "$SPAWNED_PID" 2>/dev/null || true
        sleep 0.2
        kill -KILL "$SPAWNED_PID" 2>/dev/null || true
    fi
}

cmd_start() {
    local x dir="" suffix=$DEFAULT_SUFFIX timeout=10 debug=0 fixed_port="" fixed_tls_port=""
    local -a ldifs=() slapadds=()
    while [[ $# -gt 0 ]]; do
        case $1 in
        --ldif) [[ $# -ge 2 ]] || die "--ldif needs a FILE"; ldifs+=("$2"); shift 2 ;;
        --slapadd) [[ $# -ge 2 ]] || die "--slapadd needs a FILE"; slapadds+=("$2"); shift 2 ;;
        --slapadd-unchecked) [[ $# -ge 2 ]] || die "--slapadd-unchecked needs a FILE"; slapadds+=("unchecked:$2"); shift 2 ;;
        --suffix) [[ $# -ge 2 ]] || die "--suffix needs a DN"; suffix=$2; shift 2 ;;
        --timeout) [[ $# -ge 2 ]] || die "--timeout needs SECONDS"; timeout=$2; shift 2 ;;
        --port) [[ $# -ge 2 ]] || die "--port needs a PORT"; fixed_port=$2; shift 2 ;;
        --tls-port) [[ $# -ge 2 ]] || die "--tls-port needs a PORT"; fixed_tls_port=$2; shift 2 ;;
        --debug) debug=1; shift ;;
        -h | --help) usage ;;
        -*) die "unknown option '$1'" ;;
        *) [[ -z $dir ]] || die "unexpected argument '$1'"; dir=$1; shift ;;
        esac
    done
    [[ -n $dir ]] || die "start: DIR is required"
    [[ $suffix =~ ^[A-Za-z]+=[A-Za-z0-9-]+(,[A-Za-z]+=[A-Za-z0-9-]+)*$ ]] ||
        die "unsupported suffix '$suffix' (attr=value,... with letters, digits and '-')"
    [[ $timeout =~ ^[0-9]+$ && $timeout -gt 0 ]] || die "--timeout must be a positive integer"
    for x in "$fixed_port" "$fixed_tls_port"; do
        [[ -z $x || ($x =~ ^[0-9]+$ && $x -ge 1 && $x -le 65535) ]] || die "invalid port '$x'"
    done
    [[ -z $fixed_port || $fixed_port != "$fixed_tls_port" ]] || die "--port and --tls-port must differ"
    local f stdin_used=0
    for f in "${slapadds[@]}" "${ldifs[@]}"; do
        f=${f#unchecked:}
        if [[ $f == - ]]; then
            [[ $stdin_used -eq 0 ]] || die "'-' (stdin) can be given only once"
            stdin_used=1
        else
            [[ -r $f && ! -d $f ]] || die "cannot read '$f'"
        fi
    done
    need_cmd openssl python3 ldapsearch ldapmodify setsid
    for x in "$SLAPD" "$SLAPADD" "$SLAPPASSWD"; do
        [[ -x $x ]] || die "$x not found; run scripts/install-deps.sh"
    done
    [[ -r $TEST_SCHEMA ]] || die "test schema $TEST_SCHEMA not found"

    local t0
    t0=$(date +%s.%N)
    trap on_start_exit EXIT
    trap 'exit 130' INT TERM
    dir=$(abs_path "$dir")
    check_safe_path "$dir"
    if [[ -e $dir ]]; then
        [[ -d $dir ]] || die "'$dir' exists and is not a directory"
        [[ -z $(ls -A "$dir") ]] || die "'$dir' is not empty"
    fi
    mkdir -p "$dir/slapd.d" "$dir/data"
    chmod 0700 "$dir/slapd.d" "$dir/data"
    : >"$dir/slapd.log"

    gen_password "$dir/admin.password"
    gen_password "$dir/reader.password"
    gen_password "$dir/limited.password"
    gen_password "$dir/writer.password"
    gen_tls "$dir/tls"

    local tool_log=$dir/slapadd.log
    write_config_ldif "$dir" "$suffix" "$debug" >"$dir/config.ldif"
    if ! "$SLAPADD" -n 0 -F "$dir/slapd.d" -l "$dir/config.ldif" >"$tool_log" 2>&1; then
        cat "$tool_log" >&2
        die "slapadd of the generated cn=config ($dir/config.ldif) failed"
    fi
    write_base_ldif "$dir" "$suffix" >"$dir/base.ldif"
    if ! "$SLAPADD" -q -F "$dir/slapd.d" -b "$suffix" -l "$dir/base.ldif" >>"$tool_log" 2>&1; then
        cat "$tool_log" >&2
        die "slapadd of the base entries failed"
    fi
    for f in "${slapadds[@]}"; do
        local -a check=()
        if [[ $f == unchecked:* ]]; then
            f=${f#unchecked:}
            check=(-s)
        fi
        local src=$f
        [[ $f == - ]] && src=/dev/stdin
        if ! "$SLAPADD" -q "${check[@]}" -F "$dir/slapd.d" -b "$suffix" -l "$src" >>"$tool_log" 2>&1; then
            tail -n 40 "$tool_log" >&2
            die "slapadd -q of '$f' failed (note: the base entries — suffix, ou=people, ou=groups, ou=services, ou=policies — already exist)"
        fi
    done

    # Start slapd on fresh ports; retry on new ports if the bind fails. A lock
    # serialises port picking among concurrent starts (the lock fd is closed
    # for slapd so it does not hold the lock).
    local lockfile lockfd=""
    lockfile=${TMPDIR:-/tmp}/tenure-slapd-test-server.$(id -u).lock
    if command -v flock >/dev/null 2>&1 && { exec {lockfd}>>"$lockfile"; } 2>/dev/null; then
        flock -w 60 "$lockfd" || note "could not take $lockfile within 60 s; going on without it"
    else
        lockfd=""
    fi
    local attempt port tls_port pid="" ready=0 dbg=none i deadline
    [[ $debug -eq 1 ]] && dbg=stats
    export LDAPTLS_REQCERT=demand
    for ((attempt = 1; attempt <= START_ATTEMPTS; attempt++)); do
        if [[ $attempt -eq 1 && -n ${TENURE_SLAPD_FIRST_PORTS:-} ]]; then
            # Testing hook for the retry path: force the first attempt's ports.
            read -r port tls_port <<<"$TENURE_SLAPD_FIRST_PORTS"
        else
            read -r port tls_port < <(pick_ports) || die "could not pick free ports"
            # A fixed port replaces a picked one (which is then unused or,
            # if equal to the other fixed port, swapped for the spare one).
            if [[ -n $fixed_port ]]; then
                [[ $tls_port == "$fixed_port" ]] && tls_port=$port
                port=$fixed_port
            fi
            if [[ -n $fixed_tls_port ]]; then
                [[ $port == "$fixed_tls_port" ]] && port=$tls_port
                tls_port=$fixed_tls_port
            fi
        fi
        [[ -n $port && -n $tls_port ]] || die "could not pick free ports"
        printf '=== attempt %d: ports %s %s\n' "$attempt" "$port" "$tls_port" >>"$dir/slapd.log"
        if [[ -n $lockfd ]]; then
            setsid "$SLAPD" -d "$dbg" -h "ldap://$HOST:$port/ ldaps://$HOST:$tls_port/" \
                -F "$dir/slapd.d" </dev/null >>"$dir/slapd.log" 2>&1 {lockfd}>&- &
        else
            setsid "$SLAPD" -d "$dbg" -h "ldap://$HOST:$port/ ldaps://$HOST:$tls_port/" \
                -F "$dir/slapd.d" </dev/null >>"$dir/slapd.log" 2>&1 &
        fi
        pid=$!
        SPAWNED_PID=$pid
        deadline=$((SECONDS + timeout))
        while ((SECONDS <= deadline)); do
            if ! kill -0 "$pid" 2>/dev/null; then
                break
            fi
            if ldapsearch -x -H "ldap://$HOST:$port" -D "cn=admin,$suffix" -y "$dir/admin.password" \
                -b "$suffix" -s base -o nettimeout=2 dn >/dev/null 2>&1; then
                ready=1
                break
            fi
            sleep 0.05
        done
        [[ $ready -eq 1 ]] && break
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
            show_log "$dir"
            die "slapd did not answer on ldap://$HOST:$port within ${timeout}s"
        fi
        wait "$pid" 2>/dev/null || true
        if tail -n 20 "$dir/slapd.log" | grep -qiE 'bind\(.*failed|address already in use'; then
            if [[ -n $fixed_port || -n $fixed_tls_port ]]; then
                show_log "$dir" 20
                die "cannot listen on the requested port (${fixed_port:-random} / ${fixed_tls_port:-random}): in use?"
            fi
            note "port $port or $tls_port was taken; retrying on new ports"
            continue
        fi
        show_log "$dir"
        die "slapd exited during start-up (see above and $dir/slapd.log)"
    done
    if [[ -n $lockfd ]]; then
        exec {lockfd}>&-
    fi
    [[ $ready -eq 1 ]] || { show_log "$dir"; die "slapd could not bind after $START_ATTEMPTS attempts"; }

    # The LDAPS listener must verify against the generated CA.
    i=0
    until LDAPTLS_CACERT=$dir/tls/ca.pem ldapsearch -x -H "ldaps://$HOST:$tls_port" \
        -D "cn=admin,$suffix" -y "$dir/admin.password" -b "$suffix" -s base -o nettimeout=2 dn >/dev/null 2>&1; do
        if ((++i >= 20)); then
            kill_slapd "$dir" || true
            show_log "$dir"
            die "slapd answers on ldap:// but not on ldaps://$HOST:$tls_port with $dir/tls/ca.pem"
        fi
        sleep 0.1
    done

    local envtmp=$dir/env.tmp
    cat >"$envtmp" <<EOF
LDAP_URL=ldap://$HOST:$port
LDAPS_URL=ldaps://$HOST:$tls_port
LDAP_HOST=$HOST
LDAP_PORT=$port
LDAPS_PORT=$tls_port
LDAP_SUFFIX=$suffix
LDAP_ADMIN_DN=cn=admin,$suffix
LDAP_ADMIN_PASSWORD_FILE=$dir/admin.password
LDAP_READER_DN=cn=tenure-reader,ou=services,$suffix
LDAP_READER_PASSWORD_FILE=$dir/reader.password
LDAP_LIMITED_DN=cn=limited-reader,ou=services,$suffix
LDAP_LIMITED_PASSWORD_FILE=$dir/limited.password
LDAP_WRITER_DN=cn=tenure-writer,ou=services,$suffix
LDAP_WRITER_PASSWORD_FILE=$dir/writer.password
LDAP_CA_FILE=$dir/tls/ca.pem
LDAP_WRONG_CA_FILE=$dir/tls/wrong-ca.pem
SLAPD_PID=$pid
SLAPD_DIR=$dir
EOF
    mv "$envtmp" "$dir/env"

    for f in "${ldifs[@]}"; do
        if ! admin_ldapmodify "$dir" "$f" -a; then
            kill_slapd "$dir" || true
            die "ldapadd of '$f' failed; slapd stopped (DIR kept for inspection)"
        fi
    done

    SPAWNED_PID=""
    cat "$dir/env"
    note "slapd $pid serves $suffix on ldap://$HOST:$port and ldaps://$HOST:$tls_port (ready in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') s; stop: $0 stop $dir)"
}

cmd_stop() {
    local dir="" clean=0
    while [[ $# -gt 0 ]]; do
        case $1 in
        --clean) clean=1; shift ;;
        -*) die "unknown option '$1'" ;;
        *) [[ -z $dir ]] || die "unexpected argument '$1'"; dir=$1; shift ;;
        esac
    done
    [[ -n $dir ]] || die "stop: DIR is required"
    [[ -d $dir ]] || { [[ $clean -eq 1 ]] && return 0; die "'$dir' is not a directory"; }
    dir=$(abs_path "$dir")
    kill_slapd "$dir"
    if [[ $clean -eq 1 ]]; then
        [[ -d $dir/slapd.d || -f $dir/env || -f $dir/config.ldif ]] ||
            die "'$dir' does not look like a test server directory; not removing it"
        rm -rf -- "$dir"
    fi
}

main() {
    [[ $# -ge 1 ]] || usage
    local cmd=$1
    shift
    case $cmd in
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    modify | add)
        [[ $# -eq 2 ]] || die "usage: $0 $cmd DIR FILE|-"
        local dir
        dir=$(abs_path "$1")
        if [[ $cmd == add ]]; then
            admin_ldapmodify "$dir" "$2" -a
        else
            admin_ldapmodify "$dir" "$2"
        fi
        ;;
    env)
        [[ $# -eq 1 ]] || die "usage: $0 env DIR"
        cat "$1/env"
        ;;
    status)
        [[ $# -eq 1 ]] || die "usage: $0 status DIR"
        local d pid
        d=$(abs_path "$1")
        if pid=$(find_pid "$d"); then
            echo "running (pid $pid)"
        else
            echo "not running"
            return 1
        fi
        ;;
    -h | --help | help) usage ;;
    *) die "unknown command '$cmd' (start, stop, modify, add, env, status)" ;;
    esac
}

main "$@"
