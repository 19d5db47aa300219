# shellcheck shell=bash disable=SC2154  # config and work come from the caller
# bench-tools.sh — steps the server benchmarks share. Sourced from the repository root.

# The release build of `tenure`, its dependencies installed first; sets `bin` to the executable.
bench_release_build() {
    command -v swift >/dev/null 2>&1 || export PATH=/opt/swift/usr/bin:$PATH
    scripts/install-deps.sh >/dev/null
    swift build -c release --product tenure 2>&1 | tail -n 1 >&2
    bin=$(swift build -c release --show-bin-path)/tenure
}

# A new API token NAME with SCOPES (comma-separated): sets `token` (the secret, for requests) and
# `hash` (its SHA-256, for the configuration). Exits when `tenure token create` printed neither.
bench_token() {
    local out
    out=$("$bin" token create "$1" --scopes "$2")
    token=$(sed -n 's/^token: //p' <<<"$out")
    hash=$(sed -n 's/.*sha256: "\(.*\)"/\1/p' <<<"$out")
    [[ -n $token && -n $hash ]] || { echo "tenure token create printed no token" >&2; exit 1; }
}

# A fresh store for the configuration at `config` (audit key, one sync of the directory), then
# `tenure serve` on it in the background, its output in $work/serve.log: sets `serve_pid`.
bench_sync_and_serve() {
    "$bin" audit init-key --config "$config" >/dev/null
    "$bin" sync --config "$config" >/dev/null
    "$bin" serve --config "$config" >"$work/serve.log" 2>&1 &
    serve_pid=$!
}

# A scratch directory in `work`, removed at exit together with what the script started there:
# `tenure serve` (`serve_pid`), nginx (`nginx_pid`) and the slapd under $work/slapd.
bench_workdir() {
    work=$(mktemp -d)
    serve_pid="" nginx_pid=""
    trap bench_cleanup EXIT
}

bench_cleanup() {
    if [[ -n ${serve_pid:-} ]]; then kill "$serve_pid" 2>/dev/null || true; fi
    if [[ -n ${nginx_pid:-} ]]; then kill "$nginx_pid" 2>/dev/null || true; fi
    scripts/slapd-test-server.sh stop "$work/slapd" --clean >/dev/null 2>&1 || true
    rm -rf "$work"
}

# The sample directory in a throwaway slapd on 127.0.0.1 (under $work/slapd); its environment
# (LDAP_URL, LDAP_READER_DN, …) sourced.
bench_sample_directory() {
    scripts/slapd-test-server.sh start "$work/slapd" --ldif Config/sample-directory.ldif >"$work/env" 2>/dev/null
    # shellcheck disable=SC1091
    . "$work/env"
}

# A free TCP port on 127.0.0.1.
bench_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
