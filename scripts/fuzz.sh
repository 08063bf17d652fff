#!/usr/bin/env bash
# The fuzz step of `make test` (#19): schemathesis (PyPI, in .deps/fuzz, installed by
# `setup.sh fuzz`) runs every check against a `mnemo serve` on port 0 with a fresh store
# in a temporary folder and no LLM, driven by /openapi.json. Any finding fails the build.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

./scripts/setup.sh fuzz
cargo build --quiet -p mnemo

work="$(mktemp -d)"
server_pid=
cleanup() {
    [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

MNEMO__SERVER__ADDR=127.0.0.1:0 MNEMO__STORE__PATH="$work/store" RUST_LOG=warn \
    ./target/debug/mnemo serve >"$work/stdout" 2>"$work/stderr" &
server_pid=$!
url=
for _ in $(seq 200); do
    url="$(sed -n 's/^listening on //p' "$work/stdout")"
    [[ -n "$url" ]] && curl -sf "$url/readyz" >/dev/null && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/stderr" >&2; echo "fuzz: the server did not start" >&2; exit 1; }
    sleep 0.1
done
[[ -n "$url" ]] || { echo "fuzz: the server did not say where it listens" >&2; exit 1; }

echo "fuzz: schemathesis against $url (config scripts/fuzz/schemathesis.toml)"
status=0
(cd "$work" && "$OLDPWD/.deps/fuzz/bin/schemathesis" --config-file "$OLDPWD/scripts/fuzz/schemathesis.toml" \
    run "$url/openapi.json") || status=$?
kill -0 "$server_pid" 2>/dev/null || { echo "fuzz: the server died during the run" >&2; cat "$work/stderr" >&2; exit 1; }
if ((status != 0)); then
    echo "fuzz: schemathesis found problems (exit $status); server log:" >&2
    tail -50 "$work/stderr" >&2
    exit "$status"
fi
echo "fuzz: no findings"
