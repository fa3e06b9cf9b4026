"""tests/deploy checks the deployment files; it starts nothing of them (see test_manifests.py)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "deploy_files: checks deploy/ (syntax, schemas, consistency with roo's settings, commands "
        "and probes) without running any of it: no Docker or Kubernetes here",
    )
