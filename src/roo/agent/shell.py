"""What a bash command line runs, read with tree-sitter's bash grammar (the one Codex judges
commands with), for the approval policy (`roo.agent.approval`).

`analyse(command)` walks the syntax tree and reports:

- `commands`: Roo's sub-commands, the text of each simple command outside substitutions, in
  order, with redirections removed and blanks collapsed: what Roo matches its allow list
  against (`split_commands`).
- `invocations`: every command the line may run, wherever it sits (lists, pipelines, subshells,
  `{ }` groups, `if`/`while`/`for`/`case` bodies, functions, substitutions), each with the words
  it runs at every level of wrapping, quotes and escapes removed: `sudo env rm x` runs
  `sudo env rm x`, then `env rm x`, then `rm x`. Command lines handed to a shell are analysed in
  turn: `sh -c`/`bash -c` strings, `eval`, here-documents and here-strings fed to a shell,
  `su -c`, `env -S`, `trap`, `alias`, `watch`; so are `find -exec` commands.
- flags: `substituted` (command substitution runs code the prefix lists never see),
  `file_redirect`, `background`, and `uncertain` when the text does not say what runs: parse
  errors, a command name expanded at run time (`$X`, `${X}`, `$(...)`, globs, braces), options of
  a wrapper that are not understood, a shell reading a script from a pipe, nesting too deep.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from roo.agent.shell_tree import Source, drop_prefix_keywords, join_lines, parse
from roo.agent.shell_words import (
    LOGIN_SHELL_OPTIONS,
    WATCH,
    WRAPPERS,
    Word,
    base_name,
    given,
    peel,
)

if TYPE_CHECKING:
    from tree_sitter import Node

MAX_DEPTH = 6  # nested command lines (sh -c "sh -c '...'"); deeper: uncertain
MAX_LEVELS = 16  # wrappers around one command
SHELLS = frozenset(
    {"sh", "bash", "dash", "zsh", "ksh", "ksh93", "mksh", "pdksh", "ash", "yash", "posh"}
    | {"rbash", "fish", "csh", "tcsh"}
)
_STATEMENT_PARENTS = frozenset(
    {
        "program",
        "list",
        "pipeline",
        "compound_statement",
        "subshell",
        "do_group",
        "if_statement",
        "elif_clause",
        "else_clause",
        "while_statement",
        "case_item",
        "redirected_statement",
        "negated_command",
        "heredoc_redirect",
    }
)
_STATEMENTS = frozenset({"declaration_command", "unset_command", "test_command"})
_ARGUMENT_TOKENS = frozenset({"==", "=~"})
_LIST_OPERATORS = frozenset({"&&", "||", ";", "|", "|&", "&", ";;"})
_REDIRECTS = frozenset({"file_redirect", "heredoc_redirect", "herestring_redirect"})
_SAFE_TARGETS = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr"})
_STDIN_FILES = frozenset({"-", "/dev/stdin", "/proc/self/fd/0", "/dev/fd/0"})
# Nodes whose text is not made of child nodes (no gap check inside).
_LEAVES = frozenset(
    {"comment", "string", "raw_string", "ansi_c_string", "translated_string", "heredoc_body"}
    | {"heredoc_content", "regex", "extglob_pattern"}
)
_PLAIN_WORD = re.compile(r"[\w./=+:,@%-]+")
# Leaves whose text is literal to bash (no substitution inside).
_LITERAL_LEAVES = frozenset(
    {"raw_string", "ansi_c_string", "comment", "heredoc_start", "heredoc_end"}
    | {"variable_name", "file_descriptor", "number", "test_operator", "special_variable_name"}
)
_ESCAPED = re.compile(r"\\.", re.S)
_EXEC_OPTIONS = frozenset({"-exec", "-execdir", "-ok", "-okdir"})
_RESERVED = frozenset(
    "if then else elif fi do done case esac while until for in select function { } [[ ]] !"
    " time coproc".split()
)


@dataclass(frozen=True, slots=True)
class Invocation:
    """One command the line may run: `text` as Roo sees it (the allow list's subject), and the
    words run at each level of wrapping, outermost first (each level a suffix of the one
    before, except extra guesses added when a wrapper's options were not understood)."""

    text: str
    levels: tuple[tuple[str, ...], ...]


@dataclass(slots=True)
class Analysis:
    """What `analyse` found (see the module's docstring)."""

    commands: list[str] = field(default_factory=list)
    invocations: list[Invocation] = field(default_factory=list)
    substituted: bool = False
    file_redirect: bool = False
    background: bool = False
    uncertain: bool = False


def _heredoc_text(redirect: Node, src: Source) -> str:
    """A here-document's body as bash reads it: the source from the line after the one that
    opens it to its delimiter. Not the grammar's `heredoc_body`: tree-sitter-bash reads a body
    whose first line starts with a backslash (`\\rm`) as an argument of the redirect and leaves
    the body empty. With several here-documents on one line, each one's text starts at the
    first body (more text is read, never less)."""
    start = next((c for c in redirect.children if c.type == "heredoc_start"), None)
    if start is None:
        return ""
    newline = src.source.find(b"\n", start.end_byte)
    if newline < 0:
        return ""
    end = next((c for c in redirect.children if c.type == "heredoc_end"), None)
    stop = end.start_byte if end is not None else redirect.end_byte
    return src.source[newline + 1 : stop].decode("utf-8", "replace")


def _split_at_stray_operators(parts: list[Node], dropped: list[str], src: Source) -> list[str]:
    """A command's text, cut where the grammar left a list operator in an ERROR node inside
    it (`ls == && b`: its error recovery reads one command `ls ==`, `&&`, `b`): Roo's split
    cuts there. One piece in the usual case."""
    pieces: list[list[Node]] = [[]]
    for part in parts:
        if part.type == "ERROR" and src.text(part).strip() in _LIST_OPERATORS:
            pieces.append([])
        else:
            pieces[-1].append(part)
    texts = [src.join(piece) for piece in pieces]
    texts[-1] = " ".join([texts[-1], *dropped])
    return [t.strip() for t in texts if t.strip()]


def _skipped_before(node: Node, parent: Node | None, src: Source) -> str:
    """Text the grammar skipped (no node, no error) between `node` and what comes before it in
    its parent (`ls && - 1=` reads `1=` alone), with a blank after it: Roo's split keeps it with
    the command it precedes. Empty when nothing was skipped (the usual case)."""
    if parent is None:
        return ""
    start = parent.start_byte
    for child in parent.children:
        if child.start_byte >= node.start_byte:
            break
        start = max(start, child.end_byte)
    skipped = src.source[start : node.start_byte].decode("utf-8", "replace").strip()
    return f"{skipped} " if skipped else ""


class _Analyser:
    def __init__(self) -> None:
        self.out = Analysis()
        self.fed: list[str] = []  # here-documents, here-strings, echo/printf text
        self._last_command_end: int | None = None  # where the last top-level command kept ends
        self.stdin_shell = False

    def run(self, command: str) -> Analysis:
        self._script(command, 0, top=True)
        if self.stdin_shell:
            # A shell reads its script from a pipe: it cannot be known, but a denied command
            # written anywhere in the text it may be fed still denies.
            self.out.uncertain = True
            for text in list(self.fed):
                self._script(text, 1, top=False)
        return self.out

    # -- one command line ------------------------------------------------------------------

    def _script(self, text: str, depth: int, *, top: bool) -> None:
        if depth > MAX_DEPTH:
            self.out.uncertain = True
            return
        source = drop_prefix_keywords(join_lines(text.encode("utf-8", "surrogatepass")))
        tree = parse(source)
        root = tree.root_node
        if root.has_error or b"\0" in source:
            self.out.uncertain = True  # (a NUL byte cannot reach bash: execve stops there)
        before = source[: root.start_byte].decode("utf-8", "replace").strip()
        after = source[root.end_byte :].decode("utf-8", "replace").strip()
        if before or after:
            # text outside the whole tree, which the grammar skipped without an error node
            # (`- 1=` reads as the assignment `1=` alone): it did not read what runs
            self.out.uncertain = True
        first = len(self.out.commands)
        src = Source(source)
        # (node, inside a substitution, parent): parents are carried along because
        # `Node.parent` walks down from the root (quadratic on long `a && b && ...` chains)
        stack: list[tuple[Node, bool, Node | None]] = [(root, False, None)]
        while stack:
            node, inner, parent = stack.pop()
            kind = node.type
            if node.is_missing or node.is_error:
                self.out.uncertain = True
                if kind == "ERROR" and top and not inner:
                    self._error_after_command(node, src)
            if kind == "comment":
                continue
            if kind not in _LEAVES:
                src.note_gaps(node)
            if not node.children and node.is_named and kind not in _LITERAL_LEAVES:
                self._hidden_code(node, parent, src, depth)
            if not node.is_named:
                if kind == "&":
                    self.out.background = True
                continue
            if kind == "command":
                self._command(node, parent, src, depth, top=top and not inner)
            elif kind in ("command_substitution", "process_substitution"):
                self.out.substituted = True
                inner = True
            elif kind in _STATEMENTS or (
                kind in ("variable_assignment", "variable_assignments")
                and parent is not None
                and parent.type in _STATEMENT_PARENTS
            ):
                self._statement(node, parent, src, top=top and not inner)
            elif kind == "file_redirect":
                self._redirect(node, src)
            elif kind == "heredoc_redirect":
                body = _heredoc_text(node, src)
                self.fed.append(body)
                parsed = "".join(src.text(c) for c in node.children if c.type == "heredoc_body")
                if parsed != body:
                    # The grammar read part of the body as code (a first line starting with a
                    # backslash): what runs is unknown; a denied command in the body denies.
                    self.out.uncertain = True
                    self._script(body, depth + 1, top=False)
            elif kind == "herestring_redirect":
                self.fed.extend(src.word(c).value for c in node.named_children)
            stack.extend((c, inner, node) for c in reversed(node.children))
        if src.unexplained_gaps():
            self.out.uncertain = True  # the grammar skipped text: it did not read it all
        if top and (before or after):
            # Roo's split keeps the skipped text with the command it is next to (`- 1=`)
            commands = self.out.commands
            if len(commands) == first:
                commands.append(" ".join(filter(None, (before, after))))
            else:
                commands[first] = " ".join(filter(None, (before, commands[first])))
                commands[-1] = " ".join(filter(None, (commands[-1], after)))

    @staticmethod
    def _carried_over_a_line(node: Node, src: Source) -> bool:
        """Whether a line break separates two words of the command `node` (line continuations
        are joined before parsing; a here-document's body is inside its redirect)."""
        words = [c for c in node.children if c.type not in _REDIRECTS]
        return any(
            b"\n" in src.source[a.end_byte : b.start_byte] for a, b in itertools.pairwise(words)
        )

    def _error_after_command(self, error: Node, src: Source) -> None:
        """Words the grammar could not place right after a command, with nothing between
        (`a && ls ==`: an ERROR node after the list that ends with `ls`): Roo's split reads
        them as that command's words, so they go with its text."""
        end = self._last_command_end
        if end is None or end > error.start_byte or src.source[end : error.start_byte].strip():
            return  # an operator or other text between: not the same command
        words = src.text(error).strip()
        if words and self.out.commands:
            self.out.commands[-1] = f"{self.out.commands[-1]} {words}"

    def _hidden_code(self, leaf: Node, parent: Node | None, src: Source, depth: int) -> None:
        """Substitutions the grammar leaves inside a word: it does not read backticks in
        `${x:-`cmd`}` or in an unquoted here-document, bash runs them. Treated as a
        substitution (asks), and what is inside is analysed for the deny list."""
        if leaf.type == "heredoc_body" and parent is not None:
            start = next((c for c in parent.children if c.type == "heredoc_start"), None)
            if start is None or any(q in src.text(start) for q in "'\"\\"):
                return  # a quoted delimiter: the body is literal
        text = _ESCAPED.sub("__", src.text(leaf))
        if not any(marker in text for marker in ("`", "$(", "<(", ">(")):
            return
        self.out.substituted = True
        for body in text.split("`")[1::2]:
            self._script(body, depth + 1, top=False)
        for marker in ("$(", "<(", ">("):
            if marker in text:
                self._script(text[text.index(marker) + 2 :], depth + 1, top=False)

    def _statement(self, node: Node, parent: Node | None, src: Source, *, top: bool) -> None:
        """An assignment, `export`/`local`/`declare`, `unset` or `[[ ]]`: nothing is run, but
        Roo matches its text like a command's."""
        text = src.join([c for c in node.children if c.type not in _REDIRECTS])
        if text:
            if top:
                self.out.commands.append(_skipped_before(node, parent, src) + text)
            self.out.invocations.append(Invocation(text, ()))

    def _redirect(self, node: Node, src: Source) -> None:
        targets = node.children_by_field_name("destination")
        if not targets:
            return
        operator = next((c.type for c in node.children if not c.is_named), "")
        target = src.word(targets[0]).value
        duplicate = operator in (">&", "<&") and (target.rstrip("-").isdigit() or target == "-")
        if not duplicate and target not in _SAFE_TARGETS:
            self.out.file_redirect = True

    # -- a simple command ------------------------------------------------------------------

    def _command(
        self, node: Node, parent: Node | None, src: Source, depth: int, *, top: bool
    ) -> None:
        if self._carried_over_a_line(node, src):
            # The grammar read one command across a line break (`echo ==`, a newline, `rm x`:
            # it waits for `==`'s operand); bash ends the command at the newline. Each line
            # is read on its own, so what runs on the next one is seen (and denied if denied).
            self.out.uncertain = True
            for line in src.text(node).split("\n"):
                if line.strip():
                    self._script(line, depth + 1, top=top)
            return
        name = node.child_by_field_name("name")
        body_of = parent if parent is not None and parent.type == "redirected_statement" else None
        redirects = [c for c in node.children if c.type in _REDIRECTS]
        dropped: list[str] = []
        if body_of is not None and body_of.child_by_field_name("body") == node:
            redirects += [c for c in body_of.children if c.type in _REDIRECTS]
            dropped = self._dropped_words(node, body_of, src)
        # Words after a redirection's target are arguments: `echo hi 2>/dev/null rm x`.
        extra = [d for r in redirects for d in r.children_by_field_name("destination")[1:]]
        # (`==` and `=~` are the grammar's own tokens in an argument list: `ls == x`)
        kept = [
            c
            for c in node.children
            if (c.is_named and c.type not in _REDIRECTS) or c.type in _ARGUMENT_TOKENS
        ]
        parts = sorted(kept + extra, key=lambda n: n.start_byte)
        text = " ".join([src.join(parts), *dropped]).strip()
        if top and text:
            self.out.commands.extend(
                _skipped_before(node, parent, src) + piece if i == 0 else piece
                for i, piece in enumerate(_split_at_stray_operators(parts, dropped, src))
            )
            self._last_command_end = node.end_byte
        if name is None or not name.named_children:
            self.out.invocations.append(Invocation(text, ()))
            return
        head = name.named_children[0]
        if head.type == "arithmetic_expansion" and src.text(head).startswith("(("):
            self.out.invocations.append(Invocation(text, ()))  # `(( i++ ))` runs no program
            return
        # `FOO=1 cmd`: the assignments are a level of their own, like a wrapper's words
        assignments = [Word(src.text(p)) for p in parts if p.type == "variable_assignment"]
        words = [src.word(head)] + [
            src.word(p) for p in parts if p.start_byte > name.start_byte and p.type != "comment"
        ]
        words += [Word(w) for w in dropped]
        stdin = [_heredoc_text(r, src) for r in redirects if r.type == "heredoc_redirect"]
        stdin += [
            src.word(c).value
            for r in redirects
            if r.type == "herestring_redirect"
            for c in r.named_children
        ]
        text = text or " ".join(w.value for w in words)
        self._invoke(text, words, stdin, depth, assignments)

    @staticmethod
    def _dropped_words(node: Node, statement: Node, src: Source) -> list[str]:
        """Plain words the grammar leaves out between a command and its here-document
        (`python - <<EOF` loses its `-`); other skipped text stays a gap (uncertain)."""
        following = [c for c in statement.children if c.start_byte >= node.end_byte]
        if not following:
            return []
        gap = src.source[node.end_byte : following[0].start_byte].decode("utf-8", "replace")
        words = gap.split()
        if words and all(_PLAIN_WORD.fullmatch(w) for w in words):
            src.explain(node.end_byte)
            return words
        return []

    def _invoke(
        self,
        text: str,
        words: Sequence[Word],
        stdin: list[str],
        depth: int,
        assignments: Sequence[Word] = (),
    ) -> None:
        """Record what `words` run, through any wrappers, and analyse the code they carry."""
        levels: list[Sequence[Word]] = [[*assignments, *words]] if assignments else []
        guesses: list[Sequence[Word]] = []
        current = words
        while current and len(levels) < MAX_LEVELS:
            levels.append(current)
            if current[0].dynamic:
                self.out.uncertain = True
                break
            if len(levels) == 1 and current[0].value in _RESERVED and not assignments:
                # A reserved word where a command should be: the grammar misread the line.
                self.out.uncertain = True
                guesses = [current[k:] for k in range(1, len(current))]
                break
            program, args = base_name(current[0].value), current[1:]
            spec = WRAPPERS.get(program)
            if spec is None:
                self._runs_code(program, args, stdin, depth)
                break
            peeled = peel(spec, args)
            if peeled.script is not None:
                self._nested(peeled.script, depth)
            if not peeled.certain:
                # Any later word may be the command: let the deny list see each of them.
                self.out.uncertain = True
                guesses = [current[k:] for k in range(1, len(current))]
                break
            if not peeled.inner and given(args, LOGIN_SHELL_OPTIONS.get(program, ())):
                self._stdin(stdin, depth)  # `sudo -s`, `sudo -i`: a shell reading stdin
            current = peeled.inner
        else:
            if current:
                self.out.uncertain = True  # wrappers without end
        self.out.invocations.append(
            Invocation(text, tuple(tuple(w.value for w in level) for level in levels + guesses))
        )

    def _nested(self, script: Word, depth: int) -> None:
        if script.dynamic:
            self.out.uncertain = True
        self._script(script.value, depth + 1, top=False)

    def _stdin(self, stdin: list[str], depth: int) -> None:
        if not stdin:
            self.stdin_shell = True
        for text in stdin:
            self._script(text, depth + 1, top=False)

    def _runs_code(self, program: str, args: Sequence[Word], stdin: list[str], depth: int) -> None:
        """The code a (non-wrapper) command runs besides itself."""
        if program in SHELLS:
            self._shell(args, stdin, depth)
        elif program == "eval":
            self._nested(Word(" ".join(a.value for a in args), any(a.dynamic for a in args)), depth)
        elif program in ("source", "."):
            if args and args[0].value in _STDIN_FILES:
                self._stdin(stdin, depth)
        elif program == "trap":
            rest = [a for a in args if a.value != "--"]
            if rest and not rest[0].value.startswith("-"):
                self._nested(rest[0], depth)
        elif program == "alias":
            for arg in args:
                _, eq, value = arg.value.partition("=")
                if eq:
                    self._nested(Word(value, arg.dynamic), depth)
        elif program in ("su", "runuser", "script"):
            self._dash_c(program, args, depth)
        elif program == "watch":
            peeled = peel(WATCH, args)
            if not peeled.certain:
                self.out.uncertain = True
            joined = [w.value for w in (peeled.inner if peeled.certain else args)]
            dynamic = any(w.dynamic for w in peeled.inner)
            self._nested(Word(" ".join(joined), dynamic), depth)
        elif program == "find":
            self._find(args, depth)
        elif program in ("echo", "printf"):
            self.fed.append(" ".join(a.value for a in args))
            self.fed.extend(a.value for a in args if " " in a.value)  # printf '%s\n' 'rm x'

    def _shell(self, args: Sequence[Word], stdin: list[str], depth: int) -> None:
        """`sh [options] -c script`, `sh [options] [file]`, `sh` reading stdin."""
        i = 0
        dash_c = reads_stdin = False
        while i < len(args):
            if args[i].dynamic and not dash_c:
                # unknown options or script: any later word may be the command line
                self.out.uncertain = True
                for arg in args[i:]:
                    self._script(arg.value, depth + 1, top=False)
                return
            if args[i].dynamic:
                break
            value = args[i].value
            i += 1
            if value in ("--", "-"):
                break
            if value in ("--rcfile", "--init-file"):
                i += 1
            elif value.startswith("--"):
                continue
            elif value[:1] in ("-", "+") and len(value) > 1:
                letters = value[1:]
                dash_c = dash_c or (value[0] == "-" and "c" in letters)
                reads_stdin = reads_stdin or "s" in letters
                i += sum(letters.count(o) for o in "oO")  # -o errexit
            else:
                i -= 1
                break
        operands = args[i:]
        if dash_c:
            if operands:
                self._nested(operands[0], depth)
            else:
                self.out.uncertain = True
        elif reads_stdin or not operands or operands[0].value in _STDIN_FILES:
            self._stdin(stdin, depth)
        # else: a script file, which the text does not show (see docs/security)

    def _dash_c(self, program: str, args: Sequence[Word], depth: int) -> None:
        """`su [user] -c line`, `runuser -c line`, `script -c line`: the line goes to a shell;
        without `-c` a login shell reads its commands from stdin."""
        for i, arg in enumerate(args):
            value = arg.value
            if value in ("-c", "--command") and i + 1 < len(args):
                self._nested(args[i + 1], depth)
                return
            if value.startswith("--command="):
                self._nested(Word(value.partition("=")[2], arg.dynamic), depth)
                return
            if value.startswith("-") and not value.startswith("--") and "c" in value[1:]:
                rest = value[value.index("c", 1) + 1 :]
                if rest:
                    self._nested(Word(rest, arg.dynamic), depth)
                elif i + 1 < len(args):
                    self._nested(args[i + 1], depth)
                return
        if program != "script":
            self.out.uncertain = True

    def _find(self, args: Sequence[Word], depth: int) -> None:
        """The commands of `find ... -exec cmd args ; ...` (also -execdir, -ok, -okdir)."""
        i = 0
        while i < len(args):
            if args[i].value not in _EXEC_OPTIONS:
                i += 1
                continue
            end = i + 1
            while end < len(args) and args[end].value not in (";", "+"):
                end += 1
            segment = args[i + 1 : end]
            if segment:
                self._invoke(" ".join(w.value for w in segment), segment, [], depth + 1)
            i = end + 1


def analyse(command: str) -> Analysis:
    """What `command` (a bash command line) runs; see the module's docstring."""
    return _Analyser().run(command)
