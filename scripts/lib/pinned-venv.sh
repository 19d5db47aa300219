# shellcheck shell=bash disable=SC2154  # venv, PINS, TOOL… are set by the sourcing script
# pinned-venv.sh — shared by the conformance wrappers (scripts/scim-conformance.sh,
# scripts/openapi-conformance.sh): their common options and a Python venv holding exactly the
# pinned packages of the tool they run.
#
# The sourcing script sets, before sourcing:
#   TOOL           its name, for messages (e.g. scim-conformance)
#   TOOL_LABEL     what the venv holds, for messages (e.g. "scim2-tester 0.5.2")
#   HELP_LINES     the sed range of its header comment printed by --help (e.g. 2,33p)
#   MIN_PYTHON     the oldest python3 the tool supports (e.g. 3.11)
#   READY_BIN      the venv program whose presence means "installed" (e.g. python, schemathesis)
#   PINS           (array) the packages, pinned
#   venv           the venv's directory
# then calls `venv_parse_args "$@"` (sets install_only, no_install and args) and `venv_ensure`
# (installs the venv unless it is ready; under --no-install a missing venv exits 3; with
# --install it exits 0 once ready).

die() {
    printf '%s: %s\n' "$TOOL" "$1" >&2
    exit "${2:-1}"
}

venv_parse_args() {
    install_only=0
    no_install=0
    args=()
    local arg
    for arg in "$@"; do
        case "$arg" in
        --install) install_only=1 ;;
        --no-install) no_install=1 ;;
        -h | --help)
            sed -n "$HELP_LINES" "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        -*) die "unknown option $arg" 2 ;;
        *) args+=("$arg") ;;
        esac
    done
}

_venv_pins_text() { printf '%s\n' "${PINS[@]}"; }

venv_ready() {
    [[ -x "$venv/bin/$READY_BIN" && -f "$venv/.tenure-pins" && "$(cat "$venv/.tenure-pins")" == "$(_venv_pins_text)" ]]
}

# `python3 -m venv` needs Debian's python3-venv package: apt-install it when venv does not work,
# the way scripts/install-deps.sh installs packages (sudo when not root).
_ensure_python_venv() {
    local probe
    probe=$(mktemp -d "${TMPDIR:-/tmp}/$TOOL-venv-probe.XXXXXX")
    if python3 -m venv "$probe/v" >/dev/null 2>&1; then
        rm -rf "$probe"
        return 0
    fi
    rm -rf "$probe"
    command -v dpkg-query >/dev/null 2>&1 || die "python3 -m venv does not work and this is not Debian/Ubuntu: install Python's venv module"
    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || die "python3 -m venv needs the python3-venv package; as root: apt-get install python3-venv"
        sudo=(sudo)
    fi
    local log
    log=$(mktemp "${TMPDIR:-/tmp}/$TOOL-venv-apt.XXXXXX.log")
    local apt_env=(env DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true)
    if ! "${sudo[@]}" "${apt_env[@]}" apt-get update -q >"$log" 2>&1 ||
        ! "${sudo[@]}" "${apt_env[@]}" apt-get install -y -q --no-install-recommends python3-venv >>"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        die "apt-get install python3-venv failed"
    fi
    rm -f "$log"
    python3 -m venv --help >/dev/null 2>&1 || die "python3 -m venv still does not work after installing python3-venv"
}

_venv_install() {
    command -v python3 >/dev/null 2>&1 || die "python3 is required (scripts/install-deps.sh installs it)"
    python3 -c "import sys; sys.exit(0 if sys.version_info >= tuple(map(int, '$MIN_PYTHON'.split('.'))) else 1)" ||
        die "$TOOL_LABEL needs Python $MIN_PYTHON or newer; python3 is $(python3 -V 2>&1)"
    if [[ ! -x "$venv/bin/python" ]]; then
        _ensure_python_venv
        mkdir -p "$(dirname "$venv")"
        python3 -m venv "$venv" || die "python3 -m venv $venv failed"
    fi
    local log
    log=$(mktemp "${TMPDIR:-/tmp}/$TOOL-venv-pip.XXXXXX.log")
    if ! "$venv/bin/python" -m pip install --disable-pip-version-check -q "${PINS[@]}" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        die "pip install into $venv failed"
    fi
    rm -f "$log"
    _venv_pins_text >"$venv/.tenure-pins"
    echo "$TOOL: venv ready in $venv ($TOOL_LABEL)"
}

venv_ensure() {
    if ! venv_ready; then
        if [[ $no_install -eq 1 ]]; then
            die "the $TOOL_LABEL venv is not installed in $venv; run scripts/$TOOL.sh --install" 3
        fi
        _venv_install
    fi
    if [[ $install_only -eq 1 ]]; then exit 0; fi
}
