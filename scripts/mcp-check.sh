#!/usr/bin/env bash
# The MCP step of `make test` (#17): the official Python MCP SDK (PyPI `mcp`, in
# .deps/mcp-client, installed by `setup.sh mcp-client`) drives `mnemo mcp` over stdio and
# `mnemo serve`'s /mcp over streamable HTTP (scripts/mcp-client/check.py). Fails loudly.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

./scripts/setup.sh mcp-client
cargo build --quiet -p mnemo
.deps/mcp-client/bin/python scripts/mcp-client/check.py "$PWD/target/debug/mnemo"
