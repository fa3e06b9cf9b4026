"""Where a user's provider base URL may lead: public addresses only, unless an operator allows
the host (issue 12, item 8: SSRF through a user's provider base URL).

A user's `baseUrl` makes the service send HTTP requests to it. Loopback, private, link-local
and similar addresses reach the service's own neighbours (Redis, the database, a cloud metadata
service, an admin port), so for a URL a *user* set:

- `EgressPolicy.check_url` refuses it when it is stored: every address of the host must be
  public. Names are resolved; IP literals are read as the C resolver reads them, whatever the
  spelling (decimal `2130706433`, octal `0177.0.0.1`, hex `0x7f.1`, short `127.1`, IPv6 with an
  IPv4 address inside: `::ffff:127.0.0.1`, NAT64, 6to4).
- `GuardedTransport` (the transport of the SDK clients built for such a URL) checks again on
  every request, when it connects: it resolves the host itself, refuses when any address is
  not public, and connects to the address it checked, the host name kept for the Host header
  and the TLS server name. A DNS answer that changes after the check (rebinding) cannot lead
  elsewhere; redirects are not followed (`guarded_client`).

An operator allows hosts with `ROO_PROVIDER_ALLOWED_HOSTS` (names, addresses, CIDR ranges); the
service's own base URLs (`OPENAI_BASE_URL`, `ANTHROPIC_BASE_URL`) are trusted as set.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

import httpx2

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]

RESOLVE_TIMEOUT: Final = 5.0
ALLOWED_HOSTS_SETTING: Final = "ROO_PROVIDER_ALLOWED_HOSTS"

# Not public, whatever `ipaddress` of this Python version says: "this network", private,
# shared (CGNAT), loopback, link-local (cloud metadata 169.254.169.254), IETF, documentation,
# benchmarking, multicast, reserved, broadcast; ULA (AWS metadata fd00:ec2::254), site-local.
_NOT_PUBLIC: Final = tuple(
    ipaddress.ip_network(n)
    for n in (
        *("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16"),
        *("172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16"),
        *("198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4"),
        *("::/128", "::1/128", "100::/64", "2001::/23", "2001:db8::/32", "fc00::/7"),
        *("fe80::/10", "fec0::/10", "ff00::/8"),
        "168.63.129.16/32",  # Azure's platform endpoint: a public address, reached only inside
    )
)
_NAT64: Final = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE: Final = ipaddress.ip_network("::/96")
_HOSTNAME: Final = re.compile(r"(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_-]{1,63})*\.?$")


class EgressRefused(httpx2.ConnectError):
    """A provider URL that leads to an address a user may not reach. The message says why,
    in words fit for the user (never an address the user did not type). A connection error
    to the HTTP client and the SDKs: nothing was sent."""


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries to the same host: mapped, NAT64, 6to4, compatible."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def not_public(ip: IPAddress) -> str | None:
    """Why `ip` is not a public address ("loopback", "private"...), or None when it is."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            return not_public(inner)
        if ip.teredo is not None:
            return "a Teredo tunnel"
    for test, kind in (
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local (cloud metadata)"),
        (ip.is_multicast, "multicast"),
        (ip.is_unspecified, "unspecified"),
        (ip.is_private, "private"),
    ):
        if test:
            return kind
    if any(ip in net for net in _NOT_PUBLIC) or not ip.is_global:
        return "reserved or internal"
    return None


def numeric_address(host: str) -> IPAddress | None:
    """`host` as an IP address when it is one in any spelling the C resolver accepts
    (`127.1`, `2130706433`, `0x7f000001`, `0177.0.0.1`, `[::1]`), else None."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, flags=socket.AI_NUMERICHOST)
    except (OSError, UnicodeError, ValueError):
        return None
    return ipaddress.ip_address(str(infos[0][4][0]).split("%", 1)[0]) if infos else None


async def system_resolve(host: str, port: int) -> list[str]:
    """The addresses of `host` from the system resolver (in a thread: getaddrinfo blocks)."""
    loop = asyncio.get_running_loop()
    infos = await asyncio.wait_for(
        loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT
    )
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True, slots=True)
class AllowedHosts:
    """What an operator lets users' base URLs reach although it is not public."""

    names: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowedHosts:
        """From `ROO_PROVIDER_ALLOWED_HOSTS` entries: host names (exact, any port), IP
        addresses or CIDR ranges. A malformed entry raises ValueError naming it."""
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for raw in entries:
            entry = raw.strip().lower()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            if not _HOSTNAME.match(entry):
                raise ValueError(
                    f"{raw.strip()!r} is not a host name, an IP address or a CIDR range"
                )
            names.add(entry.rstrip("."))
        return cls(frozenset(names), tuple(networks))

    def name(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.names

    def address(self, ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in self.networks)


def _origin(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower().rstrip(".")
    if scheme not in ("http", "https") or not host:
        return None
    return scheme, host, port or (443 if scheme == "https" else 80)


@dataclass(slots=True)
class EgressPolicy:
    """Which addresses a user's provider URL may reach (see the module's docstring).

    `allowed`: the operator's allowed hosts; `trusted`: URLs whose origin (scheme, host, port)
    is trusted as it is (the service's own base URLs); `resolver`: how host names are resolved
    (the system resolver unless given)."""

    allowed: AllowedHosts = field(default_factory=AllowedHosts)
    trusted: Sequence[str] = ()
    resolver: Resolver | None = None

    def _trusts(self, scheme: str, host: str, port: int) -> bool:
        if self.allowed.name(host):
            return True
        return any(_origin(url) == (scheme, host.lower().rstrip("."), port) for url in self.trusted)

    async def addresses(self, scheme: str, host: str, port: int) -> list[str] | None:
        """The addresses to connect to for `host`, all checked; None when the host is trusted
        (connect as usual). Raises `EgressRefused`."""
        if self._trusts(scheme, host, port):
            return None
        literal = numeric_address(host)
        if literal is not None:
            kind = None if self.allowed.address(literal) else not_public(literal)
            if kind is not None:
                raise EgressRefused(
                    f"{host} is a {kind} address, which a provider base URL may not use; an "
                    f"operator can allow it with {ALLOWED_HOSTS_SETTING}"
                )
            return [str(literal)]
        resolve = self.resolver or system_resolve
        try:
            found = await resolve(host, port)
        except (OSError, UnicodeError, ValueError, TimeoutError):
            found = []
        if not found:
            raise EgressRefused(f"the host {host} could not be resolved")
        for address in found:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
            if not self.allowed.address(ip) and not_public(ip) is not None:
                raise EgressRefused(
                    f"the host {host} resolves to an address that is not public (loopback, "
                    "private, link-local, metadata...), which a provider base URL may not use; "
                    f"an operator can allow the host with {ALLOWED_HOSTS_SETTING}"
                )
        return found

    async def check_url(self, url: str) -> None:
        """Raise `EgressRefused` unless `url` (an absolute http(s) URL) may be used as a user's
        provider base URL now."""
        origin = _origin(url)
        if origin is None:
            raise EgressRefused("the URL must be an http or https URL with a host")
        scheme = origin[0]
        host = urlsplit(url).hostname or ""
        await self.addresses(scheme, host, origin[2])


class GuardedTransport(httpx2.AsyncBaseTransport):
    """An HTTP transport that connects only where the policy allows, to the address it checked.

    Each request's host is resolved and checked (`EgressPolicy.addresses`); the request then
    goes to the first address that accepts a connection, its URL rewritten to that address, the
    Host header and TLS server name (`sni_hostname`) still the host's name, so the certificate
    is checked against the name. A refusal raises `EgressRefused` before any connection."""

    def __init__(self, policy: EgressPolicy, inner: httpx2.AsyncBaseTransport | None = None):
        self._policy = policy
        self._inner = inner or httpx2.AsyncHTTPTransport(
            trust_env=False, limits=httpx2.Limits(max_connections=1000, keepalive_expiry=30)
        )

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise EgressRefused(f"{url.scheme} URLs are not allowed")
        host = url.raw_host.decode("ascii")
        port = url.port or (443 if url.scheme == "https" else 80)
        addresses = await self._policy.addresses(url.scheme, host, port)
        if addresses is None:
            return await self._inner.handle_async_request(request)
        if url.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": host.strip("[]")}
        failure: Exception = EgressRefused(f"the host {host} has no address")
        for address in addresses:
            request.url = url.copy_with(host=address)
            try:
                return await self._inner.handle_async_request(request)
            except httpx2.ConnectError as exc:  # nothing was sent: the next address may answer
                failure = exc
        raise failure

    async def aclose(self) -> None:
        await self._inner.aclose()


def guarded_client(policy: EgressPolicy) -> httpx2.AsyncClient:
    """An HTTP client for an SDK (`http_client=`): the guarded transport, no redirects followed,
    no proxy from the environment (it would connect in our place)."""
    return httpx2.AsyncClient(
        transport=GuardedTransport(policy), follow_redirects=False, trust_env=False
    )
