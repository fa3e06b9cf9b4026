"""Custom modes: Roo's `ModeConfig` schema, the workspace's `.roomodes` file, and the table of
modes a task can use (Roo's `CustomModesManager` and `getAllModes`, reference section 3).

A custom mode has Roo's fields (slug, name, roleDefinition, whenToUse, description,
customInstructions, groups); a group is a name or `[name, {fileRegex, description}]`, and a
fileRegex on `edit` limits which files the mode may change (`modes.check_tool_allowed`).

Sources, later ones winning on the same slug (Roo: project `.roomodes` over the global file over
the built-ins): the built-in modes, the session config's `modes`, the workspace's `.roomodes`.
An invalid definition is refused with the path of the field at fault (`customModes[1].slug`),
never skipped silently: a mode that lost its file restriction would edit what its author
meant to protect.

`.roomodes` is read through the path guard (`roo.pathguard`): the workspace is written by
sandboxed commands, so a link pointing out of it is refused like any other path.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)
from pydantic.alias_generators import to_camel

from roo import pathguard
from roo.agent.modes import MODES, GroupEntry, Mode, ModeSource, js_regex_valid
from roo.kit.inputs import NO_CONTROLS, NO_NUL

ROOMODES_FILE = ".roomodes"
# A .roomodes larger than this is not a modes file (Roo's own are a few KiB).
MAX_ROOMODES_BYTES = 256 * 1024
MAX_CUSTOM_MODES = 50
# Roo's group names; "browser" is deprecated and silently dropped (deprecatedToolGroups).
GROUP_NAMES = ("read", "edit", "command", "mcp", "modes")
DEPRECATED_GROUPS = ("browser",)
SLUG_PATTERN = r"^[a-zA-Z0-9-]+$"


class ModesError(ValueError):
    """Invalid mode definitions: `errors` holds `{field, message}` items naming each field."""

    def __init__(self, message: str, errors: Sequence[Mapping[str, str]] = ()) -> None:
        super().__init__(message)
        self.errors = [dict(e) for e in errors]


def _regex(value: str) -> str:
    if not js_regex_valid(value):
        raise ValueError("Invalid regular expression pattern")
    return value


class GroupOptions(BaseModel):
    """Roo's `groupOptionsSchema`."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )

    file_regex: (
        Annotated[str, StringConstraints(max_length=1000), NO_CONTROLS, AfterValidator(_regex)]
        | None
    ) = None
    description: Annotated[str, StringConstraints(max_length=500), NO_CONTROLS] | None = None


def _group_entry(value: Any) -> Any:
    """A list `[name, {options}]` (JSON/YAML have no tuples) checked as a pair."""
    if isinstance(value, list):
        if len(value) != 2:
            raise ValueError("a group is a name or [name, {fileRegex, description}]")
        return tuple(value)
    return value


GroupName = Annotated[str, StringConstraints(min_length=1, max_length=40), NO_CONTROLS]
Group = Annotated[GroupName | tuple[GroupName, GroupOptions], BeforeValidator(_group_entry)]


class ModeDefinition(BaseModel):
    """Roo's `modeConfigSchema` (camelCase keys). Unknown keys are ignored as Roo ignores them
    (exported `.roomodes` carry `source`, `iconName`...); the API's input model forbids them."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    slug: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=SLUG_PATTERN)]
    name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NO_CONTROLS
    ]
    role_definition: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000), NO_NUL
    ]
    when_to_use: Annotated[str, StringConstraints(max_length=5_000), NO_NUL] | None = None
    description: Annotated[str, StringConstraints(max_length=1_000), NO_NUL] | None = None
    custom_instructions: Annotated[str, StringConstraints(max_length=20_000), NO_NUL] | None = None
    groups: Annotated[list[Group], Field(max_length=20)]

    @field_validator("groups")
    @classmethod
    def _groups(cls, groups: list[Group]) -> list[Group]:
        seen: set[str] = set()
        kept: list[Group] = []
        for entry in groups:
            name = entry if isinstance(entry, str) else entry[0]
            if name in DEPRECATED_GROUPS:
                continue
            if name not in GROUP_NAMES:
                raise ValueError(f"unknown group {name!r}; one of {', '.join(GROUP_NAMES)}")
            if name in seen:
                raise ValueError("Duplicate groups are not allowed")
            seen.add(name)
            kept.append(entry)
        return kept

    def to_mode(self, source: ModeSource) -> Mode:
        groups: list[GroupEntry] = []
        for entry in self.groups:
            if isinstance(entry, str):
                groups.append(entry)
            elif entry[1].file_regex:
                groups.append((entry[0], entry[1].file_regex, entry[1].description or ""))
            else:
                groups.append(entry[0])
        return Mode(
            slug=self.slug,
            name=self.name,
            role_definition=self.role_definition,
            when_to_use=self.when_to_use or "",
            groups=tuple(groups),
            custom_instructions=self.custom_instructions,
            description=self.description,
            source=source,
        )


_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _field(prefix: str, location: Iterable[int | str]) -> str:
    text = prefix
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _NAME.match(part):
            text += f".{part}" if text else part
        # else: pydantic's name of a union member or a validator, not a field
    return text


def validation_errors(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    """pydantic's errors as `{field, message}` with Roo's camelCase field paths. Of a group
    that is neither a name nor a valid pair, the pair's errors are kept (they say more)."""
    out: list[dict[str, str]] = []
    for error in exc.errors(include_url=False):
        message = error["msg"].removeprefix("Value error, ")
        out.append({"field": _field(prefix, error["loc"]), "message": message})
    return [
        e
        for e in out
        if not (
            e["message"] == "Input should be a valid string"
            and any(o["field"].startswith(e["field"] + "[") for o in out)
        )
    ]


def parse_definitions(items: Any, prefix: str = "customModes") -> list[ModeDefinition]:
    """Validate a list of mode definitions; ModesError naming each bad field, or duplicate
    slugs (Roo keeps the first; refusing tells the author)."""
    if not isinstance(items, list):
        raise ModesError(f"{prefix}: must be a list", [{"field": prefix, "message": "not a list"}])
    if len(items) > MAX_CUSTOM_MODES:
        raise ModesError(
            f"{prefix}: at most {MAX_CUSTOM_MODES} modes",
            [{"field": prefix, "message": f"at most {MAX_CUSTOM_MODES} modes"}],
        )
    definitions: list[ModeDefinition] = []
    errors: list[dict[str, str]] = []
    for index, item in enumerate(items):
        try:
            definitions.append(ModeDefinition.model_validate(item))
        except ValidationError as exc:
            errors += validation_errors(exc, f"{prefix}[{index}]")
    slugs = [d.slug for d in definitions]
    for index, slug in enumerate(slugs):
        if slug in slugs[:index]:
            errors.append(
                {"field": f"{prefix}[{index}].slug", "message": f"duplicate slug {slug!r}"}
            )
    if errors:
        first = errors[0]
        raise ModesError(f"{first['field']}: {first['message']}", errors)
    return definitions


def parse_roomodes(text: str) -> list[ModeDefinition]:
    """The modes of a `.roomodes` file (YAML, or JSON): `customModes: [...]`. An empty file
    (or one without `customModes`) has none."""
    try:
        data = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModesError(
            f"{ROOMODES_FILE}: not valid YAML or JSON ({detail})",
            [{"field": ROOMODES_FILE, "message": f"not valid YAML or JSON ({detail})"}],
        ) from None
    if data is None:
        return []
    if not isinstance(data, dict):
        raise ModesError(
            f"{ROOMODES_FILE}: must be a mapping with a customModes list",
            [{"field": ROOMODES_FILE, "message": "must be a mapping with a customModes list"}],
        )
    return parse_definitions(data.get("customModes") or [], "customModes")


def read_roomodes(workspace: Path) -> list[ModeDefinition]:
    """The workspace's `.roomodes` modes (none when there is no file). Blocking: run it in a
    thread. ModesError when the file is invalid, too large, or not a regular file."""
    try:
        fd = pathguard.open_read(workspace, ROOMODES_FILE)
    except FileNotFoundError:
        return []
    except (OSError, pathguard.PathRejected) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
        raise ModesError(
            f"{ROOMODES_FILE}: cannot be read ({reason})",
            [{"field": ROOMODES_FILE, "message": f"cannot be read ({reason})"}],
        ) from None
    try:
        data = os.read(fd, MAX_ROOMODES_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_ROOMODES_BYTES:
        raise ModesError(
            f"{ROOMODES_FILE}: larger than {MAX_ROOMODES_BYTES} bytes",
            [{"field": ROOMODES_FILE, "message": f"larger than {MAX_ROOMODES_BYTES} bytes"}],
        )
    return parse_roomodes(data.decode("utf-8", errors="replace"))


def mode_table(
    session: Sequence[ModeDefinition] = (), workspace: Sequence[ModeDefinition] = ()
) -> dict[str, Mode]:
    """The modes a task can use: built-ins, then the session's, then the workspace's; a later
    definition replaces an earlier one with the same slug, in its place (Roo's `getAllModes`)."""
    table: dict[str, Mode] = dict(MODES)
    sources: tuple[tuple[ModeSource, Sequence[ModeDefinition]], ...] = (
        ("session", session),
        ("workspace", workspace),
    )
    for source, definitions in sources:
        for definition in definitions:
            table[definition.slug] = definition.to_mode(source)
    return table
