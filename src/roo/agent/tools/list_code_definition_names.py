"""`list_code_definition_names`: the definitions of a source file, or of the top-level source
files of a directory, found with tree-sitter (grammars from `tree-sitter-language-pack`).

Roo's behaviour (`src/services/tree-sitter/index.ts`, XML era): `# <file>` then one line per
definition, `start--end | <first line of the definition>` (1-based lines); definitions shorter
than 4 lines are left out; a directory covers its top-level files only, at most 50 source files;
"No source code definitions found." when nothing is found. Here a definition is a top-level
one (function, class, struct, interface, type, impl...) or a member of one (methods).
Parsing is CPU work: it runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import os
import posixpath
import stat as stat_module
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import Field

from roo.agent.tools.base import ApprovalCategory, Tool, ToolContext, ToolParams, ToolResult
from roo.agent.tools.rooignore import check_path
from roo.pathguard import PathRejected, Root

if TYPE_CHECKING:
    from tree_sitter import Node
    from tree_sitter_language_pack import SupportedLanguage

MIN_COMPONENT_LINES = 4
MAX_DIRECTORY_FILES = 50
MAX_FILE_BYTES = 2 * 1024 * 1024
NO_DEFINITIONS = "No source code definitions found."


@dataclass(frozen=True, slots=True)
class LanguageSpec:
    grammar: SupportedLanguage
    definitions: frozenset[str]  # node types that are definitions
    containers: frozenset[str]  # definitions whose body holds member definitions
    members: frozenset[str]  # node types that are member definitions
    wrappers: frozenset[str] = frozenset()  # export / decorator nodes around a definition
    transparent: frozenset[str] = frozenset()  # nodes inside a body to look through
    variables: frozenset[str] = frozenset()  # `const f = () => ...` declarations


_JS_DEFS = frozenset(
    {"function_declaration", "generator_function_declaration", "class_declaration", "class"}
)
_JS_MEMBERS = frozenset({"method_definition"})
_JS_VARS = frozenset({"lexical_declaration", "variable_declaration"})
_TS_DEFS = _JS_DEFS | {
    "abstract_class_declaration",
    "interface_declaration",
    "type_alias_declaration",
    "enum_declaration",
    "module",
    "internal_module",
    "function_signature",
}
_TS_CONTAINERS = frozenset({"class_declaration", "abstract_class_declaration", "class"})
_TS_MEMBERS = _JS_MEMBERS | {"abstract_method_signature", "method_signature"}
_TS_WRAPPERS = frozenset({"export_statement", "ambient_declaration", "expression_statement"})
_JAVA_TYPES = frozenset(
    {
        "class_declaration",
        "interface_declaration",
        "enum_declaration",
        "record_declaration",
        "annotation_type_declaration",
    }
)

LANGUAGES: dict[str, LanguageSpec] = {
    "python": LanguageSpec(
        "python",
        definitions=frozenset({"function_definition", "class_definition"}),
        containers=frozenset({"class_definition"}),
        members=frozenset({"function_definition", "class_definition"}),
        wrappers=frozenset({"decorated_definition"}),
    ),
    "javascript": LanguageSpec(
        "javascript",
        definitions=_JS_DEFS,
        containers=frozenset({"class_declaration", "class"}),
        members=_JS_MEMBERS,
        wrappers=frozenset({"export_statement"}),
        variables=_JS_VARS,
    ),
    "typescript": LanguageSpec(
        "typescript", _TS_DEFS, _TS_CONTAINERS, _TS_MEMBERS, _TS_WRAPPERS, variables=_JS_VARS
    ),
    "tsx": LanguageSpec(
        "tsx", _TS_DEFS, _TS_CONTAINERS, _TS_MEMBERS, _TS_WRAPPERS, variables=_JS_VARS
    ),
    "go": LanguageSpec(
        "go",
        definitions=frozenset({"function_declaration", "method_declaration", "type_declaration"}),
        containers=frozenset(),
        members=frozenset(),
    ),
    "rust": LanguageSpec(
        "rust",
        definitions=frozenset(
            {
                "function_item",
                "struct_item",
                "enum_item",
                "union_item",
                "trait_item",
                "impl_item",
                "mod_item",
                "macro_definition",
                "type_item",
            }
        ),
        containers=frozenset({"impl_item", "trait_item", "mod_item"}),
        members=frozenset({"function_item", "function_signature_item"}),
        wrappers=frozenset(),
    ),
    "java": LanguageSpec(
        "java",
        definitions=_JAVA_TYPES,
        containers=_JAVA_TYPES,
        members=_JAVA_TYPES
        | {"method_declaration", "constructor_declaration", "compact_constructor_declaration"},
        transparent=frozenset({"enum_body_declarations"}),
    ),
}

EXTENSIONS: dict[str, str] = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".jsx": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
}
_BODIES = frozenset(
    {"block", "class_body", "declaration_list", "interface_body", "enum_body", "body"}
)
_FUNCTION_VALUES = frozenset(
    {"arrow_function", "function_expression", "function", "generator_function", "class"}
)


def language_for(path: str) -> LanguageSpec | None:
    return LANGUAGES.get(EXTENSIONS.get(posixpath.splitext(path)[1].lower(), ""))


def _unwrap(node: Node, spec: LanguageSpec, kinds: frozenset[str]) -> Node | None:
    """The definition (a node of `kinds`) that `node` is or wraps (an export, a decorator...)."""
    for _ in range(4):
        if node.type in kinds:
            return node
        if node.type in spec.variables and kinds is spec.definitions:
            for child in node.named_children:
                value = child.child_by_field_name("value")
                if value is not None and value.type in _FUNCTION_VALUES:
                    return node
            return None
        if node.type not in spec.wrappers:
            return None
        inner = node.child_by_field_name("definition") or node.child_by_field_name("declaration")
        if inner is None:
            inner = next((c for c in node.named_children if c.type not in ("decorator",)), None)
        if inner is None:
            return None
        node = inner
    return None


def _members(node: Node, spec: LanguageSpec) -> Iterator[Node]:
    body = node.child_by_field_name("body")
    if body is None:
        body = next((c for c in node.named_children if c.type in _BODIES), None)
    if body is None:
        return
    pending = list(body.named_children)
    while pending:
        child = pending.pop(0)
        if child.type in spec.transparent:
            pending[:0] = child.named_children
            continue
        found = _unwrap(child, spec, spec.members)
        if found is not None:
            yield found


def definitions(source: bytes, spec: LanguageSpec) -> list[tuple[int, int]]:
    """(start row, end row) of each definition, 0-based, sorted, at least 4 lines long."""
    from tree_sitter_language_pack import get_parser

    tree = get_parser(spec.grammar).parse(source)
    found: set[tuple[int, int]] = set()
    for top in tree.root_node.named_children:
        node = _unwrap(top, spec, spec.definitions)
        if node is None:
            continue
        found.add((node.start_point.row, node.end_point.row))
        if node.type in spec.containers:
            for member in _members(node, spec):
                found.add((member.start_point.row, member.end_point.row))
    return sorted(r for r in found if r[1] - r[0] + 1 >= MIN_COMPONENT_LINES)


def format_definitions(source: bytes, spec: LanguageSpec) -> str | None:
    """Roo's `start--end | first line` rows, or None when the file has none."""
    ranges = definitions(source, spec)
    if not ranges:
        return None
    lines = source.decode("utf-8", errors="replace").split("\n")
    return "".join(f"{start + 1}--{end + 1} | {lines[start]}\n" for start, end in ranges)


def _read(root: Root, rel: str) -> bytes | None:
    fd = root.open_read(rel)
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    return None if len(data) > MAX_FILE_BYTES else data


class ListCodeDefinitionNamesParams(ToolParams):
    path: str = Field(
        description="File or directory to list definitions of, relative to the workspace."
    )


class ListCodeDefinitionNamesTool(Tool):
    name = "list_code_definition_names"
    description = (
        "Request to list definition names (classes, functions, methods, etc.) from source code. "
        "This tool can analyze either a single file or all files at the top level of a "
        "specified directory. It provides insights into the codebase structure and important "
        "constructs, encapsulating high-level concepts and relationships that are crucial for "
        "understanding the overall architecture. Supported: Python, JavaScript, TypeScript, "
        "Go, Rust and Java. Each definition is shown as `start--end | first line`."
    )
    Params = ListCodeDefinitionNamesParams
    category = ApprovalCategory.READ

    async def execute(self, params: ListCodeDefinitionNamesParams, ctx: ToolContext) -> ToolResult:
        checked = check_path(ctx, params.path, allow_root=True, directory=True)
        if isinstance(checked, ToolResult):
            return checked
        rel = checked or "."
        return await asyncio.to_thread(_list, ctx, rel)


def _list(ctx: ToolContext, rel: str) -> ToolResult:
    try:
        with Root(ctx.workspace) as root:
            try:
                info = root.stat(rel)
            except PathRejected as exc:
                return ToolResult.error(f"Invalid path '{rel}': {exc}")
            except OSError:
                return ToolResult.text(
                    "This file does not exist or you do not have permission to access it."
                )
            if stat_module.S_ISDIR(info.st_mode):
                return _list_directory(ctx, root, rel)
            return _list_file(root, rel)
    except OSError as exc:
        return ToolResult.error(f"Could not read '{rel}': {exc.strerror or exc}")


def _list_file(root: Root, rel: str) -> ToolResult:
    spec = language_for(rel)
    if spec is None:
        return ToolResult.text(f"Unsupported file type: {rel}", files=0)
    source = _read(root, rel)
    found = format_definitions(source, spec) if source is not None else None
    if found is None:
        return ToolResult.text(NO_DEFINITIONS, files=1)
    return ToolResult.text(f"# {posixpath.basename(rel)}\n{found}", files=1)


def _list_directory(ctx: ToolContext, root: Root, rel: str) -> ToolResult:
    candidates: list[str] = []
    for name in root.listdir(rel):
        child = name if rel == "." else f"{rel}/{name}"
        if language_for(name) is None:
            continue
        try:
            if not stat_module.S_ISREG(root.stat(child).st_mode):
                continue
        except (OSError, PathRejected):
            continue
        candidates.append(child)
    candidates = candidates[:MAX_DIRECTORY_FILES]
    out: list[str] = []
    for child in candidates:
        if ctx.ignore.ignored(child):
            continue
        spec = language_for(child)
        assert spec is not None  # noqa: S101 - filtered above
        try:
            source = _read(root, child)
        except (OSError, PathRejected):
            continue
        found = format_definitions(source, spec) if source is not None else None
        if found:
            shown = child if rel == "." else child[len(rel) + 1 :]
            out.append(f"# {shown}\n{found}\n")
    if not out:
        return ToolResult.text(NO_DEFINITIONS, files=len(candidates))
    return ToolResult.text("".join(out), files=len(candidates))
