"""The identity check's caches: the snapshot cache and the memo of verified tokens, keyed by a
digest; no raw credential is kept in memory, and the memo answers only as PyJWT would."""

from __future__ import annotations

import inspect
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from roo.api.state import Resources
from roo.auth import identity, tokens
from roo.auth.tokens import DECODED_CACHE_SIZE, AccessTokens, InvalidToken, token_digest
from tests.auth.conftest import SignIn
from tests.auth.test_api_keys import create_key
from tests.auth.test_tokens import AUD, ISS, REFUSED, SECRET, claims, sign


def reachable(root: object, skip: frozenset[str]) -> Iterator[object]:
    """Every object reachable from `root` through attributes and containers (not modules,
    classes or functions; not the attributes named in `skip`)."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or inspect.ismodule(obj) or inspect.isclass(obj):
            continue
        if inspect.isroutine(obj):
            continue
        seen.add(id(obj))
        yield obj
        if isinstance(obj, str | bytes | int | float | bool | type(None)):
            continue
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
            continue
        if isinstance(obj, list | tuple | set | frozenset):
            stack.extend(obj)
            continue
        names = list(getattr(obj, "__dict__", {}))
        for cls in type(obj).__mro__:
            names.extend(getattr(cls, "__slots__", ()))
        for name in names:
            if name not in skip and hasattr(obj, name):
                stack.append(getattr(obj, name))


def holds(root: object, secret: str) -> bool:
    raw = secret.encode()
    for obj in reachable(root, frozenset({"_sessions", "_denylist_lock"})):
        if (isinstance(obj, str) and secret in obj) or (isinstance(obj, bytes) and raw in obj):
            return True
    return False


async def test_no_raw_credential_is_kept_in_memory(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    owner = await sign_in()
    key = str((await create_key(client, owner, ["profile:read"]))["key"])
    for _ in range(3):
        assert (await client.get("/api/v1/auth/whoami", headers=owner.headers)).status_code == 200
        whoami = await client.get("/api/v1/auth/whoami", headers={"X-API-Key": key})
        assert whoami.status_code == 200
    resolver = resources.auth.resolver
    assert len(resolver.tokens._decoded) >= 1  # the memo is in use, by digest
    assert token_digest(owner.token) in resolver.tokens._decoded
    assert not holds(resolver, owner.token)
    assert not holds(resolver, key)


def test_identity_modules_memoise_no_function() -> None:
    # functools caches keep their arguments, credentials included, out of sight of the check
    # above: the identity check has the snapshot cache and the verified-token memo, no others.
    for module in (identity, tokens):
        for name, value in vars(module).items():
            assert not hasattr(value, "cache_info"), f"{module.__name__}.{name} is memoised"


def test_the_verified_token_memo_stays_bounded() -> None:
    memo = AccessTokens(SECRET, ISS, AUD, ttl_seconds=3600)
    first = sign(claims(jti="first"))
    memo.decode(first)
    for n in range(DECODED_CACHE_SIZE + 10):
        memo.decode(sign(claims(jti=f"j{n}")))
    assert len(memo._decoded) == DECODED_CACHE_SIZE
    assert token_digest(first) not in memo._decoded  # the oldest went first


ACCEPTED: list[tuple[str, Any]] = [
    ("fresh", lambda: sign(claims())),
    ("expiry within leeway", lambda: sign(claims(exp=int(time.time()) - 5))),
    ("with a family", lambda: sign(claims(sid=str(uuid.uuid4())))),
]


@pytest.mark.parametrize(
    ("case", "make"), ACCEPTED + REFUSED, ids=[c for c, _ in ACCEPTED + REFUSED]
)
def test_the_memo_answers_as_pyjwt_does(case: str, make: Any) -> None:
    # The memo skips PyJWT for a token it verified before. Whatever PyJWT (or its options)
    # decides about a token, the second answer, from the memo, must be the same as a fresh
    # verification's: this breaks if the library starts refusing what the memo still accepts.
    token = make()
    memo = AccessTokens(SECRET, ISS, AUD, ttl_seconds=3600)

    def outcome(tokens: AccessTokens) -> object:
        try:
            return tokens.decode(token)
        except InvalidToken:
            return InvalidToken

    first = outcome(memo)
    assert outcome(memo) == first  # from the memo when it was accepted
    assert outcome(AccessTokens(SECRET, ISS, AUD, ttl_seconds=3600)) == first
    if first is not InvalidToken:
        assert token_digest(token) in memo._decoded
