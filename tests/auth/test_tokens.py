"""Access tokens: what is accepted, and every way a token is refused (RFC 7519, RFC 8725)."""

from __future__ import annotations

import base64
import json
import time
import uuid
import warnings
from typing import Any

import httpx
import jwt
import pytest

from roo.auth.tokens import (
    ALGORITHM,
    LEEWAY_SECONDS,
    AccessTokens,
    InvalidToken,
    api_key_prefix,
    looks_like_api_key,
    new_api_key,
    new_refresh_token,
)
from tests.auth.conftest import SignIn

SECRET = "test-secret-that-is-long-enough-0123456789abcdef"
ISS, AUD = "roo-core", "roo-api"


@pytest.fixture
def tokens() -> AccessTokens:
    return AccessTokens(SECRET, ISS, AUD, ttl_seconds=3600)


def claims(**over: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISS,
        "aud": AUD,
        "sub": str(uuid.uuid4()),
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "j1",
        "roles": ["member"],
        "sv": 1,
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def sign(
    payload: dict[str, Any], key: str = SECRET, alg: str = "HS256", typ: str = "at+jwt"
) -> str:
    return jwt.encode(payload, key, algorithm=alg, headers={"typ": typ})


def test_issue_and_decode_round_trip(tokens: AccessTokens) -> None:
    user_id, family = uuid.uuid4(), uuid.uuid4()
    issued = tokens.issue(user_id, ["admin"], 7, family)
    decoded = tokens.decode(issued.token)
    assert decoded.user_id == user_id
    assert decoded.roles == ("admin",)
    assert decoded.session_version == 7
    assert decoded.family_id == family
    assert decoded.jti == issued.jti
    header = jwt.get_unverified_header(issued.token)
    assert header == {"alg": ALGORITHM, "typ": "at+jwt"}
    payload = jwt.decode(issued.token, options={"verify_signature": False})
    assert {"iss", "aud", "sub", "iat", "nbf", "exp", "jti", "roles", "sv", "sid"} <= set(payload)
    assert payload["exp"] - payload["iat"] == 3600


def _unsigned(payload: dict[str, Any], alg: str = "none") -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': alg, 'typ': 'at+jwt'})}.{part(payload)}."


def _quiet_sign(payload: dict[str, Any], alg: str) -> str:
    with warnings.catch_warnings():  # our 48-byte key is short for HS512; that is the point
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return sign(payload, alg=alg)


def _flip_signature(token: str) -> str:
    head, body, sig = token.split(".")
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    return f"{head}.{body}.{flipped}"


REFUSED: list[tuple[str, Any]] = [
    ("alg none", lambda: _unsigned(claims())),
    ("alg none upper", lambda: _unsigned(claims(), "NONE")),
    ("other algorithm HS512, same key", lambda: _quiet_sign(claims(), alg="HS512")),
    ("bad signature", lambda: _flip_signature(sign(claims()))),
    ("other key", lambda: sign(claims(), key="another-secret-of-sufficient-length-xx")),
    ("wrong issuer", lambda: sign(claims(iss="someone-else"))),
    ("wrong audience", lambda: sign(claims(aud="other-api"))),
    ("audience list", lambda: sign(claims(aud=[AUD, "other-api"]))),
    (
        "expired past leeway",
        lambda: sign(claims(exp=int(time.time()) - LEEWAY_SECONDS - 5)),
    ),
    ("not yet valid", lambda: sign(claims(nbf=int(time.time()) + LEEWAY_SECONDS + 30))),
    ("missing jti", lambda: sign(claims(jti=None))),
    ("missing exp", lambda: sign(claims(exp=None))),
    ("missing sub", lambda: sign(claims(sub=None))),
    ("sub not a user id", lambda: sign(claims(sub="../../etc/passwd"))),
    ("sv missing", lambda: sign(claims(sv=None))),
    ("roles not a list", lambda: sign(claims(roles="admin"))),
    ("wrong typ (id token)", lambda: sign(claims(), typ="JWT")),
    ("refresh token as access token", new_refresh_token),
    ("api key as access token", lambda: new_api_key()[0]),
    ("garbage", lambda: "not.a.jwt"),
]


@pytest.mark.parametrize(("case", "make"), REFUSED, ids=[c for c, _ in REFUSED])
def test_refused_tokens(tokens: AccessTokens, case: str, make: Any) -> None:
    with pytest.raises(InvalidToken):
        tokens.decode(make())


def test_expiry_within_leeway_is_accepted(tokens: AccessTokens) -> None:
    token = sign(claims(exp=int(time.time()) - LEEWAY_SECONDS + 5))
    assert tokens.decode(token).jti == "j1"


@pytest.mark.parametrize(("case", "make"), REFUSED[:12], ids=[c for c, _ in REFUSED[:12]])
async def test_refused_over_http_with_www_authenticate(
    client: httpx.AsyncClient, case: str, make: Any
) -> None:
    response = await client.get(
        "/api/v1/auth/profile", headers={"Authorization": f"Bearer {make()}"}
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="roo", error="invalid_token"'
    assert response.json()["type"] == "urn:roo:problem:invalid-token"


async def test_valid_token_for_a_user_that_does_not_exist(
    client: httpx.AsyncClient, app: Any
) -> None:
    resolver = app.state.resources.auth.resolver
    ghost = resolver.tokens.issue(uuid.uuid4(), ["admin"], 1, None)
    response = await client.get(
        "/api/v1/auth/profile", headers={"Authorization": f"Bearer {ghost.token}"}
    )
    assert response.status_code == 401


async def test_missing_credentials_and_wrong_scheme(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    response = await client.get("/api/v1/auth/profile")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="roo"'
    user = await sign_in()
    response = await client.get(
        "/api/v1/auth/profile", headers={"Authorization": f"Token {user.token}"}
    )
    assert response.status_code == 401
    # RFC 6750 5.3: tokens in the query string are not accepted.
    response = await client.get(f"/api/v1/auth/profile?access_token={user.token}")
    assert response.status_code == 401


def test_api_key_format_and_checksum() -> None:
    key, prefix = new_api_key()
    assert key.startswith("roo_")
    assert prefix == api_key_prefix(key)
    assert len(prefix) == 14
    assert looks_like_api_key(key)
    tampered = key[:-7] + ("x" if key[-7] != "x" else "y") + key[-6:]
    assert not looks_like_api_key(tampered)
    assert not looks_like_api_key(key[:-1])
    assert not looks_like_api_key("roo_" + "!" * (len(key) - 4))
    other, _ = new_api_key()
    assert other != key


def test_a_cached_token_still_expires(
    tokens: AccessTokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = tokens.issue(uuid.uuid4(), ["member"], 1, None)
    assert tokens.decode(issued.token).jti == issued.jti
    assert tokens.decode(issued.token).jti == issued.jti  # from the cache
    later = issued.expires_at + LEEWAY_SECONDS + 1
    monkeypatch.setattr(time, "time", lambda: float(later))
    with pytest.raises(InvalidToken):
        tokens.decode(issued.token)


def test_a_tampered_copy_of_a_cached_token_is_refused(tokens: AccessTokens) -> None:
    issued = tokens.issue(uuid.uuid4(), ["member"], 1, None)
    tokens.decode(issued.token)
    with pytest.raises(InvalidToken):
        tokens.decode(_flip_signature(issued.token))
