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


def test_the_schemas_say_which_modes() -> None:
    """A user's default mode is one of the engine's (an enum); a session's may also be one of
    its own custom `modes`, so its schema is the slug's shape and says so."""
    preference = Preferences.model_json_schema()["properties"]["defaultMode"]
    assert preference["anyOf"][0]["enum"] == list(MODES)
    session = SessionConfigIn.model_json_schema()["properties"]["mode"]
    assert session["pattern"] == "^[a-zA-Z0-9-]+$"
    assert "built-in" in session["description"]
    custom = {"slug": "reviewer", "name": "Reviewer", "roleDefinition": "You review.", "groups": []}
    config = SessionConfigIn.model_validate({"mode": "reviewer", "modes": [custom]})
    assert config.mode == "reviewer"
