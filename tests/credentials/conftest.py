"""Identity fixtures shared with the provider credentials tests, and a DNS answer for the
gateway name they store as a base URL (stored URLs must resolve to public addresses)."""

import pytest

from tests.auth.conftest import auth, make_user, resources, sign_in
from tests.support.dns import FakeDNS

__all__ = ["auth", "make_user", "resources", "sign_in"]

# A public address (not one of the documentation ranges, which the egress guard refuses).
GATEWAY_ADDRESS = "93.184.215.14"


@pytest.fixture(autouse=True)
def gateway_dns(monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
    dns = FakeDNS().install(monkeypatch)
    dns.answer("llm-gateway.example.com", [GATEWAY_ADDRESS])
    return dns
