"""docs/api-reference.md is what the current OpenAPI document generates (`make api-reference`)."""

from __future__ import annotations

from tests.client.generate_api_reference import REFERENCE, generate


def test_the_api_reference_is_current() -> None:
    text = generate()
    assert text == REFERENCE.read_text(), (
        "docs/api-reference.md differs from what the OpenAPI document generates: "
        "run `make api-reference` and commit it"
    )
    # every operation and schema is in it
    assert "### `POST /api/v1/sessions/{session_id}/tasks`" in text
    assert "### TaskCreateIn" in text
