"""Generate `docs/api-reference.md` from the service's OpenAPI document.

    make api-reference                                            # write it
    .venv/bin/python -m tests.client.generate_api_reference --check  # exit 1 if not current

The reference is the document as text a person reads on GitHub or offline: every operation by
tag (method, path, summary, description, parameters, request body, answers), then every schema
(fields, types, which are required, constraints). The document is the one
`tests/client/generate_models.py` builds (`create_app(Settings()).openapi()`, no environment),
so the output is the same everywhere; `tests/client/test_api_reference.py` fails when the file
is not what the current document generates.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from typing import Any

from tests.client.generate_models import ROOT, openapi_document

REFERENCE = ROOT / "docs" / "api-reference.md"
METHODS = ("get", "put", "post", "patch", "delete", "head", "options")
CONSTRAINTS = ("minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum",
               "exclusiveMaximum", "pattern", "minItems", "maxItems", "format")  # fmt: skip


def anchor(name: str) -> str:
    """The id GitHub gives a heading `### Name` (lower case, spaces to -, punctuation out)."""
    return re.sub(r"[^a-z0-9_ -]", "", name.lower()).replace(" ", "-")


def cell(text: Any) -> str:
    """Text for a table cell: one line, pipes escaped."""
    return " ".join(str(text or "").split()).replace("|", "\\|")


def type_of(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return f"[{name}](#{anchor(name)})"
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return " \\| ".join(type_of(s) for s in schema[key])
    if "enum" in schema:
        return " \\| ".join(f"`{v!r}`" if isinstance(v, str) else f"`{v}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']!r}`"
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list[{type_of(schema.get('items', {}))}]"
    if kind == "object" and "additionalProperties" in schema:
        extra = schema["additionalProperties"]
        return f"dict[str, {type_of(extra) if isinstance(extra, dict) else 'any'}]"
    return str(kind)


def constraints(schema: dict[str, Any]) -> str:
    found = [f"{key} {schema[key]}" for key in CONSTRAINTS if key in schema]
    if "default" in schema:
        found.append(f"default `{schema['default']!r}`")
    return ", ".join(found)


def operation_lines(method: str, path: str, op: dict[str, Any]) -> Iterator[str]:
    title = op.get("summary") or op.get("operationId", "")
    yield f"### `{method.upper()} {path}`"
    yield ""
    if title:
        yield f"**{cell(title)}**" + ("  (deprecated)" if op.get("deprecated") else "")
        yield ""
    if op.get("description"):
        yield op["description"].strip()
        yield ""
    parameters = op.get("parameters") or []
    if parameters:
        yield "| parameter | in | type | required | description |"
        yield "|---|---|---|---|---|"
        for p in parameters:
            schema = p.get("schema", {})
            detail = " ".join(x for x in (p.get("description", ""), constraints(schema)) if x)
            yield (f"| `{p['name']}` | {p['in']} | {type_of(schema)} | "
                   f"{'yes' if p.get('required') else 'no'} | {cell(detail)} |")  # fmt: skip
        yield ""
    body = op.get("requestBody")
    if body:
        kinds = ", ".join(
            f"`{ctype}` {type_of(c.get('schema', {}))}" for ctype, c in body["content"].items()
        )
        yield f"Request body{' (required)' if body.get('required') else ''}: {kinds}"
        yield ""
    yield "| answer | description | body |"
    yield "|---|---|---|"
    for status, answer in op.get("responses", {}).items():
        content = answer.get("content") or {}
        kinds = ", ".join(f"`{ctype}` {type_of(c.get('schema', {}))}"
                          for ctype, c in content.items())  # fmt: skip
        yield f"| {status} | {cell(answer.get('description'))} | {kinds} |"
    yield ""


def schema_lines(name: str, schema: dict[str, Any]) -> Iterator[str]:
    yield f"### {name}"
    yield ""
    if schema.get("description"):
        yield schema["description"].strip()
        yield ""
    properties = schema.get("properties") or {}
    if not properties:
        yield f"Type: {type_of(schema)}"
        yield ""
        return
    required = set(schema.get("required") or [])
    yield "| field | type | required | description |"
    yield "|---|---|---|---|"
    for field, spec in properties.items():
        detail = " ".join(x for x in (spec.get("description", ""), constraints(spec)) if x)
        yield (f"| `{field}` | {type_of(spec)} | {'yes' if field in required else 'no'} | "
               f"{cell(detail)} |")  # fmt: skip
    yield ""


def generate() -> str:
    document = openapi_document()
    info = document.get("info", {})
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                tag = (item[method].get("tags") or ["other"])[0]
                by_tag.setdefault(tag, []).append((method, path, item[method]))
    lines = [
        f"# API reference: {info.get('title', '')} {info.get('version', '')}".rstrip(),
        "",
        "<!-- Generated from the OpenAPI document by `make api-reference` "
        "(tests/client/generate_api_reference.py): do not edit. "
        "tests/client/test_api_reference.py fails when it is not current. -->",
        "",
        "The same document is served live at `/api/v1/openapi.json`, with Swagger UI at "
        "`/api/v1/docs` and ReDoc at `/api/v1/redoc`. Every error answer is "
        '`application/problem+json` (README.md, "API documentation").',
        "",
        "## Operations",
        "",
    ]
    for tag, operations in by_tag.items():
        links = ", ".join(f"[`{m.upper()} {p}`](#{anchor(f'{m} {p}')})" for m, p, _ in operations)
        lines.append(f"- **{tag}**: {links}")
    lines.append("")
    for tag, operations in by_tag.items():
        lines += [f"## {tag}", ""]
        for method, path, op in operations:
            lines += operation_lines(method, path, op)
    lines += ["## Schemas", ""]
    for name, schema in sorted(document.get("components", {}).get("schemas", {}).items()):
        lines += schema_lines(name, schema)
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str]) -> int:
    text = generate()
    if "--check" in argv:
        if REFERENCE.read_text() != text:
            sys.stderr.write("docs/api-reference.md is not current: make api-reference\n")
            return 1
        return 0
    REFERENCE.write_text(text)
    sys.stdout.write(f"wrote {REFERENCE.relative_to(ROOT)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
