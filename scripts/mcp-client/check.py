"""End-to-end check of mnemo's MCP server with a client written by someone else: the
official Python SDK (`mcp` from PyPI). Drives both transports against fresh stores:
`mnemo mcp` over stdio (with a default scope) and `mnemo serve`'s `/mcp` over streamable
HTTP (with API keys): list tools, typed relations and a plain fact, search at two event
times, the timeline, reverting an episode, and the auth refusals. Exits non-zero on the
first difference. Run by scripts/mcp-check.sh (make test).
"""

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

MNEMO = sys.argv[1]
TOOLS = {
    "add_memory", "add_relations", "search_memory", "get_timeline", "get_subgraph",
    "get_changes", "list_facts", "delete_fact", "get_episode", "delete_episode", "erase_scope",
}


def field(result, snake, camel):
    value = getattr(result, snake, None)
    return getattr(result, camel, None) if value is None else value


def structured(result, what):
    if field(result, "is_error", "isError"):
        raise AssertionError(f"{what} failed: {result.content}")
    return field(result, "structured_content", "structuredContent")


def lives_in(city, since):
    return {
        "source": {"name": "Alice", "type": "Person"},
        "relation": "LIVES_IN",
        "target": {"name": city, "type": "City"},
        "valid_from": since,
    }


async def scenario(session, scope, label):
    """The same calls on either transport; `scope` is added to every call."""
    listed = await session.list_tools()
    names = {tool.name for tool in listed.tools}
    assert TOOLS <= names, f"{label}: tools {sorted(names)}"
    assert all(tool.description for tool in listed.tools), f"{label}: a tool lacks a description"

    call = lambda name, args: session.call_tool(name, {**args, **scope})
    boston = structured(await call("add_relations", {"relations": [lives_in("Boston", "2020-01-01T00:00:00Z")]}), "add Boston")
    lisbon = structured(await call("add_relations", {"relations": [lives_in("Lisbon", "2024-03-01T00:00:00Z")]}), "add Lisbon")
    assert boston["status"] == "done" and lisbon["status"] == "done", (boston, lisbon)

    then = await call("search_memory", {"query": "Where does Alice live?", "as_of": "2022-06-01T00:00:00Z"})
    then_context = structured(then, "search as_of 2022")["context"]
    assert "Boston" in then_context and "Lisbon" not in then_context, f"{label}: as_of 2022: {then_context!r}"
    assert then.content[0].text == then_context, f"{label}: the context comes first"
    now_context = structured(await call("search_memory", {"query": "Where does Alice live?"}), "search now")["context"]
    assert "Lisbon" in now_context, f"{label}: now: {now_context!r}"

    history = structured(await call("get_timeline", {"entity": "Alice", "relation_type": "LIVES_IN"}), "timeline")
    assert len(history["relations"]) == 2, f"{label}: timeline {json.dumps(history)}"
    structured(await call("delete_episode", {"id": lisbon["episode_id"]}), "delete episode")
    after = structured(await call("get_timeline", {"entity": "Alice", "relation_type": "LIVES_IN"}), "timeline after delete")
    assert [e["target"]["name"] for e in after["relations"]] == ["Boston"], f"{label}: {json.dumps(after)}"
    assert after["relations"][0]["status"] == "valid", f"{label}: Boston is valid again: {json.dumps(after)}"

    structured(await call("add_memory", {"text": "I am vegetarian", "infer": False}), "add a fact")
    facts = structured(await call("list_facts", {}), "list facts")
    assert [f["text"] for f in facts["facts"]] == ["I am vegetarian"], f"{label}: {json.dumps(facts)}"

    bad = await call("get_episode", {"id": "not-a-uuid"})
    assert field(bad, "is_error", "isError") and bad.content[0].text.startswith("invalid_request"), bad.content
    print(f"mcp-check: {label}: {len(names)} tools, add, search as_of, timeline, delete_episode, facts: ok")


async def over_stdio(root):
    env = {**os.environ, "MNEMO__STORE__PATH": os.path.join(root, "stdio-store"), "RUST_LOG": "warn"}
    params = StdioServerParameters(command=MNEMO, args=["mcp", "--user-id", "alice-stdio"], env=env)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            # No scope in the calls: the connection's default (`--user-id`).
            await scenario(session, {}, "stdio")


def start_server(root):
    config = os.path.join(root, "mnemo.toml")
    with open(config, "w") as f:
        f.write(
            '[server]\naddr = "127.0.0.1:0"\n[store]\npath = "%s"\n'
            '[[auth.api_keys]]\nkey = "alice-key"\nuser_id = "alice"\n'
            '[[auth.api_keys]]\nkey = "admin-key"\n' % os.path.join(root, "http-store")
        )
    server = subprocess.Popen(
        [MNEMO, "--config", config, "serve"],
        stdout=subprocess.PIPE, stderr=open(os.path.join(root, "serve.log"), "w"), text=True,
        env={**os.environ, "RUST_LOG": "warn"},
    )
    line = server.stdout.readline()
    assert line.startswith("listening on "), f"server said {line!r}"
    url = line.removeprefix("listening on ").strip()
    for _ in range(300):
        try:
            with urllib.request.urlopen(url + "/readyz") as reply:
                if reply.status == 200:
                    return server, url
        except Exception:
            time.sleep(0.1)
    raise AssertionError("the server did not become ready")


async def session_with(url, key):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return create_mcp_http_client(headers=headers)


async def over_http(root):
    server, url = start_server(root)
    try:
        client = await session_with(url, "alice-key")
        async with client, streamable_http_client(url + "/mcp", http_client=client) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                await scenario(session, {"user_id": "alice"}, "http")
                refused = await session.call_tool("list_facts", {"user_id": "bob"})
                assert field(refused, "is_error", "isError"), "another user's scope is refused"
                assert refused.content[0].text.startswith("forbidden"), refused.content
        # Without a key the endpoint answers 401 before any MCP message.
        request = urllib.request.Request(
            url + "/mcp", method="POST", data=b"{}",
            headers={"content-type": "application/json", "accept": "application/json, text/event-stream"},
        )
        try:
            urllib.request.urlopen(request)
            raise AssertionError("a request without a key was answered")
        except urllib.error.HTTPError as error:
            assert error.code == 401, error.code
        print("mcp-check: http: forbidden for another scope, 401 without a key: ok")
    finally:
        server.terminate()
        server.wait(timeout=60)


async def main():
    with tempfile.TemporaryDirectory() as root:
        await over_stdio(root)
        await over_http(root)


asyncio.run(main())
