#!/usr/bin/env bash
# The extraction quality suite against a real local LLM (`make test-llm`; never part of
# `make test`): for each model size in LLM_SIZES (default "small big") it installs the model
# if needed (scripts/llm.sh), starts llama.cpp's server on a free loopback port, runs
# `mnemo eval extraction` over eval/data/extraction/cases.json in each output mode of
# LLM_MODES (default "json_schema"; "auto" and "tools" also apply), stops the server, and
# fails when a run's recall or precision falls below its floor. Reports go to
# target/test-llm/<size>-<mode>/. Extra arguments go to `mnemo eval extraction` (e.g.
# `--only move,job` or `--limit 10`).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

SIZES="${LLM_SIZES:-small big}"
MODES="${LLM_MODES:-json_schema}"
OUT=target/test-llm
# Floors: below the recall and precision measured when the suite was written (see the
# closing note of issue 16 / docs/EVAL.md), so a regression in prompts, parsing or the
# pipeline fails the run while the models' own noise does not.
min_recall() { case "$1" in small) echo 0.15 ;; big) echo 0.40 ;; esac; }
min_precision() { case "$1" in small) echo 0.15 ;; big) echo 0.30 ;; esac; }

say() { printf 'test-llm: %s\n' "$*" >&2; }

./scripts/setup.sh
cargo build --release -p mnemo
mkdir -p "$OUT"

server=""
trap '[[ -n "$server" ]] && kill "$server" 2>/dev/null; true' EXIT
for size in $SIZES; do
    ./scripts/llm.sh "$size" install
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    LLM_PORT="$port" ./scripts/llm.sh "$size" serve >"$OUT/server-$size.log" 2>&1 &
    server=$!
    for _ in $(seq 300); do
        python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
            "http://127.0.0.1:$port/v1/models" >/dev/null 2>&1 && break
        kill -0 "$server" 2>/dev/null || { cat "$OUT/server-$size.log" >&2; exit 1; }
        sleep 0.5
    done
    for mode in $MODES; do
        say "$size model, $mode output"
        started=$SECONDS
        ./target/release/mnemo eval extraction --base-url "http://127.0.0.1:$port/v1" \
            --llm-output "$mode" --out "$OUT/$size-$mode" --quiet \
            --min-recall "$(min_recall "$size")" --min-precision "$(min_precision "$size")" "$@"
        say "$size model, $mode output: $((SECONDS - started)) s"
    done
    kill "$server"
    wait "$server" 2>/dev/null || true
    server=""
done
