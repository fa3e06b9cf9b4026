"""What the sync and async clients share: a request described without doing I/O (`Call`), the
`operation` descriptor that turns one builder method into a sync method on `RooClient` and an
async one on `AsyncRooClient`, the credentials, and reading responses.

Each route is written once, as a builder that returns a `Call` (method, path, query, body,
headers, how to read the answer). The two transports (`SyncTransport`, `AsyncTransport`) only
send a `Call` and apply the same policy around it: the credential, refreshing an expired access
token once (under a lock, so concurrent callers refresh once between them) and raising the typed
error of a problem+json answer.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter

from roo.client.errors import RooError, error_for
from roo.client.models import RefreshIn, TokenPairOut

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
P = ParamSpec("P")

API = "/api/v1"
USER_AGENT = "roo-client/0.1"


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request, not yet sent, and how to read its answer."""

    parse: Callable[[httpx.Response], T]
    path: Mapping[str, Any] = field(default_factory=dict)  # the template's parameters
    params: Mapping[str, Any] | None = None
    json: Any = None
    content: bytes | None = None
    headers: Mapping[str, str] | None = None
    authenticated: bool = True  # send the credential (not for login, register, refresh)
    method: str = ""  # set by `operation`
    url: str = ""  # the path, filled in by `operation`


class operation(Generic[P, T]):
    """A route of the API: `method` and `template` (as in the OpenAPI document), and the
    builder of its `Call`. Read from a `SyncTransport` it is a method returning the result;
    from an `AsyncTransport`, a coroutine method."""

    def __init__(
        self,
        method: str,
        template: str,
        build: Callable[..., Call[T]],
        body: type[BaseModel] | None = None,
    ) -> None:
        self.method, self.template, self.build = method, template, build
        self.body = body  # the request body's model (the document's requestBody schema)
        self.__doc__ = build.__doc__
        self.__name__ = build.__name__

    def call(self, owner: Any, *args: Any, **kwargs: Any) -> Call[T]:
        built = self.build(owner, *args, **kwargs)
        segments = {
            key: quote(str(value), safe="/" if key == "path" else "")
            for key, value in built.path.items()
        }
        url = self.template.format(**segments)
        params = None
        if built.params is not None:
            params = {k: _query(v) for k, v in built.params.items() if v is not None}
        json = built.json
        if self.body is not None and json is not None:
            # validated by the route's model before anything is sent, by the API's names
            json = self.body.model_validate(json).model_dump(
                mode="json", by_alias=True, exclude_unset=True
            )
        return Call(
            parse=built.parse, path=built.path, params=params, json=json,
            content=built.content, headers=built.headers,
            authenticated=built.authenticated, method=self.method, url=url,
        )  # fmt: skip

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> operation[P, T]: ...
    @overload
    def __get__(
        self, obj: AsyncTransport, owner: type[Any]
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...
    @overload
    def __get__(self, obj: SyncTransport, owner: type[Any]) -> Callable[P, T]: ...
    def __get__(self, obj: Any, owner: type[Any]) -> Any:
        if obj is None:
            return self

        def bound(*args: Any, **kwargs: Any) -> Any:
            return obj._execute(self.call(obj, *args, **kwargs))

        bound.__doc__, bound.__name__ = self.__doc__, self.__name__
        return bound


def route(
    method: str, template: str, body: type[BaseModel] | None = None
) -> Callable[[Callable[Concatenate[Any, P], Call[T]]], operation[P, T]]:
    """`@route("POST", "/api/v1/sessions", body=SessionCreateIn)` over a builder
    `def f(self, ...) -> Call[X]` whose `json` (by the API's names) `body` validates."""

    def wrap(build: Callable[Concatenate[Any, P], Call[T]]) -> operation[P, T]:
        return operation(method, template, build, body)

    return wrap


def _query(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if not isinstance(value, int | float) else value


# -- reading answers ---------------------------------------------------------------------------


def model(cls: type[M]) -> Callable[[httpx.Response], M]:
    return lambda response: cls.model_validate_json(response.content)


def many(cls: type[M]) -> Callable[[httpx.Response], list[M]]:
    adapter = TypeAdapter(list[cls])  # type: ignore[valid-type]
    return lambda response: adapter.validate_json(response.content)


def nothing(response: httpx.Response) -> None:
    return None


def json_or_none(response: httpx.Response) -> dict[str, Any] | None:
    if response.status_code == 204 or not response.content:
        return None
    body = response.json()
    return body if isinstance(body, dict) else {"value": body}


def fields(**given: Any) -> dict[str, Any]:
    """A request body's fields, those given (not None), by their names in the API."""
    return {key: value for key, value in given.items() if value is not None}


def body(cls: type[BaseModel], **fields: Any) -> Any:
    """The JSON of a request body, validated by its model first (a field the document does
    not have, or a value out of its bounds, fails here with pydantic's error, before any
    request): only the fields given, by their names in the API."""
    given = {k: v for k, v in fields.items() if v is not None}
    return cls.model_validate(given).model_dump(mode="json", by_alias=True, exclude_unset=True)


# -- credentials --------------------------------------------------------------------------------


@dataclass
class Credentials:
    """What the client authenticates with: an API key, or an access token (with the refresh
    token that renews it)."""

    api_key: str | None = None
    access_token: str | None = None
    refresh_token: str | None = None

    def headers(self) -> dict[str, str]:
        if self.access_token:
            return {"Authorization": f"Bearer {self.access_token}"}
        if self.api_key:
            return {"X-API-Key": self.api_key}
        return {}

    def can_refresh(self, used: str | None) -> bool:
        """After a 401: a refresh may help if the request went with an access token and there
        is a refresh token. (The access token has expired, or was replaced meanwhile by another
        caller's refresh; a 401 for a token that has not expired by this machine's clock is
        refreshed too: the clocks may disagree. A sign-in that was ended refuses the refresh,
        and the 401 goes to the caller.)"""
        return used is not None and bool(self.refresh_token)

    def needs_refresh(self) -> bool:
        """The access token has expired already: refresh before sending, saving a 401."""
        return bool(self.access_token and self.refresh_token and token_expired(self.access_token))


def token_expired(token: str, *, now: float | None = None) -> bool:
    """Whether a JWT's `exp` has passed (read without verifying: the service verifies it; an
    unreadable token counts as not expired, so a 401 for it is reported, not retried)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        exp = float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return False
    return (time.time() if now is None else now) >= exp


# -- the transports -----------------------------------------------------------------------------


def _request(
    http: httpx.Client | httpx.AsyncClient, call: Call[Any], auth: dict[str, str]
) -> httpx.Request:
    headers = {**auth, **(call.headers or {})} if call.authenticated else dict(call.headers or {})
    return http.build_request(
        call.method, call.url, params=call.params, json=call.json, content=call.content,
        headers=headers,
    )  # fmt: skip


def _result(call: Call[T], response: httpx.Response) -> T:
    if response.status_code >= 400:
        raise error_for(response)
    return call.parse(response)


def _refresh_call(credentials: Credentials) -> Call[TokenPairOut]:
    return Call(
        parse=model(TokenPairOut), method="POST", url=f"{API}/auth/refresh",
        json=body(RefreshIn, refresh_token=credentials.refresh_token), authenticated=False,
    )  # fmt: skip


def _store_refresh(credentials: Credentials, response: httpx.Response) -> bool:
    """Keep the new pair; a refused refresh (expired, revoked, reused) drops the refresh token,
    so the caller gets the 401 and signs in again."""
    if response.status_code != 200:
        credentials.refresh_token = None
        return False
    pair = TokenPairOut.model_validate_json(response.content)
    credentials.access_token, credentials.refresh_token = pair.token, pair.refresh_token
    return True


class SyncTransport:
    """Sends `Call`s with an `httpx.Client`."""

    def __init__(self, http: httpx.Client, credentials: Credentials) -> None:
        self.http, self.credentials = http, credentials
        self._refresh_lock = threading.Lock()

    def _execute(self, call: Call[T]) -> T:
        if call.authenticated and self.credentials.needs_refresh():
            self._refresh_after(self.credentials.access_token)
        used = self.credentials.access_token
        response = self._send(call)
        if (
            response.status_code == 401
            and call.authenticated
            and self.credentials.can_refresh(used)
        ):
            if self._refresh_after(used):
                response = self._send(call)
        return _result(call, response)

    def _send(self, call: Call[Any]) -> httpx.Response:
        request = _request(self.http, call, self.credentials.headers())
        response = self.http.send(request)
        response.read()
        return response

    def _refresh_after(self, used: str | None) -> bool:
        with self._refresh_lock:
            if self.credentials.access_token != used:  # another thread refreshed meanwhile
                return True
            return _store_refresh(self.credentials, self._send(_refresh_call(self.credentials)))


class AsyncTransport:
    """Sends `Call`s with an `httpx.AsyncClient`."""

    def __init__(self, http: httpx.AsyncClient, credentials: Credentials) -> None:
        self.http, self.credentials = http, credentials
        self._refresh_lock = asyncio.Lock()

    async def _execute(self, call: Call[T]) -> T:
        if call.authenticated and self.credentials.needs_refresh():
            await self._refresh_after(self.credentials.access_token)
        used = self.credentials.access_token
        response = await self._send(call)
        if (
            response.status_code == 401
            and call.authenticated
            and self.credentials.can_refresh(used)
        ):
            if await self._refresh_after(used):
                response = await self._send(call)
        return _result(call, response)

    async def _send(self, call: Call[Any]) -> httpx.Response:
        request = _request(self.http, call, self.credentials.headers())
        response = await self.http.send(request)
        await response.aread()
        return response

    async def _refresh_after(self, used: str | None) -> bool:
        async with self._refresh_lock:
            if self.credentials.access_token != used:  # another task refreshed meanwhile
                return True
            response = await self._send(_refresh_call(self.credentials))
            return _store_refresh(self.credentials, response)


__all__ = ["API", "USER_AGENT", "Call", "Credentials", "RooError", "operation", "route"]
