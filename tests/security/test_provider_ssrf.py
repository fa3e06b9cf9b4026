"""SSRF through a user's provider base URL, with the answer reflected (issue 12, item 8).

The attack: a member stores `baseUrl` pointing at a service next to ours (loopback, the private
network, the cloud metadata address); the task's requests go there and the failure message and
the `error.occurred` event carried that service's response body. Now a user's base URL must lead
to public addresses: checked when stored (every spelling of an address, names resolved) and
again at every connection, to the address checked (DNS rebinding), redirects not followed;
an operator allows hosts with ROO_PROVIDER_ALLOWED_HOSTS. Whatever answers, the failure text
is a short status line, never the body.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from roo.config import ConfigError, load_settings
from roo.security.egress import (
    AllowedHosts,
    EgressPolicy,
    EgressRefused,
    guarded_client,
    not_public,
    numeric_address,
)
from roo.testing.fake_llm import FakeLLM, Reply, ToolCall
from tests.support.dns import FakeDNS, dns
from tests.tasks.conftest import (
    Api,
    api,
    auth,
    llm,
    make_api,
    make_user,
    resources,
    settings,
    sign_in,
)

# The tasks tests' fixtures: the service's own endpoint is the fake LLM server on loopback.
__all__ = [
    "api",
    "auth",
    "dns",
    "llm",
    "make_api",
    "make_user",
    "resources",
    "settings",
    "sign_in",
]

SECRET = "internal-secret-" + uuid.uuid4().hex
PUBLIC = "93.184.215.14"
PROVIDERS_URL = "/api/v1/auth/providers/openai"
DONE = Reply(tool_calls=[ToolCall("attempt_completion", {"result": "ok"})])


class Upstream:
    """An HTTP server on loopback answering every request with one response; it counts the
    connections it gets and keeps the requests' Host headers."""

    def __init__(self, status: int = 200, body: bytes = b"", **headers: str) -> None:
        self.status, self.body, self.headers = status, body, headers
        self.connections = 0
        self.hosts: list[str] = []
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def __aenter__(self) -> Upstream:
        self._server = await asyncio.start_server(self._answer, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.decode("latin-1").split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                if name.lower() == "host":
                    self.hosts.append(value.strip())
            await reader.readexactly(length)
            extra = "".join(f"{k.replace('_', '-')}: {v}\r\n" for k, v in self.headers.items())
            writer.write(
                f"HTTP/1.1 {self.status} X\r\nContent-Length: {len(self.body)}\r\n{extra}"
                "Connection: close\r\n\r\n".encode()
                + self.body
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def secret_service() -> AsyncIterator[Upstream]:
    """What a user must not reach: a service on loopback whose answer is a secret."""
    async with Upstream(200, f"<html>{SECRET}</html>".encode(), content_type="text/html") as up:
        yield up


async def stored(api: Api) -> list[Any]:
    response = await api.request("GET", "/api/v1/auth/providers")
    assert response.status_code == 200
    items: list[Any] = response.json()
    return items


async def run_task(api: Api, provider: str = "openai") -> tuple[dict[str, Any], list[Any]]:
    """A task on the user's own endpoint, run to its end: the task and the session's events.
    A transient failure (5xx, a broken stream) asks whether to retry once the retries are spent
    (`api_retry`, Roo's api_req_failed): its question must not echo the upstream body either
    (checked by the callers on the events), and it is answered no, which fails the task."""
    session = await api.session()
    task = await api.start(session, config={"provider": provider, "model": "their-model"})
    ended = await api.wait(session, task["id"], "failed", "completed", "awaiting_approval")
    if ended["state"] == "awaiting_approval":
        pending = ended["pending"]
        assert pending["kind"] == "api_retry", pending
        assert SECRET not in json.dumps(pending)
        answer = await api.act(session, task["id"], action="deny", approvalId=pending["id"])
        assert answer.status_code == 200, answer.text
        ended = await api.wait(session, task["id"], "failed", "completed")
    return ended, await api.events(session)


# -- which addresses are not public ------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),  # decimal
        ("0x7f000001", "127.0.0.1"),  # hex
        ("0x7f.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),  # octal
        ("017700000001", "127.0.0.1"),
        ("::1", "::1"),
        ("[::1]", "::1"),
        ("::ffff:127.0.0.1", "::ffff:127.0.0.1"),  # IPv4-mapped
        ("::ffff:7f00:1", "::ffff:127.0.0.1"),
        ("::127.0.0.1", "::127.0.0.1"),  # IPv4-compatible
        ("64:ff9b::7f00:1", "64:ff9b::7f00:1"),  # NAT64
        ("2002:7f00:1::", "2002:7f00:1::"),  # 6to4
        ("169.254.169.254", "169.254.169.254"),  # cloud metadata
        ("::ffff:169.254.169.254", "::ffff:169.254.169.254"),
        ("fd00:ec2::254", "fd00:ec2::254"),  # AWS metadata over IPv6
        ("100.100.100.200", "100.100.100.200"),  # Alibaba metadata (CGNAT range)
        ("168.63.129.16", "168.63.129.16"),  # Azure platform endpoint
        ("10.1.2.3", "10.1.2.3"),
        ("172.16.0.1", "172.16.0.1"),
        ("192.168.1.1", "192.168.1.1"),
        ("100.64.0.1", "100.64.0.1"),
        ("fc00::1", "fc00::1"),
        ("fe80::1", "fe80::1"),
        ("0.0.0.0", "0.0.0.0"),  # noqa: S104 - an address to refuse, not one to bind
        ("0", "0.0.0.0"),  # noqa: S104
        ("::", "::"),
        ("224.0.0.1", "224.0.0.1"),
        ("ff02::1", "ff02::1"),
        ("255.255.255.255", "255.255.255.255"),
        ("198.18.0.1", "198.18.0.1"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:0:4136:e378:8000:63bf:3fff:fdd2"),  # Teredo
    ],
)
def test_every_spelling_of_an_internal_address_is_not_public(host: str, address: str) -> None:
    ip = numeric_address(host)
    assert ip == ipaddress.ip_address(address)
    assert not_public(ip) is not None


@pytest.mark.parametrize("host", ["8.8.8.8", PUBLIC, "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_are_public(host: str) -> None:
    ip = numeric_address(host)
    assert ip is not None
    assert not_public(ip) is None


def test_allowed_hosts_parse_names_addresses_and_ranges() -> None:
    allowed = AllowedHosts.parse(["Ollama.Internal.", " 10.0.0.0/8", "127.0.0.1", "", "::1"])
    assert allowed.name("ollama.internal")
    assert allowed.address(ipaddress.ip_address("10.9.8.7"))
    assert allowed.address(ipaddress.ip_address("127.0.0.1"))
    assert not allowed.address(ipaddress.ip_address("127.0.0.2"))
    with pytest.raises(ValueError, match="not a host name"):
        AllowedHosts.parse(["http://ollama:11434"])
    with pytest.raises(ConfigError, match="ROO_PROVIDER_ALLOWED_HOSTS"):
        load_settings(env="test", provider_allowed_hosts="ollama, bad host")


# -- refused when stored ------------------------------------------------------------------------


async def test_a_loopback_service_is_refused_when_stored(
    api: Api, secret_service: Upstream
) -> None:
    response = await api.request(
        "PUT", PROVIDERS_URL, json={"apiKey": "sk-mine", "baseUrl": secret_service.url}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "urn:roo:problem:provider-base-url-refused"
    assert problem["errors"][0]["field"] == "body.baseUrl"
    assert "loopback" in problem["detail"]
    assert await stored(api) == []  # nothing changed
    assert secret_service.connections == 0
    assert SECRET not in response.text


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433:{port}/v1",
        "http://0x7f000001:{port}/v1",
        "http://0177.0.0.1:{port}/v1",
        "http://127.1:{port}/v1",
        "http://[::1]:{port}/v1",
        "http://[::ffff:127.0.0.1]:{port}/v1",
        "http://[::ffff:7f00:1]:{port}/v1",
        "https://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/v1",
        "http://[::ffff:a9fe:a9fe]/v1",
        "http://10.0.0.1/v1",
        "http://100.64.0.1/v1",
        "http://0.0.0.0:{port}/v1",
        "http://[::]:{port}/v1",
        "http://localhost:{port}/v1",  # a name resolving to loopback (the hosts file)
        "http://LOCALHOST.:{port}/v1",
    ],
)
async def test_every_spelling_of_loopback_and_metadata_is_refused(
    api: Api, secret_service: Upstream, url: str
) -> None:
    response = await api.request(
        "PUT", PROVIDERS_URL, json={"baseUrl": url.format(port=secret_service.port)}
    )
    assert response.status_code == 422, response.text
    assert response.json()["type"] == "urn:roo:problem:provider-base-url-refused"
    assert await stored(api) == []
    assert secret_service.connections == 0


@pytest.mark.parametrize(
    "answer",
    [["127.0.0.1"], ["10.20.30.40"], [PUBLIC, "127.0.0.1"], ["::1"], ["fe80::1%1"]],
)
async def test_a_name_resolving_to_an_internal_address_is_refused(
    api: Api, dns: FakeDNS, answer: list[str]
) -> None:
    dns.answer("llm.attacker.example", answer)
    response = await api.request(
        "PUT", PROVIDERS_URL, json={"baseUrl": "https://llm.attacker.example/v1"}
    )
    assert response.status_code == 422, response.text
    assert "not public" in response.json()["detail"]
    assert await stored(api) == []


async def test_a_name_that_does_not_resolve_is_refused(api: Api, dns: FakeDNS) -> None:
    dns.answer("nowhere.example", [])
    response = await api.request("PUT", PROVIDERS_URL, json={"baseUrl": "https://nowhere.example"})
    assert response.status_code == 422
    assert "could not be resolved" in response.json()["detail"]


async def test_a_public_name_is_stored(api: Api, dns: FakeDNS) -> None:
    dns.answer("llm.example.com", [PUBLIC])
    response = await api.request("PUT", PROVIDERS_URL, json={"baseUrl": "https://llm.example.com"})
    assert response.status_code == 200, response.text


# -- refused at connect time ---------------------------------------------------------------------


async def test_dns_rebinding_after_the_check_is_refused_when_connecting(
    api: Api, dns: FakeDNS, secret_service: Upstream
) -> None:
    # public when stored, loopback when the task connects
    dns.answer("rebind.attacker.example", [PUBLIC], ["127.0.0.1"])
    url = f"http://rebind.attacker.example:{secret_service.port}/v1"
    response = await api.request("PUT", PROVIDERS_URL, json={"apiKey": "sk-mine", "baseUrl": url})
    assert response.status_code == 200, response.text

    task, events = await run_task(api)
    assert task["state"] == "failed"
    assert task["failure"]["reason"] == "api_req_failed"
    assert "base URL refused" in task["failure"]["message"]
    assert "not public" in task["failure"]["message"]
    assert secret_service.connections == 0
    # stored; the model listing asked for a model the table does not know ("their-model");
    # then the request: each refused at its connection, none retried
    assert dns.lookups["rebind.attacker.example"] == 3
    (occurred,) = [e for e in events if e["event"] == "error.occurred"]
    assert occurred["data"]["message"] == task["failure"]["message"]
    assert SECRET not in json.dumps([task, events])


@pytest.mark.task_settings(provider_allowed_hosts=["localhost"])
async def test_a_redirect_to_loopback_is_not_followed(api: Api, secret_service: Upstream) -> None:
    target = f"{secret_service.url}/chat/completions"
    async with Upstream(307, b"", location=target) as redirector:
        # an allowed host (by name) that redirects where the user may not go
        url = f"http://localhost:{redirector.port}/v1"
        response = await api.request("PUT", PROVIDERS_URL, json={"baseUrl": url})
        assert response.status_code == 200, response.text
        task, events = await run_task(api)
        assert redirector.connections >= 1
    assert task["failure"]["message"].endswith("HTTP 307 from provider")
    assert secret_service.connections == 0
    assert SECRET not in json.dumps([task, events])


async def test_the_guard_connects_to_the_address_it_checked(dns: FakeDNS) -> None:
    """The name is never handed to another resolver: it does not exist outside this test."""
    dns.answer("pinned.example.test", ["127.0.0.1"], ["10.0.0.1"])
    policy = EgressPolicy(AllowedHosts.parse(["127.0.0.0/8"]))
    async with Upstream(200, b"ok") as up, guarded_client(policy) as client:
        answer = await client.get(f"http://pinned.example.test:{up.port}/v1/models")
        assert answer.text == "ok"
        assert up.hosts == [f"pinned.example.test:{up.port}"]  # the name, in the Host header
        with pytest.raises(EgressRefused, match="not public"):  # checked again, every request
            await client.get(f"http://pinned.example.test:{up.port}/v1/models")
        assert up.connections == 1


async def test_the_guard_refuses_other_schemes_and_redirects(dns: FakeDNS) -> None:
    policy = EgressPolicy(AllowedHosts.parse(["127.0.0.1"]))
    async with Upstream(302, b"", location="http://169.254.169.254/") as up:
        async with guarded_client(policy) as client:
            answer = await client.get(f"http://127.0.0.1:{up.port}/")
            assert answer.status_code == 302  # handed back, not followed
            with pytest.raises((EgressRefused, httpx2.UnsupportedProtocol)):
                await client.get("ftp://127.0.0.1/")


# -- what answers is never echoed -------------------------------------------------------------

_LONG = "x" * 1000


@pytest.mark.task_settings(provider_allowed_hosts=["127.0.0.1"])
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize(
    ("status", "content_type", "body", "expected"),
    [
        (502, "text/html", f"<h1>{SECRET}</h1>", "HTTP 502 from provider"),
        (400, "application/json", json.dumps({"detail": SECRET}), "HTTP 400 from provider"),
        (404, "application/json", json.dumps({"message": SECRET}), "HTTP 404 from provider"),
        (401, "application/json", json.dumps({"error": SECRET}), "HTTP 401 from provider"),
        (
            400,
            "application/json",
            json.dumps({"error": {"message": _LONG + SECRET, "type": "invalid_request_error"}}),
            "HTTP 400 from provider: invalid_request_error: xxx",
        ),
        (
            529,
            "application/json",
            json.dumps(
                {"type": "error", "error": {"type": "overloaded", "message": _LONG + SECRET}}
            ),
            "HTTP 529 from provider: overloaded: xxx",
        ),
        (200, "text/plain", SECRET, ""),
        (200, "text/event-stream", f"data: {SECRET}\n\n", ""),
    ],
)
async def test_upstream_bodies_are_not_echoed(
    api: Api, provider: str, status: int, content_type: str, body: str, expected: str
) -> None:
    async with Upstream(status, body.encode(), content_type=content_type) as upstream:
        response = await api.request(
            "PUT",
            f"/api/v1/auth/providers/{provider}",
            json={"apiKey": "sk-mine", "baseUrl": upstream.url},
        )
        assert response.status_code == 200, response.text
        task, events = await run_task(api, provider)
    assert task["state"] == "failed"
    message = task["failure"]["message"]
    assert expected in message
    assert len(message) < 300
    assert SECRET not in json.dumps([task, events])


# -- what the operator allows --------------------------------------------------------------------


@pytest.mark.task_settings(provider_allowed_hosts=["127.0.0.0/8"])
async def test_an_admin_allowed_host_works(api: Api) -> None:
    async with FakeLLM(api_key="sk-users-own-key") as own:
        own.script(DONE)
        response = await api.request(
            "PUT",
            PROVIDERS_URL,
            json={"apiKey": "sk-users-own-key", "baseUrl": own.openai_base_url},
        )
        assert response.status_code == 200, response.text
        task, _ = await run_task(api)
        assert task["state"] == "completed"
        assert len(own.requests) == 1


async def test_the_services_own_base_url_is_trusted(api: Api, llm: FakeLLM) -> None:
    # The operator's OPENAI_BASE_URL is the fake server on loopback: a user may use it too.
    llm.script(DONE)
    response = await api.request(
        "PUT", PROVIDERS_URL, json={"apiKey": "sk-fake-service-key", "baseUrl": llm.openai_base_url}
    )
    assert response.status_code == 200, response.text
    task, _ = await run_task(api)
    assert task["state"] == "completed"
