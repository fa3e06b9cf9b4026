"""A resolver double for the egress guard (`roo.security.egress`): names given in the test get
the test's answers, one answer list per lookup when several are given (the last one repeats),
which is what a DNS rebinding attacker's server does; other names go to the system resolver."""

from __future__ import annotations

from collections import defaultdict

import pytest

from roo.security import egress


class FakeDNS:
    def __init__(self) -> None:
        self._answers: dict[str, list[list[str]]] = {}
        self.lookups: defaultdict[str, int] = defaultdict(int)
        self._system = egress.system_resolve

    def answer(self, host: str, *answers: list[str]) -> None:
        """`host` resolves to `answers[0]` at the first lookup, `answers[1]` at the second..."""
        self._answers[host.lower()] = [list(a) for a in answers]

    async def __call__(self, host: str, port: int) -> list[str]:
        key = host.lower().rstrip(".")
        if key not in self._answers:
            return await self._system(host, port)
        count = self.lookups[key]
        self.lookups[key] += 1
        answers = self._answers[key]
        return answers[min(count, len(answers) - 1)]

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
        """Every egress policy without a resolver of its own asks this one."""
        monkeypatch.setattr(egress, "system_resolve", self)
        return self


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
    return FakeDNS().install(monkeypatch)
