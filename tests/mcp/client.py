#!/usr/bin/env python3
"""A real MCP client (the official Python SDK, `mcp` on PyPI) for the MCP server tests.

    client.py URL TOKEN CALLS_JSON

Connects over Streamable HTTP with `Authorization: Bearer TOKEN` (none when TOKEN is
empty), initializes, lists the
tools, then calls each `[name, arguments]` of CALLS_JSON in order. Prints one JSON object:
the server's name, the tools (name, description, input schema, annotations) and each call's
result (`is_error`, `structured`, `text`). A connection the server refuses prints
`{"refused": "<error>"}` and exits 3, so the Rust test can tell it from a crash.
"""

import asyncio
import json
import sys

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client


# HTTP statuses the server answered with: the SDK turns a refusal into a generic MCPError.
STATUSES: list[int] = []


async def record_status(response: httpx2.Response) -> None:
    STATUSES.append(response.status_code)


async def session(url: str, token: str, calls: list) -> dict:
    # An empty TOKEN sends no Authorization header at all, as HA's MCP integration does.
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    http = create_mcp_http_client(headers=headers)
    http.event_hooks["response"].append(record_status)
    async with http, streamable_http_client(url, http_client=http) as (read, write):
        async with ClientSession(read, write) as client:
            init = await client.initialize()
            listed = await client.list_tools()
            tools = [
                {
                    "name": t.name,
                    "description": t.description,
                    "input_schema": t.input_schema,
                    "annotations": t.annotations.model_dump(by_alias=True, exclude_none=True)
                    if t.annotations
                    else None,
                }
                for t in listed.tools
            ]
            results = []
            for name, arguments in calls:
                r = await client.call_tool(name, arguments)
                results.append(
                    {
                        "tool": name,
                        "is_error": bool(r.is_error),
                        "structured": r.structured_content,
                        "text": "".join(getattr(c, "text", "") for c in r.content),
                    }
                )
            return {"server": init.server_info.name, "tools": tools, "results": results}


def refused() -> str | None:
    """The refusal (401 or 403) that ended the session, if that is what happened."""
    denied = [s for s in STATUSES if s in (401, 403)]
    return f"HTTP {denied[0]}" if denied else None


def main() -> int:
    url, token, calls = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    try:
        out = asyncio.run(session(url, token, calls))
    except Exception:  # noqa: BLE001 - a refusal is the test's to read; anything else raises
        reason = refused()
        if reason is None:
            raise
        print(json.dumps({"refused": reason}))
        return 3
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
