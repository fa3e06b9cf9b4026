"""Auto-approval: which tool calls run without asking, which are refused, which wait for the user.

Roo's rules (reference 4.1-4.3), applied by the engine before every tool call:

- read / write / mcp calls follow one flag each; interaction tools are the engine's own business.
- execute_command follows Roo's command decision (`src/core/auto-approval/commands.ts`): the
  command is split into sub-commands (`split_commands`), each decided by the longest matching
  prefix of the allow and deny lists, then combined (`decide_command`).

The command line is read with tree-sitter's bash grammar (`roo.agent.shell`), not split by hand.
Allow rules keep Roo's meaning: a prefix of each sub-command's text, longest match wins, allow
only when strictly longer. Where we are stricter than Roo, on purpose:

- The deny list is matched against every command the line may run, as bash will run it: with
  quotes and escapes removed (`"rm"`, `r''m`, `\\rm`, `$'\\x72m'`), a path resolved to its name
  (`/bin/rm`), through assignments and wrappers (`FOO=1 rm`, `env`, `sudo`, `timeout 5`, `nice`,
  `nohup`, `command`, `exec`, `busybox`, `xargs`, `find -exec`...), and inside the command lines
  handed to a shell (`sh -c`, `bash -c`, `eval`, here-documents and here-strings fed to a shell,
  `su -c`, `trap`...), substitutions, subshells, groups, compound commands and functions. The
  deny list applies even when execute auto-approval is off.
- An allow rule does not reach through a wrapper: `env rm x` with `env` allowed asks, unless the
  command inside is allowed too (or the rule names it: `xargs grep`). Commands in nested lines
  must each be allowed.
- What the text cannot tell asks, whatever the allow list: command substitution (`$(...)`,
  backticks, `<(...)`, zsh `=(...)`) and Roo's dangerous constructs, a command name expanded at
  run time (`$X`, `${X}`, globs, braces), a wrapper's options not understood, a shell reading its
  script from a pipe (`curl ... | sh`), a line the grammar cannot read without errors.
- Like Roo's current code, a redirection to a file (`> out.txt`, `< secrets`) or a background `&`
  asks. fd duplications (`2>&1`) and `/dev/null`, `/dev/stdout`, `/dev/stderr` do not;
  here-documents and here-strings feed text to the command like an argument would, so they do
  not ask either (unless they feed a shell, whose script is then judged).

The lists are policy, not a security boundary: the sandbox is (docs/sandbox.md). A command can
still run a denied program in ways no reading of the text reveals (a script file, an
interpreter's `-c`, a renamed copy).
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pathspec

from roo.agent.shell import Analysis, Invocation, analyse
from roo.agent.shell_words import base_name
from roo.agent.tools.base import ApprovalCategory

Decision = Literal["approve", "deny", "ask"]

# Roo's default followupAutoApproveTimeoutMs (the webview's DEFAULT_FOLLOWUP_TIMEOUT_MS)
FOLLOWUP_TIMEOUT_MS = 60_000


def split_commands(command: str) -> list[str]:
    """The sub-commands of a shell command line, as Roo splits them: each simple command outside
    substitutions, in order (lists, pipelines, newlines, `&`, subshells, `{ }` groups, compound
    command bodies and functions all split), with redirections removed, blanks collapsed
    between words (quoted text kept as written), bash's `time` keyword dropped."""
    return analyse(command).commands


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
    return _runs_hidden_code(analyse(command), command)


def _runs_hidden_code(analysis: Analysis, command: str) -> bool:
    return analysis.substituted or any(p.search(command) for p in _ROO_DANGEROUS)


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


def _denied(run: Invocation, allowed: Sequence[str], denied: Sequence[str]) -> bool:
    """Whether a deny rule matches the command at any level: Roo's text, the unquoted words,
    the words with the program's path reduced to its name."""
    texts = [run.text]
    for words in run.levels:
        texts.append(" ".join(words))
        if words and base_name(words[0]) != words[0]:
            texts.append(" ".join([base_name(words[0]), *words[1:]]))
    return any(_decide_single(t, allowed, denied) == "deny" for t in texts)


def _approved(run: Invocation, allowed: Sequence[str], denied: Sequence[str]) -> bool:
    """Roo's text approved; through wrappers, also the command inside: some allow rule must
    reach into its name (`xargs grep`, or `grep` itself), not stop at the wrapper (`xargs`)."""
    if _decide_single(run.text, allowed, denied) != "approve":
        return False
    if len(run.levels) <= 1:
        return True
    inner = len(run.levels[-1])
    for words in run.levels:
        wrapper_words = len(words) - inner
        prefix = _longest_prefix(" ".join(words), allowed)
        if prefix is not None and (prefix == "*" or len(prefix.split()) > wrapper_words):
            return True
    return False


def decide_command(command: str, allowed: Sequence[str], denied: Sequence[str]) -> Decision:
    """Roo's `getCommandDecision`, made to hold: "deny" if any command the line may run is
    denied (see the module's docstring); else "ask" when the text cannot tell what runs, for
    substitutions and dangerous constructs, file redirections and background jobs; else
    "approve" when every command is allowed; else "ask". Nothing to run: "approve"."""
    if not command.strip():
        return "approve"
    analysis = analyse(command)
    if any(_denied(run, allowed, denied) for run in analysis.invocations):
        return "deny"
    if analysis.uncertain or _runs_hidden_code(analysis, command):
        return "ask"
    if analysis.file_redirect or analysis.background:
        return "ask"
    if all(_approved(run, allowed, denied) for run in analysis.invocations):
        return "approve"
    return "ask"


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


def _number(data: Mapping[str, Any], key: str, default: Any, *, integer: bool = False) -> Any:
    """A non-negative number (an integer when `integer`), or `default` when missing or null.
    Roo treats 0 as "no limit" for the request and cost limits: so does the engine."""
    value = _get(data, key)
    if value is None:
        return default
    number = isinstance(value, int) or (not integer and isinstance(value, float))
    if isinstance(value, bool) or not number or value < 0:
        kind = "integer" if integer else "number"
        raise ValueError(f"approval policy: {key!r} must be a non-negative {kind}")
    return value


def _tool_lists(data: Mapping[str, Any], key: str) -> dict[str, tuple[str, ...]]:
    value = _get(data, key)
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str)
        and isinstance(v, Sequence)
        and not isinstance(v, str)
        and all(isinstance(t, str) for t in v)
        for k, v in value.items()
    ):
        raise ValueError(f"approval policy: {key!r} must map server names to lists of tools")
    return {k: tuple(v) for k, v in value.items()}


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
    # Roo's alwaysAllowWriteProtected: writes to the files that configure the agent itself
    # (PROTECTED_PATTERNS) run without asking only with this on, whatever auto_approve_write says
    auto_approve_write_protected: bool = False
    allowed_commands: tuple[str, ...] = ()
    denied_commands: tuple[str, ...] = ()
    # Roo's alwaysAllowModeSwitch / alwaysAllowSubtasks: switch_mode, new_task and a subtask's
    # return to its parent (Roo's finishTask) run without asking
    auto_approve_mode_switch: bool = False
    auto_approve_subtasks: bool = False
    # Roo's alwaysAllowFollowupQuestions + followupAutoApproveTimeoutMs: a follow-up question
    # with suggestions is answered with the first one when nobody answered within the timeout
    # (0: never)
    auto_approve_followup_questions: bool = False
    followup_auto_approve_timeout_ms: int = FOLLOWUP_TIMEOUT_MS
    # Roo's allowedMaxRequests / allowedMaxCost: after this many requests or this cost (USD)
    # since the run started or the user last said go on, the task asks before the next request
    allowed_max_requests: int | None = None
    allowed_max_cost: float | None = None

    def allowing(self, tool: str) -> ApprovalPolicy:
        """The policy after "approve always" on an interaction tool that asks (`switch_mode`,
        `new_task`, `finish_task`): its flag on."""
        flag = INTERACTION_FLAGS.get(tool)
        if flag is None:
            return self
        changes: dict[str, Any] = {flag: True}
        return dataclasses.replace(self, **changes)

    @property
    def followup_timeout(self) -> float | None:
        """Seconds after which a follow-up question is answered with its first suggestion;
        None when that is off."""
        if not self.auto_approve_followup_questions or self.followup_auto_approve_timeout_ms <= 0:
            return None
        return self.followup_auto_approve_timeout_ms / 1000

    # MCP tools that run without asking when auto_approve_mcp is on, per server ("*": all of
    # that server's tools); the server's own `alwaysAllow` list counts too (Roo's rule)
    mcp_always_allow: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ApprovalPolicy:
        """From a session config's policy dict, snake_case (`auto_approve_read`) or camelCase
        (`autoApproveRead`, what `roo.sessions.schemas.ApprovalPolicyIn.model_dump()` and the
        stored session config hold). Missing or null keys take the defaults; unknown keys are
        ignored; wrong types raise ValueError."""
        return cls(
            auto_approve_read=_flag(data, "auto_approve_read", True),
            auto_approve_write=_flag(data, "auto_approve_write", False),
            auto_approve_execute=_flag(data, "auto_approve_execute", False),
            auto_approve_mcp=_flag(data, "auto_approve_mcp", False),
            auto_approve_write_protected=_flag(data, "auto_approve_write_protected", False),
            allowed_commands=_prefixes(data, "allowed_commands"),
            denied_commands=_prefixes(data, "denied_commands"),
            auto_approve_mode_switch=_flag(data, "auto_approve_mode_switch", False),
            auto_approve_subtasks=_flag(data, "auto_approve_subtasks", False),
            auto_approve_followup_questions=_flag(data, "auto_approve_followup_questions", False),
            followup_auto_approve_timeout_ms=_number(
                data, "followup_auto_approve_timeout_ms", FOLLOWUP_TIMEOUT_MS, integer=True
            )
            or 0,
            allowed_max_requests=_number(data, "allowed_max_requests", None, integer=True),
            allowed_max_cost=_number(data, "allowed_max_cost", None),
            mcp_always_allow=_tool_lists(data, "mcp_always_allow"),
        )

    def to_mapping(self, *, by_alias: bool = False) -> dict[str, Any]:
        """The policy as a plain dict (lists, not tuples): snake_case keys, or camelCase ones
        like the stored session config with `by_alias=True`."""
        data = {
            "auto_approve_read": self.auto_approve_read,
            "auto_approve_write": self.auto_approve_write,
            "auto_approve_execute": self.auto_approve_execute,
            "auto_approve_mcp": self.auto_approve_mcp,
            "auto_approve_write_protected": self.auto_approve_write_protected,
            "allowed_commands": list(self.allowed_commands),
            "denied_commands": list(self.denied_commands),
            "auto_approve_mode_switch": self.auto_approve_mode_switch,
            "auto_approve_subtasks": self.auto_approve_subtasks,
            "auto_approve_followup_questions": self.auto_approve_followup_questions,
            "followup_auto_approve_timeout_ms": self.followup_auto_approve_timeout_ms,
            "allowed_max_requests": self.allowed_max_requests,
            "allowed_max_cost": self.allowed_max_cost,
            "mcp_always_allow": {k: list(v) for k, v in self.mcp_always_allow.items()},
        }
        return {_camel(k): v for k, v in data.items()} if by_alias else data

    def with_rule(
        self, category: ApprovalCategory | str, params: Mapping[str, Any]
    ) -> ApprovalPolicy:
        """The policy after the user answered "approve always" to this call (see
        `approve_always_rule`). Prefixes already allowed (ignoring case) are not repeated."""
        rule = approve_always_rule(category, params)
        changes: dict[str, Any] = {
            k: v for k, v in rule.items() if k not in ("allowed_commands", "mcp_always_allow")
        }
        for server, tools in rule.get("mcp_always_allow", {}).items():
            known_tools = self.mcp_always_allow.get(server, ())
            new = tuple(t for t in tools if t not in known_tools)
            if new:
                changes["mcp_always_allow"] = {
                    **self.mcp_always_allow,
                    server: (*known_tools, *new),
                }
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
    read / write / mcp: that category's flag. interaction: nothing (the interaction tools that
    ask have a flag each: `ApprovalPolicy.allowing`)."""
    category = ApprovalCategory(category)
    if category is ApprovalCategory.EXECUTE:
        command = params.get("command")
        prefix = command_rule_prefix(command) if isinstance(command, str) else None
        if prefix is None:
            return {}
        return {"auto_approve_execute": True, "allowed_commands": [prefix]}
    if category is ApprovalCategory.INTERACTION:
        return {}
    if category is ApprovalCategory.MCP:
        # Roo's rule: alwaysAllowMcp on, and (for a tool) the tool on its server's list
        server, tool = params.get("serverName"), params.get("toolName")
        if isinstance(server, str) and isinstance(tool, str) and server and tool:
            return {"auto_approve_mcp": True, "mcp_always_allow": {server: [tool]}}
        return {"auto_approve_mcp": True}
    return {f"auto_approve_{category.value}": True}


# The interaction tools that ask for approval (Roo's switchMode, newTask, finishTask tool asks)
# and the flag that lets them run without asking
INTERACTION_FLAGS = {
    "switch_mode": "auto_approve_mode_switch",
    "new_task": "auto_approve_subtasks",
    "finish_task": "auto_approve_subtasks",
}


def interaction_approved(policy: ApprovalPolicy, tool: str) -> bool:
    """Whether an interaction tool that asks in Roo (mode switch, subtask, a subtask's return
    to its parent: `finish_task`) runs without asking under `policy`."""
    flag = INTERACTION_FLAGS.get(tool)
    return flag is None or bool(getattr(policy, flag))


# Roo's RooProtectedController: the files that configure the agent itself. A write to one asks
# even when writes are auto-approved (an agent must not widen what it may see or do, e.g. by
# rewriting .rooignore), unless auto_approve_write_protected is on.
PROTECTED_PATTERNS = (
    ".rooignore",
    ".roomodes",
    ".roorules*",
    ".clinerules*",
    ".roo/**",
    ".vscode/**",
    "*.code-workspace",
    ".rooprotected",
    "AGENTS.md",
    "AGENT.md",
)
_PROTECTED = pathspec.GitIgnoreSpec.from_lines(list(PROTECTED_PATTERNS))


def is_protected(path: str) -> bool:
    """Whether a workspace-relative path (as a tool gives it) is one of the protected files; the
    path is normalised first (`./a/../.rooignore` is `.rooignore`)."""
    normal = posixpath.normpath(path.replace("\\", "/")).lstrip("/")
    return normal not in ("", ".") and _PROTECTED.match_file(normal)


def decide_mcp(
    policy: ApprovalPolicy, server: str, tool: str | None, *, server_allows: bool = False
) -> Decision:
    """An MCP call (Roo's `use_mcp_server` ask): a resource read (`tool` None) runs without
    asking when auto_approve_mcp is on; a tool call also needs the tool always allowed, by the
    server's config (`server_allows`, its `alwaysAllow` list) or by the policy's
    `mcp_always_allow` for that server (the tool's name, or "*")."""
    if not policy.auto_approve_mcp:
        return "ask"
    if tool is None:
        return "approve"
    listed = policy.mcp_always_allow.get(server, ())
    return "approve" if server_allows or tool in listed or "*" in listed else "ask"


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
        path = params.get("path")
        if isinstance(path, str) and is_protected(path):
            return "approve" if policy.auto_approve_write_protected else "ask"
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
