"""Mode names in request bodies come from the engine's one list of modes."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from roo.agent.modes import MODES
from roo.auth.schemas import Preferences
from roo.sessions.schemas import SessionConfigIn


@pytest.mark.parametrize("slug", sorted(MODES))
def test_every_engine_mode_is_accepted(slug: str) -> None:
    assert SessionConfigIn.model_validate({"mode": slug}).mode == slug
    assert Preferences.model_validate({"defaultMode": slug}).default_mode == slug


def test_an_unknown_mode_is_refused_with_the_list() -> None:
    with pytest.raises(ValidationError, match=r"unknown mode 'coder'; one of .*orchestrator"):
        SessionConfigIn.model_validate({"mode": "coder"})


def test_the_schema_lists_the_engine_modes() -> None:
    schema = SessionConfigIn.model_json_schema()["properties"]["mode"]
    assert schema["enum"] == list(MODES)
