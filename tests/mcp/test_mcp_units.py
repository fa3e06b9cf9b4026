"""Roo's MCP rules without a server: function names, the approval rule, the config schema,
how answers are rendered."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet
from mcp_types import (
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    TextContent,
    TextResourceContents,
)

from roo.agent.approval import ApprovalPolicy, decide_mcp
from roo.agent.tools.base import ApprovalCategory, ImageBlock
from roo.agent.tools.mcp import function_name, is_function_name, normalize_function_name
from roo.agent.tools.registry import default_registry
from roo.mcp.config import (
    McpConfigError,
    ServerConfigIn,
    merged,
    parse_mcp_json,
    seal,
    session_servers,
)
from roo.mcp.hub import tool_result
from roo.security.secrets_box import SecretBox


@pytest.mark.parametrize(
    ("server", "tool", "expected"),
    [
        ("github", "create_issue", "mcp--github--create_issue"),
        ("my server", "do.it!", "mcp--my_server--doit"),
        ("a--b", "9lives", "mcp--a-b--_9lives"),
        ("", "t", "mcp--_--t"),
        ("s" * 40, "t" * 40, ("mcp--" + "s" * 40 + "--" + "t" * 40)[:64]),
    ],
)
def test_function_names_follow_roo(server: str, tool: str, expected: str) -> None:
    assert function_name(server, tool) == expected
    assert len(function_name(server, tool)) <= 64


def test_underscore_spelling_resolves() -> None:
    assert is_function_name("mcp__github__create_issue")
    assert normalize_function_name("mcp__github__create_issue") == "mcp--github--create_issue"
    assert not is_function_name("read_file")
    registry = default_registry()
    assert registry.get("use_mcp_tool") is not None
    assert "use_mcp_tool" not in [t.name for t in registry.offered()]
    assert "access_mcp_resource" not in [t.name for t in registry.offered()]


def test_approval_follows_roo_rule() -> None:
    off = ApprovalPolicy()
    assert decide_mcp(off, "s", "t", server_allows=True) == "ask"
    on = ApprovalPolicy(auto_approve_mcp=True)
    assert decide_mcp(on, "s", None) == "approve"  # a resource
    assert decide_mcp(on, "s", "t") == "ask"  # a tool nobody always allowed
    assert decide_mcp(on, "s", "t", server_allows=True) == "approve"
    listed = ApprovalPolicy(auto_approve_mcp=True, mcp_always_allow={"s": ("t",), "all": ("*",)})
    assert decide_mcp(listed, "s", "t") == "approve"
    assert decide_mcp(listed, "s", "u") == "ask"
    assert decide_mcp(listed, "all", "anything") == "approve"
    asked = {"type": "use_mcp_tool", "serverName": "s", "toolName": "u", "arguments": {}}
    after = listed.with_rule(ApprovalCategory.MCP, asked)
    assert after.mcp_always_allow == {"s": ("t", "u"), "all": ("*",)}
    assert after.with_rule(ApprovalCategory.MCP, asked) == after  # not listed twice
    fresh = ApprovalPolicy().with_rule(ApprovalCategory.MCP, asked)
    assert fresh.auto_approve_mcp
    assert fresh.mcp_always_allow == {"s": ("u",)}
    resource = ApprovalPolicy().with_rule(ApprovalCategory.MCP, {"type": "access_mcp_resource"})
    assert resource.auto_approve_mcp
    assert resource.mcp_always_allow == {}


def test_config_shapes() -> None:
    servers = parse_mcp_json(
        json.dumps(
            {
                "mcpServers": {
                    "a": {"command": "node", "args": ["s.js"], "watchPaths": ["x"]},
                    "b": {"url": "https://example.com/sse"},
                    "c": {"type": "streamable-http", "url": "https://example.com/mcp"},
                }
            }
        )
    )
    assert [(s.name, s.config.type) for s in servers] == [
        ("a", "stdio"),
        ("b", "sse"),  # a bare url is SSE, as Roo's schema reads it
        ("c", "streamable-http"),
    ]
    for bad, words in [
        ({"mcpServers": {"a": {}}}, "needs a command"),
        ({"mcpServers": {"a": {"command": "x", "url": "https://e.com"}}}, "not both"),
        ({"mcpServers": {"a": {"type": "sse", "url": "ftp://e.com"}}}, "http or https"),
        ({"mcpServers": {"a": {"url": "https://u:p@e.com"}}}, "credentials"),
        ({"mcpServers": {"a b": {"command": "x"}}}, "server name"),
        ({"servers": {}}, "mcpServers"),
    ]:
        with pytest.raises(McpConfigError, match=words):
            parse_mcp_json(json.dumps(bad))


def test_secrets_sealed_and_opened() -> None:
    box = SecretBox([Fernet.generate_key()])
    given = {"x": ServerConfigIn(command="srv", env={"K": "s3cret-value-1"})}
    stored = seal(given, None, box)
    assert "s3cret-value-1" not in json.dumps(stored)
    assert stored["x"]["envKeys"] == ["K"]
    (resolved,) = session_servers({"mcpServers": stored}, box)
    assert resolved.env == {"K": "s3cret-value-1"}
    kept = seal({"x": ServerConfigIn(command="srv", env={"K": None})}, stored, box)
    assert session_servers({"mcpServers": kept}, box)[0].env == {"K": "s3cret-value-1"}
    other_box = SecretBox([Fernet.generate_key()])
    assert session_servers({"mcpServers": stored}, other_box)[0].env == {}
    ws = parse_mcp_json(json.dumps({"mcpServers": {"x": {"command": "ws"}}}))
    assert merged([resolved], ws)["x"].source == "workspace"


def test_results_render_as_roo_does() -> None:
    empty = tool_result(CallToolResult(content=[]))
    assert empty.text_content == "(No response)"
    failed = tool_result(
        CallToolResult(content=[TextContent(type="text", text="bad")], is_error=True)
    )
    assert failed.is_error
    assert failed.text_content == "Error:\nbad"
    mixed = tool_result(
        CallToolResult(
            content=[
                TextContent(type="text", text="one"),
                EmbeddedResource(
                    type="resource",
                    resource=TextResourceContents(
                        uri="file:///a", text="t", mime_type="text/plain"
                    ),
                ),
                ImageContent(type="image", data="aGk=", mime_type="image/png"),
            ]
        )
    )
    assert mixed.text_content.startswith("one\n\n{")
    assert '"uri": "file:///a"' in mixed.text_content
    assert isinstance(mixed.content[-1], ImageBlock)
