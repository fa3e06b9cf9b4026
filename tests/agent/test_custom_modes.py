"""Roo's mode schema: valid `.roomodes` (YAML and JSON) and invalid definitions refused with
the field at fault; precedence of the sources."""

from __future__ import annotations

import pytest

from roo.agent.custom_modes import ModesError, mode_table, parse_definitions, parse_roomodes

MODE = {"slug": "x", "name": "X", "roleDefinition": "r", "groups": ["read"]}


def test_yaml_and_json_roomodes() -> None:
    yaml_text = (
        "customModes:\n  - slug: docs\n    name: Docs\n    roleDefinition: Writes docs.\n"
        "    source: project\n    groups: [read, browser, [edit, {fileRegex: '\\.md$'}]]\n"
    )
    (docs,) = parse_roomodes(yaml_text)
    # Roo's extra keys (source) are ignored, the deprecated browser group dropped
    assert docs.to_mode("workspace").groups == ("read", ("edit", r"\.md$", ""))
    json_text = '{"customModes": [{"slug": "a", "name": "A", "roleDefinition": "r", "groups": []}]}'
    assert [d.slug for d in parse_roomodes(json_text)] == ["a"]
    assert parse_roomodes("") == []
    assert parse_roomodes("customModes: []\n") == []


@pytest.mark.parametrize(
    ("item", "field", "message"),
    [
        ({**MODE, "slug": "a b"}, "customModes[0].slug", "String should match pattern"),
        ({**MODE, "name": ""}, "customModes[0].name", "at least 1 character"),
        (
            {k: v for k, v in MODE.items() if k != "roleDefinition"},
            "customModes[0].roleDefinition",
            "Field required",
        ),
        ({**MODE, "groups": ["read", "read"]}, "customModes[0].groups", "Duplicate groups"),
        ({**MODE, "groups": ["write"]}, "customModes[0].groups", "unknown group 'write'"),
        (
            {**MODE, "groups": [["edit", {"fileRegex": "[a-"}]]},
            "customModes[0].groups[0][1].fileRegex",
            "Invalid regular expression",
        ),
        ({**MODE, "groups": [["edit"]]}, "customModes[0].groups[0]", "a group is a name or"),
        (
            {**MODE, "groups": [["edit", {"regex": "x"}]]},
            "customModes[0].groups[0][1].regex",
            "Extra inputs",
        ),
    ],
)
def test_invalid_definitions_name_the_field(
    item: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(ModesError) as caught:
        parse_definitions([item], "customModes")
    fields = {e["field"]: e["message"] for e in caught.value.errors}
    assert field in fields, caught.value.errors
    assert message in fields[field]
    assert str(caught.value).startswith(field)


def test_duplicate_slugs_and_bad_files() -> None:
    with pytest.raises(ModesError, match=r"customModes\[1\]\.slug: duplicate slug 'x'"):
        parse_definitions([MODE, MODE])
    with pytest.raises(ModesError, match="must be a mapping"):
        parse_roomodes("- a\n- b\n")
    with pytest.raises(ModesError, match="not valid YAML or JSON"):
        parse_roomodes('{"customModes": [}')


def test_precedence_workspace_over_session_over_builtin() -> None:
    session = parse_definitions([{**MODE, "slug": "code", "name": "Session code"}, MODE])
    workspace = parse_definitions([{**MODE, "name": "Workspace X"}])
    table = mode_table(session, workspace)
    assert list(table)[:5] == ["architect", "code", "ask", "debug", "orchestrator"]
    assert (table["code"].name, table["code"].source) == ("Session code", "session")
    assert (table["x"].name, table["x"].source) == ("Workspace X", "workspace")
    assert table["ask"].source == "builtin"
