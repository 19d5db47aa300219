# shellcheck shell=bash
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
