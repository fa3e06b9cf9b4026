"""Auto-approval: which tool calls run without asking, which are refused, which wait for the user.

Roo's rules (reference 4.1-4.3), applied by the engine before every tool call:

- read / write / mcp calls follow one flag each; interaction tools are the engine's own business.
- execute_command follows Roo's command decision (`src/core/auto-approval/commands.ts`): the
  command is split into sub-commands (`split_commands`), each decided by the longest matching
  prefix of the allow and deny lists, then combined (`decide_command`).

Where we are stricter than Roo, on purpose (command approval is the security boundary):

- Command substitution (`$(...)`, backticks, process substitution `<(...)`/`>(...)`, zsh `=(...)`)
  always asks, even with `*` allowed: what runs inside is not what the prefix lists saw.
- The deny list applies even when execute auto-approval is off: a denied command is refused
  without asking (Roo only consults the lists when auto-approval is on).
- Denied prefixes are also checked inside substitutions: `echo $(rm -rf x)` with `rm` denied is
  denied, not just asked.
- Like Roo's current code, a redirection to a file (`> out.txt`, `< secrets`) or a background `&`
  asks, since the prefix lists cannot judge it. fd duplications (`2>&1`) and `/dev/null`,
  `/dev/stdout`, `/dev/stderr` are harmless and do not ask; here-documents and here-strings feed
  text to the command like an argument would, so they do not ask either (substitutions inside
  them still do).
- Leading shell keywords are dropped before matching (`do rm x` is matched as `rm x`), so a deny
  rule cannot be dodged by putting the command inside a loop or an `if`.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from roo.agent.tools.base import ApprovalCategory

Decision = Literal["approve", "deny", "ask"]

# ---------------------------------------------------------------------------------------------
# Splitting a shell command into sub-commands
# ---------------------------------------------------------------------------------------------

_SAFE_REDIRECT_TARGETS = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr"})
# Reserved words that may start a sub-command without being the command that runs.
_LEADING_KEYWORDS = frozenset({"if", "then", "else", "elif", "do", "while", "until", "!", "time"})
# Reserved words that close a compound command: alone they run nothing.
_CLOSING_KEYWORDS = frozenset({"fi", "done", "esac", "then", "else", "do", "}"})
_WORD_BREAK = frozenset(" \t\r\n;&|<>()")
_MAX_NESTING = 50
_FD_NUMBER = re.compile(r"(?:^|(?<=[ \t]))\d+$")
_FD_DUP_TARGET = re.compile(r"\d+-?|-")
_REDIRECT_OPERATORS = ("&>>", "&>", "<<<", "<<-", "<<", "<&", "<>", "<", ">>", ">|", ">&", ">")


@dataclass
class _Parsed:
    commands: list[str] = field(default_factory=list)
    substitutions: list[str] = field(default_factory=list)  # bodies of $(...), `...`, <(...)
    substituted: bool = False
    background: bool = False
    file_redirect: bool = False


class _Parser:
    """One pass over a command line, tracking quotes, substitutions and redirections.

    Quoted text and substitutions are copied into the sub-command verbatim; unquoted runs of
    blanks collapse to one space; redirections are dropped (and noted)."""

    def __init__(self, text: str, depth: int = 0) -> None:
        self.s = text
        self.n = len(text)
        self.i = 0
        self.depth = depth
        self.buf: list[str] = []
        self.out = _Parsed()
        self.heredocs: list[tuple[str, bool, bool]] = []  # (delimiter, strip tabs, expands)

    # -- result ---------------------------------------------------------------------------

    def parse(self) -> _Parsed:
        if self.depth > _MAX_NESTING:
            self.out.substituted = True
            return self.out
        s, n = self.s, self.n
        while self.i < n:
            c = s[self.i]
            nxt = s[self.i + 1] if self.i + 1 < n else ""
            if c == "\\" and nxt == "\n":  # line continuation
                self.i += 2
                continue
            if c in "<>" and nxt == "(":  # process substitution
                close = self._match_paren(self.i + 1)
                self._record(self.i + 2, close)
                self._take(close)
                continue
            end = self._construct_end(self.i)
            if end is not None:
                self._take(end)
            elif c in "<>" or (c == "&" and nxt == ">"):
                self._redirect()
            elif c in "\n\r;":
                self._flush()
                self.i += 1
                if c == "\n":
                    self._consume_heredocs()
            elif c == "&":
                if nxt != "&":
                    self.out.background = True
                self._flush()
                self.i += 2 if nxt == "&" else 1
            elif c == "|":
                self._flush()
                self.i += 2 if nxt in ("|", "&") else 1
            elif c == "(":
                self._open_paren()
            elif c == ")":
                self._flush()
                self.i += 1
            elif c in "{}" and self._at_word_start() and (nxt == "" or nxt in " \t\n;"):
                self._flush()  # a `{ ...; }` group
                self.i += 1
            elif c == "#" and self._at_word_start():
                newline = s.find("\n", self.i)
                self.i = n if newline < 0 else newline
            elif c in " \t":
                if self.buf and self._last_char() not in " \t":
                    self.buf.append(" ")
                self.i += 1
            else:
                self.buf.append(c)
                self.i += 1
        self._flush()
        return self.out

    # -- helpers --------------------------------------------------------------------------

    def _take(self, end: int) -> None:
        self.buf.append(self.s[self.i : end])
        self.i = end

    def _last_char(self) -> str:
        return self.buf[-1][-1] if self.buf and self.buf[-1] else ""

    def _at_word_start(self) -> bool:
        return self._last_char() in ("", " ", "\t")

    def _flush(self) -> None:
        text = "".join(self.buf).strip()
        self.buf.clear()
        while text:
            head, _, rest = text.partition(" ")
            if head not in _LEADING_KEYWORDS:
                break
            text = rest.strip()
        if text and text not in _CLOSING_KEYWORDS:
            self.out.commands.append(text)

    def _record(self, body_start: int, end: int) -> None:
        """A command substitution whose body starts at `body_start` and which ends at `end`."""
        body_end = end - 1 if end > body_start and self.s[end - 1] in ")`" else end
        self.out.substituted = True
        self.out.substitutions.append(self.s[body_start:body_end])

    def _nested(self, text: str) -> None:
        """Text that is expanded but not run as a command (`${...}`, `$((...))`): only the
        substitutions inside it matter."""
        inner = _Parser(text, self.depth + 1).parse()
        if inner.substituted:
            self.out.substituted = True
        self.out.substitutions.extend(inner.substitutions)

    def _construct_end(self, j: int, record: bool = True) -> int | None:
        """End of the quoted string, escape or expansion starting at `j`; None for a plain
        character. Records the substitutions it passes when `record`."""
        s, n = self.s, self.n
        c = s[j]
        nxt = s[j + 1] if j + 1 < n else ""
        if c == "\\":
            return min(j + 2, n)
        if c == "'":
            close = s.find("'", j + 1)
            return n if close < 0 else close + 1
        if c == '"':
            return self._end_double(j, record)
        if c == "`":
            end = self._end_backtick(j)
            if record:
                self._record(j + 1, end)
            return end
        if c == "$" and nxt == "'":  # ANSI-C quoting: literal, with escapes
            k = j + 2
            while k < n and s[k] != "'":
                k += 2 if s[k] == "\\" else 1
            return min(k + 1, n)
        if c == "$" and nxt == "(":
            end = self._match_paren(j + 1)
            if record:
                # `$((...))` is arithmetic only when the inner parenthesis closes right before
                # the outer one; otherwise bash reads a command substitution of a subshell.
                arithmetic = (
                    s.startswith("((", j + 1)
                    and s[end - 1 : end] == ")"
                    and self._match_paren(j + 2) == end - 1
                )
                if arithmetic:
                    self._nested(s[j + 3 : end - 2])
                else:
                    self._record(j + 2, end)
            return end
        if c == "$" and nxt == "{":
            end = self._match_brace(j + 1)
            if record:
                self._nested(s[j + 2 : max(j + 2, end - 1)])
            return end
        return None

    def _end_double(self, j: int, record: bool) -> int:
        s, n = self.s, self.n
        k = j + 1
        while k < n:
            c = s[k]
            if c == "\\":
                k += 2
            elif c == '"':
                return k + 1
            elif c == "`" or (c == "$" and s[k + 1 : k + 2] in ("(", "{")):
                end = self._construct_end(k, record)
                k = k + 1 if end is None else end
            else:
                k += 1
        return n

    def _end_backtick(self, j: int) -> int:
        k = j + 1
        while k < self.n:
            if self.s[k] == "\\":
                k += 2
            elif self.s[k] == "`":
                return k + 1
            else:
                k += 1
        return self.n

    def _match(self, j: int, opening: str, closing: str) -> int:
        """Index after the bracket matching the one at `j`, skipping quoted text."""
        s, n = self.s, self.n
        depth = 0
        k = j
        while k < n:
            c = s[k]
            if c in "\\'\"`":
                end = self._construct_end(k, record=False)
                k = k + 1 if end is None else end
                continue
            if c == opening:
                depth += 1
            elif c == closing:
                depth -= 1
                if depth == 0:
                    return k + 1
            k += 1
        return n

    def _match_paren(self, j: int) -> int:
        return self._match(j, "(", ")")

    def _match_brace(self, j: int) -> int:
        return self._match(j, "{", "}")

    def _open_paren(self) -> None:
        text = "".join(self.buf)
        end = self._match_paren(self.i)
        if text.endswith("=") and (len(text) == 1 or text[-2] in " \t"):
            self._record(self.i + 1, end)  # zsh `=(...)`: runs the command, yields a file
            self._take(end)
        elif self._at_word_start():
            self._flush()  # a `( ... )` subshell: its commands are split like any others
            self.i += 1
        else:
            self._take(end)  # `arr=(a b)`, `f()`, extglobs: part of the word

    def _read_word(self) -> str:
        while self.i < self.n and self.s[self.i] in " \t":
            self.i += 1
        start = self.i
        while self.i < self.n and self.s[self.i] not in _WORD_BREAK:
            end = self._construct_end(self.i)
            self.i = self.i + 1 if end is None else end
        return self.s[start : self.i]

    def _redirect(self) -> None:
        """Drop a redirection from the sub-command, noting whether it touches a file."""
        text = "".join(self.buf)
        fd = _FD_NUMBER.search(text)
        if fd:  # the `2` of `2>`
            self.buf = [text[: fd.start()]]
        s = self.s
        op = next(o for o in _REDIRECT_OPERATORS if s.startswith(o, self.i))
        self.i += len(op)
        word = self._read_word()
        if op in ("<<", "<<-"):
            quoted = any(q in word for q in "'\"\\")
            delimiter = word.replace("'", "").replace('"', "").replace("\\", "")
            self.heredocs.append((delimiter, op == "<<-", not quoted))
        elif op == "<<<":
            pass  # a here-string is text for the command; substitutions in it were recorded
        elif op in (">&", "<&") and _FD_DUP_TARGET.fullmatch(word):
            pass  # fd duplication or closing: `2>&1`, `>&-`
        elif word.strip("'\"") not in _SAFE_REDIRECT_TARGETS:
            self.out.file_redirect = True

    def _consume_heredocs(self) -> None:
        """Skip the bodies of the here-documents opened on the line that just ended."""
        for delimiter, strip_tabs, expands in self.heredocs:
            body: list[str] = []
            while self.i < self.n:
                newline = self.s.find("\n", self.i)
                end = self.n if newline < 0 else newline
                line = self.s[self.i : end]
                self.i = min(end + 1, self.n)
                if (line.lstrip("\t") if strip_tabs else line) == delimiter:
                    break
                body.append(line)
            text = "\n".join(body)
            if expands and re.search(r"\$\((?!\()|`", text):
                self.out.substituted = True
                self.out.substitutions.append(text)
        self.heredocs.clear()


def _parse(command: str) -> _Parsed:
    return _Parser(command).parse()


def split_commands(command: str) -> list[str]:
    """The sub-commands of a shell command line, as Roo splits them: on newlines, `&&`, `||`,
    `;`, `|` and `&`, never inside quotes, `$(...)`, backticks or `${...}`. Redirections are
    removed, unquoted blanks collapsed, leading keywords (`do`, `then`, `if`...) dropped, empty
    parts skipped. `( ... )` and `{ ...; }` groups are split like top-level commands."""
    return _parse(command).commands


_ROO_DANGEROUS = tuple(
    re.compile(p)
    for p in (
        r"\$\{[^}]*@[PQEAa][^}]*\}",  # ${var@P} and other transformations
        r"\$\{[^}]*[=+\-?][^}]*\\[0-7]{3}[^}]*\}",  # escapes that can embed a backtick
        r"\$\{[^}]*[=+\-?][^}]*\\x[0-9a-fA-F]{2}[^}]*\}",
        r"\$\{[^}]*[=+\-?][^}]*\\u[0-9a-fA-F]{4}[^}]*\}",
        r"\$\{![^}]+\}",  # indirect expansion
        r"<<<\s*(\$\(|`)",  # here-string fed by a substitution
        r"(?:^|(?<=[\s;|&(<]))=\([^)]+\)",  # zsh =(...)
        r"[*?+@!]\(e:[^:]+:\)",  # zsh glob qualifier running code
    )
)


def has_dangerous_substitution(command: str) -> bool:
    """True when the command runs code the prefix lists cannot see: command substitution
    (`$(...)`, backticks, `<(...)`, `>(...)`, zsh `=(...)`) outside single quotes, or one of
    Roo's dangerous constructs (`${var@P}`, `${!var}`, `<<<$(`, zsh `(e:...:)` qualifiers...)."""
    return _parse(command).substituted or any(p.search(command) for p in _ROO_DANGEROUS)


# ---------------------------------------------------------------------------------------------
# The command decision
# ---------------------------------------------------------------------------------------------


def _longest_prefix(command: str, prefixes: Sequence[str]) -> str | None:
    """Roo's `findLongestPrefixMatch`: case-insensitive startsWith on the trimmed command; `*`
    matches everything (length 1); empty prefixes never match."""
    lowered = command.strip().lower()
    best: str | None = None
    for prefix in prefixes:
        p = prefix.lower()
        if p and (p == "*" or lowered.startswith(p)) and (best is None or len(p) > len(best)):
            best = p
    return best


def _decide_single(command: str, allowed: Sequence[str], denied: Sequence[str]) -> Decision:
    allow = _longest_prefix(command, allowed)
    deny = _longest_prefix(command, denied)
    if allow is not None and deny is not None:
        return "approve" if len(allow) > len(deny) else "deny"
    if allow is not None:
        return "approve"
    if deny is not None:
        return "deny"
    return "ask"


def _denied_inside(parsed: _Parsed, allowed: Sequence[str], denied: Sequence[str]) -> bool:
    pending = list(parsed.substitutions)
    seen = 0
    while pending and seen < 200:
        seen += 1
        inner = _parse(pending.pop())
        if any(_decide_single(c, allowed, denied) == "deny" for c in inner.commands):
            return True
        pending.extend(inner.substitutions)
    return False


def decide_command(command: str, allowed: Sequence[str], denied: Sequence[str]) -> Decision:
    """Roo's `getCommandDecision`: "deny" if any sub-command is denied (inside substitutions
    too); else "ask" for substitutions, dangerous constructs, file redirections and background
    jobs; else "approve" when every sub-command is allowed; else "ask". Empty: "approve"."""
    if not command.strip():
        return "approve"
    parsed = _parse(command)
    decisions = [_decide_single(c, allowed, denied) for c in parsed.commands]
    if "deny" in decisions or _denied_inside(parsed, allowed, denied):
        return "deny"
    if parsed.substituted or any(p.search(command) for p in _ROO_DANGEROUS):
        return "ask"
    if parsed.file_redirect or parsed.background:
        return "ask"
    return "approve" if all(d == "approve" for d in decisions) else "ask"


def command_rule_prefix(command: str) -> str | None:
    """The prefix "approve always" adds for a command: the first sub-command's first word, plus
    its second word when that looks like a sub-command name (letters first, no `-`, `/` or
    quotes): "npm test -- --watch" -> "npm test", "git log -n 5" -> "git log",
    "pytest tests/x.py" -> "pytest", "ls -la" -> "ls". None when there is nothing to add."""
    parts = split_commands(command)
    if not parts:
        return None
    try:
        words = shlex.split(parts[0])
    except ValueError:
        words = parts[0].split()
    if not words:
        return None
    prefix = words[0]
    if len(words) > 1 and re.fullmatch(r"[A-Za-z][\w.:-]*", words[1]):
        prefix = f"{prefix} {words[1]}"
    return prefix


# ---------------------------------------------------------------------------------------------
# The policy
# ---------------------------------------------------------------------------------------------


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(word.capitalize() for word in rest)


def _get(data: Mapping[str, Any], key: str) -> Any:
    value = data.get(key)
    return data.get(_camel(key)) if value is None else value


def _flag(data: Mapping[str, Any], key: str, default: bool) -> bool:
    value = _get(data, key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ValueError(f"approval policy: {key!r} must be a boolean")
    return value


def _prefixes(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = _get(data, key)
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValueError(f"approval policy: {key!r} must be a list of strings")
    if not all(isinstance(v, str) for v in value):
        raise ValueError(f"approval policy: {key!r} must be a list of strings")
    return tuple(value)


@dataclass(frozen=True, slots=True)
class ApprovalPolicy:
    """The engine's view of a session's auto-approve settings (Roo's `alwaysAllow*` flags and
    command lists). Immutable: "approve always" builds a new one (`with_rule`)."""

    auto_approve_read: bool = True
    auto_approve_write: bool = False
    auto_approve_execute: bool = False
    auto_approve_mcp: bool = False
    allowed_commands: tuple[str, ...] = ()
    denied_commands: tuple[str, ...] = ()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ApprovalPolicy:
        """From a session config's policy dict, snake_case (`auto_approve_read`) or camelCase
        (`autoApproveRead`, what `roo.sessions.schemas.ApprovalPolicy.model_dump()` and the
        stored session config hold). Missing or null keys take the defaults; unknown keys are
        ignored; wrong types raise ValueError."""
        return cls(
            auto_approve_read=_flag(data, "auto_approve_read", True),
            auto_approve_write=_flag(data, "auto_approve_write", False),
            auto_approve_execute=_flag(data, "auto_approve_execute", False),
            auto_approve_mcp=_flag(data, "auto_approve_mcp", False),
            allowed_commands=_prefixes(data, "allowed_commands"),
            denied_commands=_prefixes(data, "denied_commands"),
        )

    def to_mapping(self, *, by_alias: bool = False) -> dict[str, Any]:
        """The policy as a plain dict (lists, not tuples): snake_case keys, or camelCase ones
        like the stored session config with `by_alias=True`."""
        data = {
            "auto_approve_read": self.auto_approve_read,
            "auto_approve_write": self.auto_approve_write,
            "auto_approve_execute": self.auto_approve_execute,
            "auto_approve_mcp": self.auto_approve_mcp,
            "allowed_commands": list(self.allowed_commands),
            "denied_commands": list(self.denied_commands),
        }
        return {_camel(k): v for k, v in data.items()} if by_alias else data

    def with_rule(
        self, category: ApprovalCategory | str, params: Mapping[str, Any]
    ) -> ApprovalPolicy:
        """The policy after the user answered "approve always" to this call (see
        `approve_always_rule`). Prefixes already allowed (ignoring case) are not repeated."""
        rule = approve_always_rule(category, params)
        changes: dict[str, Any] = {k: v for k, v in rule.items() if k != "allowed_commands"}
        known = {p.lower() for p in self.allowed_commands}
        added = [p for p in rule.get("allowed_commands", []) if p.lower() not in known]
        if added:
            changes["allowed_commands"] = (*self.allowed_commands, *added)
        return dataclasses.replace(self, **changes)


def approve_always_rule(
    category: ApprovalCategory | str, params: Mapping[str, Any]
) -> dict[str, Any]:
    """What "approve always" adds to the policy, as a partial policy mapping.

    execute: the command's prefix (`command_rule_prefix`) goes into allowed_commands and execute
    auto-approval is switched on (without it the allow list is not consulted, so the same
    command would ask again); only that prefix is auto-approved, other commands still ask.
    read / write / mcp: that category's flag. interaction: nothing."""
    category = ApprovalCategory(category)
    if category is ApprovalCategory.EXECUTE:
        command = params.get("command")
        prefix = command_rule_prefix(command) if isinstance(command, str) else None
        if prefix is None:
            return {}
        return {"auto_approve_execute": True, "allowed_commands": [prefix]}
    if category is ApprovalCategory.INTERACTION:
        return {}
    return {f"auto_approve_{category.value}": True}


def decide_tool(
    policy: ApprovalPolicy, category: ApprovalCategory | str, params: Mapping[str, Any]
) -> Decision:
    """Whether a tool call runs at once ("approve"), is refused without asking ("deny", only
    for denied commands) or waits for the user ("ask")."""
    category = ApprovalCategory(category)
    if category is ApprovalCategory.INTERACTION:
        return "approve"  # the engine handles these tools itself
    if category is ApprovalCategory.READ:
        return "approve" if policy.auto_approve_read else "ask"
    if category is ApprovalCategory.WRITE:
        return "approve" if policy.auto_approve_write else "ask"
    if category is ApprovalCategory.MCP:
        return "approve" if policy.auto_approve_mcp else "ask"
    command = params.get("command")
    if not isinstance(command, str) or not command.strip():
        return "ask"  # Roo asks for an empty command
    decision = decide_command(command, policy.allowed_commands, policy.denied_commands)
    if decision == "deny":
        return "deny"
    return decision if policy.auto_approve_execute else "ask"
