"""OWASP API7:2023 Server Side Request Forgery: every URL a user can make the service fetch
leads to public addresses only, unless an operator allows the host.

The URLs a user sets: a provider base URL (`PUT /auth/providers/{provider}`, a session's or a
task's provider config), and a repository to clone (`POST /sessions/{id}/workspace/clone`,
when the operator turns cloning on). The finding fixed here: the clone URL was not checked at
all; the clone runs with the host's network (loopback included), so `http://127.0.0.1:6379/`,
the metadata address and the service's own admin port were all fetched, with git's account of
the answer in the 400. Now it is held to the provider URLs' policy (`roo.security.egress`):
loopback, private, link-local, metadata and the other non-public ranges in any spelling,
names resolving to them, refused before git runs; git connects to the address checked and
follows no redirect.

Also covered elsewhere: tests/security/test_provider_ssrf.py (provider base URLs: every
spelling of loopback and metadata, IPv6 forms, names resolving inward, DNS rebinding after the
check, redirects to loopback, upstream bodies never echoed, admin-allowed hosts).
"""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from roo.api.state import Resources
from roo.security.egress import AllowedHosts, EgressPolicy
from roo.sessions.service import SessionManager
from tests.auth.conftest import SignIn, auth, make_user, resources, sign_in

__all__ = ["auth", "make_user", "resources", "sign_in"]

INWARD = [
    "http://127.0.0.1:6379/x.git",
    "http://localhost/x.git",
    "https://169.254.169.254/latest/meta-data",
    "http://2130706433/x.git",  # 127.0.0.1, decimal
    "http://0x7f.1/x.git",
    "http://[::1]:8080/x.git",
    "http://[::ffff:127.0.0.1]/x.git",
    "http://[fd00:ec2::254]/x.git",  # AWS metadata over IPv6
    "http://10.0.0.5/x.git",
    "http://192.168.1.1/x.git",
    "http://100.100.100.200/x.git",  # Alibaba metadata
    "http://0.0.0.0:3000/x.git",
    "git://127.0.0.1/x.git",
    "git://[::1]/x.git",
    "http://user:pw@127.0.0.1/x.git",
]


@pytest.fixture
def cloning(resources: Resources) -> Resources:
    resources.settings = resources.settings.model_copy(update={"allow_git_clone": True})
    return resources


@pytest.mark.parametrize("url", INWARD)
async def test_a_clone_url_leading_inward_is_refused_before_git_runs(
    app: FastAPI,
    client: httpx.AsyncClient,
    sign_in: SignIn,
    cloning: Resources,
    monkeypatch: pytest.MonkeyPatch,
    url: str,
) -> None:
    user = await sign_in()
    made = await client.post("/api/v1/sessions", headers=user.headers, json={})
    sid = made.json()["id"]
    ran: list[object] = []

    async def never(*args: object, **kwargs: object) -> None:
        ran.append(args)
        raise AssertionError("git ran")

    monkeypatch.setattr(cloning.sessions_manager, "clone_repository", never)
    response = await client.post(
        f"/api/v1/sessions/{sid}/workspace/clone", headers=user.headers, json={"url": url}
    )
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "urn:roo:problem:clone-url-refused"
    assert "ROO_PROVIDER_ALLOWED_HOSTS" in response.json()["detail"]
    assert ran == []


async def test_a_clone_is_pinned_to_the_address_checked_and_follows_no_redirect() -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return {"git.example.com": ["93.184.216.34"], "v6.example.com": ["2606:2800::1"]}[host]

    policy = EgressPolicy(resolver=resolve)
    options = await SessionManager.check_clone_url(policy, "https://git.example.com/r.git")
    assert options == [
        "-c",
        "http.followRedirects=false",
        "-c",
        "http.curloptResolve=git.example.com:443:93.184.216.34",
    ]
    options = await SessionManager.check_clone_url(policy, "http://v6.example.com:8080/r.git")
    assert options[-1] == "http.curloptResolve=v6.example.com:8080:[2606:2800::1]"


async def test_a_name_that_resolves_inward_is_refused() -> None:
    from roo.sessions.exceptions import CloneUrlRefused

    async def rebinding(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "127.0.0.1"]  # one public, one loopback: refused

    with pytest.raises(CloneUrlRefused):
        await SessionManager.check_clone_url(
            EgressPolicy(resolver=rebinding), "https://evil.example/r.git"
        )


async def test_an_operator_allowed_host_may_be_cloned_from() -> None:
    policy = EgressPolicy(AllowedHosts.parse(["git.internal", "10.0.0.0/8"]))
    assert await SessionManager.check_clone_url(policy, "https://git.internal/r.git") == [
        "-c",
        "http.followRedirects=false",
    ]
    options = await SessionManager.check_clone_url(policy, "http://10.1.2.3/r.git")
    assert options[-1] == "http.curloptResolve=10.1.2.3:80:10.1.2.3"


@pytest.mark.parametrize(
    "base_url",
    ["http://127.0.0.1:6379", "http://[::1]/v1", "http://169.254.169.254/v1", "http://10.0.0.1"],
)
async def test_a_provider_base_url_leading_inward_is_refused(
    client: httpx.AsyncClient, sign_in: SignIn, base_url: str
) -> None:
    """The stored provider URL (test_provider_ssrf.py holds the rest of this surface)."""
    user = await sign_in()
    response = await client.put(
        "/api/v1/auth/providers/openai", headers=user.headers, json={"baseUrl": base_url}
    )
    assert 400 <= response.status_code < 500, response.text
    assert (await client.get("/api/v1/auth/providers", headers=user.headers)).json() == []
