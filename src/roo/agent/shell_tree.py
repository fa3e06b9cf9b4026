"""The syntax tree of a bash command line, for `roo.agent.shell`: parsed safely (tree-sitter's
bash grammar, with the few places where it reads bash differently put right first), and the text
of its nodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from roo.agent.shell_words import Word, word_of

if TYPE_CHECKING:
    from tree_sitter import Node, Tree

# Where a backslash-newline is literal; everywhere else bash joins the lines.
_LITERAL_NODES = frozenset({"raw_string", "ansi_c_string", "comment", "heredoc_body"})
# What may follow `coproc NAME`: a compound command (a simple command takes no NAME).
_COMPOUND_STARTS = frozenset(
    [b"{", b"(", b"((", b"[[", b"if", b"while", b"until", b"for", b"case", b"select"]
)
_MAX_KEYWORDS = 16

# Every byte of a multi-byte UTF-8 character read as the letter `a`: the same offsets, the same
# words to bash (for which such characters are plain word characters), and no crash: the bash
# grammar's scanner reads out of bounds on some characters outside the BMP (a segfault of the
# whole service, seen with `{` followed by U+F0000).
_ASCII_ONLY = bytes(range(128)) + b"a" * 128


def parse(source: bytes) -> Tree:
    """The syntax tree of `source`; node offsets are offsets into `source`."""
    from tree_sitter_language_pack import get_parser

    return get_parser("bash").parse(source.translate(_ASCII_ONLY))


def walk(root: Node) -> list[Node]:
    """Every node under `root`, in source order (iteratively: trees can be deep)."""
    out: list[Node] = []
    stack = [root]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(reversed(node.children))
    return out


def join_lines(source: bytes) -> bytes:
    """The source with bash's line continuations (backslash-newline outside single quotes,
    comments and here-document bodies) removed: `r\\<newline>m` is `rm` to bash."""
    if b"\\\n" not in source:
        return source
    tree = parse(source)
    literal = sorted(
        (n.start_byte, n.end_byte) for n in walk(tree.root_node) if n.type in _LITERAL_NODES
    )
    out = bytearray()
    i = k = 0
    while i < len(source):
        while k < len(literal) and literal[k][1] <= i:
            k += 1
        inside = k < len(literal) and literal[k][0] <= i
        if source.startswith(b"\\\n", i) and not inside:
            i += 2
            continue
        if source[i] == 0x5C:  # an escaped character is copied with its backslash
            out += source[i : i + 2]
            i += 2
            continue
        out.append(source[i])
        i += 1
    return bytes(out)


def drop_prefix_keywords(source: bytes) -> bytes:
    """The source with bash's `time [-p]` and `coproc [NAME]` keywords blanked out (same
    offsets). They prefix a whole pipeline or compound command, which the grammar misreads as a
    simple command's arguments (`time { rm x; }`); what follows is what runs."""
    if b"time" not in source and b"coproc" not in source:
        return source
    for _ in range(_MAX_KEYWORDS):
        blanks: list[tuple[int, int]] = []
        tree = parse(source)
        for node in walk(tree.root_node):
            name = node.child_by_field_name("name") if node.type == "command" else None
            if name is None or len(name.children) != 1 or name.children[0].type != "word":
                continue
            keyword = source[name.start_byte : name.end_byte]
            if keyword not in (b"time", b"coproc"):
                continue
            blanks.append((name.start_byte, name.end_byte))
            args = node.children_by_field_name("argument")
            follows = [source[a.start_byte : a.end_byte] for a in args[:2]]
            if keyword == b"time" and follows[:1] == [b"-p"]:
                blanks.append((args[0].start_byte, args[0].end_byte))
            elif keyword == b"coproc" and len(follows) == 2 and follows[1] in _COMPOUND_STARTS:
                blanks.append((args[0].start_byte, args[0].end_byte))  # `coproc NAME { ...; }`
            break  # one at a time: the tree changes
        if not blanks:
            return source
        out = bytearray(source)
        for start, end in blanks:
            out[start:end] = b" " * (end - start)
        source = bytes(out)
    return source


class Source:
    """The bytes a tree was parsed from, for the text of its nodes; and the stretches of it
    that no node covers (text the grammar skipped)."""

    def __init__(self, source: bytes) -> None:
        self.source = source
        self._gaps: list[int] = []
        self._explained: set[int] = set()

    def text(self, node: Node) -> str:
        return self.source[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def join(self, nodes: Sequence[Node]) -> str:
        """The nodes' texts, one blank between nodes that are apart in the source."""
        out: list[str] = []
        end: int | None = None
        for node in nodes:
            if end is not None and node.start_byte > end:
                out.append(" ")
            out.append(self.text(node))
            end = node.end_byte
        return "".join(out).strip()

    def note_gaps(self, node: Node) -> None:
        if not node.children:
            return
        position = node.start_byte
        for child in [*node.children, None]:
            start = node.end_byte if child is None else child.start_byte
            if self.source[position:start].strip():
                self._gaps.append(position)
            if child is not None:
                position = max(position, child.end_byte)

    def explain(self, position: int) -> None:
        self._explained.add(position)

    def unexplained_gaps(self) -> bool:
        return any(g not in self._explained for g in self._gaps)

    def word(self, node: Node) -> Word:
        return word_of(node, self.source)
