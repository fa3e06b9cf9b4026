"""Auto-approval: Roo's command split and decision, the policy, "approve always"."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roo.agent.approval import (
    ApprovalPolicy,
    approve_always_rule,
    command_rule_prefix,
    decide_command,
    decide_tool,
    has_dangerous_substitution,
    split_commands,
)
from roo.agent.tools.base import ApprovalCategory

# --- split_commands ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "parts"),
    [
        ("npm test", ["npm test"]),
        ("npm install && npm test", ["npm install", "npm test"]),
        ("make || echo failed", ["make", "echo failed"]),
        ("cd src; ls", ["cd src", "ls"]),
        ("cat a.txt | grep x | wc -l", ["cat a.txt", "grep x", "wc -l"]),
        ("git status\ngit diff\r\ngit log", ["git status", "git diff", "git log"]),
        ("sleep 5 & echo hi", ["sleep 5", "echo hi"]),
        ("a |& b", ["a", "b"]),
        # quotes and substitutions are never split
        ('echo "a && b; c | d"', ['echo "a && b; c | d"']),
        ("echo 'x || y' && ls", ["echo 'x || y'", "ls"]),
        ("echo $(git log | head -1) && ls", ["echo $(git log | head -1)", "ls"]),
        ("echo `date; whoami`", ["echo `date; whoami`"]),
        ('echo "it\'s" && ls', ['echo "it\'s"', "ls"]),
        ("echo a\\;b", ["echo a\\;b"]),
        ("echo ${x:-a;b}", ["echo ${x:-a;b}"]),
        ("echo $'a;b' ; ls", ["echo $'a;b'", "ls"]),
        # redirections are removed
        ("npm test 2>&1", ["npm test"]),
        ("git log >/dev/null 2>&1", ["git log"]),
        ("make > build.log 2> err.log", ["make"]),
        ("cat < in.txt | sort", ["cat", "sort"]),
        ("cmd &> all.log", ["cmd"]),
        # blanks collapse, empties and comments go
        ("  ls    -la\t\tsrc  ", ["ls -la src"]),
        ("ls ;; ; && pwd", ["ls", "pwd"]),
        ("ls # && rm -rf /", ["ls"]),
        ("", []),
        ("   \n  ", []),
        # compound commands: keywords dropped, groups split
        # a loop's header runs nothing (substitutions in it are still seen)
        ("for f in *.py; do black $f; done", ["black $f"]),
        ("if test -f x; then rm x; fi", ["test -f x", "rm x"]),
        ("(cd sub && make) || echo no", ["cd sub", "make", "echo no"]),
        ("{ ls; pwd; }", ["ls", "pwd"]),
        ("time npm test", ["npm test"]),
        ("files=(a b); echo ${files[@]}", ["files=(a b)", "echo ${files[@]}"]),
        # line continuation and here-documents
        ("npm \\\n  test", ["npm test"]),
        ("cat <<EOF > notes.txt\nrm -rf /\nEOF\nls", ["cat", "ls"]),
        ("python - <<'PY'\nimport os; os.remove('x')\nPY", ["python -"]),
        # text the grammar skips without an error node stays with its command, as in Roo
        ("- 1=", ["- 1="]),
        ("ls && - 1=", ["ls", "- 1="]),
        ("a | - 1= ; b", ["a", "- 1=", "b"]),
        # `==` after a command name: the grammar's error recovery, as Roo's split reads it
        ("ls ==", ["ls =="]),
        ("ls == x", ["ls == x"]),
        ("a && ls ==", ["a", "ls =="]),
        ("ls == && b", ["ls ==", "b"]),
        ("0 && 0 ==\n0", ["0", "0 ==", "0"]),
    ],
)
def test_split_commands(command: str, parts: list[str]) -> None:
    assert split_commands(command) == parts


# Not a word starting with `==`: after a command name the grammar reads `==` as the operator of a
# test (its operand, a "regex", can swallow what follows, operators included), which Roo's split
# does not; such commands are marked uncertain (they ask) and have cases of their own above.
_WORD = st.text(alphabet="abcxyz019._-/=", min_size=1, max_size=6).filter(
    lambda w: not w.startswith("==")
)
_QUOTED = st.text(alphabet="abc &|;()<>$`\\\n#", max_size=10).map(lambda t: "'" + t + "'")
_OPS = st.sampled_from([" && ", " || ", " ; ", " | ", "\n", " & "])


@st.composite
def _commands(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A chain of simple commands (words and single-quoted strings), and its parts."""
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        words = draw(st.lists(st.one_of(_WORD, _QUOTED), min_size=1, max_size=4))
        words[0] = draw(_WORD)
        parts.append(" ".join(words))
    ops = [draw(_OPS) for _ in parts[1:]]
    command = parts[0] + "".join(op + part for op, part in zip(ops, parts[1:], strict=True))
    return command, parts


@given(_commands())
def test_split_property_recovers_the_chain(case: tuple[str, list[str]]) -> None:
    command, parts = case
    assert split_commands(command) == parts


@given(_commands())
def test_split_property_no_unquoted_operator_in_a_part(case: tuple[str, list[str]]) -> None:
    for part in split_commands(case[0]):
        unquoted = re.sub(r"'[^']*'", "", part)
        assert "&&" not in unquoted
        assert "||" not in unquoted
        assert ";" not in unquoted
        assert "\n" not in unquoted


@given(st.text(max_size=60))
def test_split_never_fails_nor_yields_blank_parts(text: str) -> None:
    for part in split_commands(text):
        assert part.strip() == part
        assert part


# --- has_dangerous_substitution -------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        "echo $(whoami)",
        'echo "$(whoami)"',
        "echo `whoami`",
        "diff <(ls a) <(ls b)",
        "tee >(gzip > x.gz)",
        "echo =(whoami)",
        'echo "${var@P}"',
        "echo ${!prefix}",
        "cat <<<$(whoami)",
        "ls *(e:whoami:)",
        "echo ${x:-$(id)}",
        "echo $(( $(id -u) + 1 ))",
        "cat <<EOF\n$(id)\nEOF",
        "echo ${x=\\140id\\140}",
    ],
)
def test_dangerous_substitution_detected(command: str) -> None:
    assert has_dangerous_substitution(command)


@pytest.mark.parametrize(
    "command",
    [
        "git status",
        "echo '$(whoami)'",
        "echo '`id`'",
        "echo $((1 + 2))",
        "echo ${HOME} $PATH",
        "files=(a b c)",
        "cat <<'EOF'\n$(id)\nEOF",
        'node -e "const f = (x) => x * 2"',
    ],
)
def test_safe_constructs_not_flagged(command: str) -> None:
    assert not has_dangerous_substitution(command)


# --- decide_command -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "allowed", "denied", "decision"),
    [
        # longest prefix
        ("git status", ["git"], [], "approve"),
        ("git push origin main", ["git"], ["git push"], "deny"),
        ("git push --dry-run", ["git push --dry-run"], ["git push"], "approve"),
        ("git push", ["git push"], ["git push"], "deny"),  # tie: deny
        ("npm install", ["*", "npm"], ["npm install"], "deny"),
        ("rm -rf build", [], ["rm"], "deny"),
        ("unknown --flag", ["git"], ["rm"], "ask"),
        ("ls", [], [], "ask"),
        # case-insensitive, trimmed
        ("GIT Status", ["git status"], [], "approve"),
        ("git status", ["GIT"], [], "approve"),
        ("   git log   ", ["git log"], [], "approve"),
        # `*` and empty prefixes
        ("anything at all", ["*"], [], "approve"),
        ("rm -rf /", ["*"], ["rm"], "deny"),
        ("ls", [""], [], "ask"),
        # chains: every part must be allowed; any denied part denies
        ("npm install && npm test", ["npm"], [], "approve"),
        ("npm test && curl x", ["npm"], [], "ask"),
        ("git status; rm -rf x", ["git"], ["rm"], "deny"),
        ("ls | xargs rm", ["ls", "xargs"], ["xargs rm"], "deny"),
        ("make || rm -rf x", ["*"], ["rm"], "deny"),
        ("ls\nrm x", ["ls"], ["rm"], "deny"),
        # the grammar carries `echo ==` over the line break; bash runs `rm` on its own line
        ("echo ==\nrm -rf x", ["echo"], ["rm"], "deny"),
        ("echo ==\nrm -rf x", ["echo"], [], "ask"),
        ('echo "rm -rf x" && ls', ["echo", "ls"], ["rm"], "approve"),
        ("for f in *; do rm $f; done", ["*"], ["rm"], "deny"),
        # substitution always asks, even with `*`; denied commands inside still deny
        ("echo $(whoami)", ["*"], [], "ask"),
        ("echo `whoami`", ["*"], [], "ask"),
        ("cat <(ls)", ["*"], [], "ask"),
        ("echo $(rm -rf x)", ["*"], ["rm"], "deny"),
        ("echo $(echo `rm x`)", ["*"], ["rm"], "deny"),
        ('echo "${var@P}"', ["echo"], [], "ask"),
        ("echo '$(whoami)'", ["echo"], [], "approve"),
        ("echo $((1+2))", ["echo"], [], "approve"),
        # redirections: removed for matching; files and background jobs ask
        ("npm test 2>&1", ["npm test"], [], "approve"),
        ("git log > /dev/null 2>&1", ["git log"], [], "approve"),
        ("git show > ~/.bashrc", ["git show"], [], "ask"),
        ("git show >> out.txt", ["git show"], [], "ask"),
        ("cat < /etc/passwd", ["cat"], [], "ask"),
        ("echo hi >&2file", ["echo"], [], "ask"),
        ("echo hi >&2", ["echo"], [], "approve"),
        ("npm run dev &", ["npm"], [], "ask"),
        ("cat <<EOF\nhello\nEOF", ["cat"], [], "approve"),
        # empty
        ("", ["git"], ["rm"], "approve"),
        ("   ", [], [], "approve"),
    ],
)
def test_decide_command(command: str, allowed: list[str], denied: list[str], decision: str) -> None:
    assert decide_command(command, allowed, denied) == decision


@given(st.text(max_size=40))
def test_decide_command_total(command: str) -> None:
    assert decide_command(command, ["*"], ["rm"]) in ("approve", "deny", "ask")


@given(st.text(alphabet="abc $()`'\"", max_size=30).filter(lambda t: not t.startswith("(")))
def test_substitution_never_auto_approved(text: str) -> None:
    command = f"echo $({text})"  # `$((` would be arithmetic
    assert decide_command(command, ["*"], []) != "approve"


# --- the policy -----------------------------------------------------------------------------


def test_policy_matches_the_session_schema() -> None:
    from roo.sessions.schemas import ApprovalPolicyIn as SessionPolicy

    assert ApprovalPolicy.from_mapping(SessionPolicy().model_dump()) == ApprovalPolicy()
    stored = SessionPolicy(
        auto_approve_execute=True, allowed_commands=["npm test"], denied_commands=["rm"]
    ).model_dump()  # camelCase, as the session config stores it
    policy = ApprovalPolicy.from_mapping(stored)
    assert policy.auto_approve_execute
    assert policy.allowed_commands == ("npm test",)
    assert policy.denied_commands == ("rm",)
    assert policy.to_mapping(by_alias=True) == stored
    assert SessionPolicy.model_validate(policy.to_mapping()).model_dump() == stored


def test_policy_round_trip() -> None:
    data = {
        "auto_approve_read": False,
        "auto_approve_write": True,
        "auto_approve_execute": True,
        "auto_approve_mcp": True,
        "auto_approve_write_protected": True,
        "allowed_commands": ["npm test", "git log"],
        "denied_commands": ["rm"],
        "auto_approve_mode_switch": True,
        "auto_approve_subtasks": True,
        "auto_approve_followup_questions": True,
        "followup_auto_approve_timeout_ms": 5000,
        "allowed_max_requests": 20,
        "allowed_max_cost": 1.5,
        "mcp_always_allow": {"github": ["create_issue"], "local": ["*"]},
        "something_else": 1,
    }
    policy = ApprovalPolicy.from_mapping(data)
    assert policy.allowed_commands == ("npm test", "git log")
    assert policy.to_mapping() == {k: v for k, v in data.items() if k != "something_else"}
    assert ApprovalPolicy.from_mapping({"allowed_commands": None}) == ApprovalPolicy()


@pytest.mark.parametrize(
    "data",
    [
        {"auto_approve_write": "yes"},
        {"allowed_commands": "npm"},
        {"denied_commands": ["rm", 3]},
        {"allowed_max_requests": 2.5},
        {"allowed_max_requests": -1},
        {"allowedMaxCost": "1"},
        {"followup_auto_approve_timeout_ms": True},
    ],
)
def test_policy_rejects_bad_types(data: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="approval policy"):
        ApprovalPolicy.from_mapping(data)


@pytest.mark.parametrize(
    ("policy", "category", "params", "decision"),
    [
        (ApprovalPolicy(), ApprovalCategory.READ, {"path": "a"}, "approve"),
        (ApprovalPolicy(auto_approve_read=False), "read", {"path": "a"}, "ask"),
        (ApprovalPolicy(), ApprovalCategory.WRITE, {"path": "a"}, "ask"),
        (ApprovalPolicy(auto_approve_write=True), ApprovalCategory.WRITE, {}, "approve"),
        (ApprovalPolicy(), ApprovalCategory.MCP, {}, "ask"),
        (ApprovalPolicy(auto_approve_mcp=True), ApprovalCategory.MCP, {}, "approve"),
        (ApprovalPolicy(), ApprovalCategory.INTERACTION, {}, "approve"),
        # execute: off -> ask, but the deny list always applies
        (ApprovalPolicy(allowed_commands=("*",)), "execute", {"command": "ls"}, "ask"),
        (ApprovalPolicy(denied_commands=("rm",)), "execute", {"command": "rm -rf x"}, "deny"),
        # execute on: the command decision
        (
            ApprovalPolicy(auto_approve_execute=True, allowed_commands=("npm",)),
            "execute",
            {"command": "npm test"},
            "approve",
        ),
        (
            ApprovalPolicy(auto_approve_execute=True, allowed_commands=("npm",)),
            "execute",
            {"command": "make"},
            "ask",
        ),
        (ApprovalPolicy(auto_approve_execute=True), "execute", {"command": "npm test"}, "ask"),
        (
            ApprovalPolicy(auto_approve_execute=True, allowed_commands=("*",)),
            "execute",
            {"command": "echo $(id)"},
            "ask",
        ),
        (
            ApprovalPolicy(
                auto_approve_execute=True, allowed_commands=("*",), denied_commands=("git push",)
            ),
            "execute",
            {"command": "git push -f"},
            "deny",
        ),
        (ApprovalPolicy(auto_approve_execute=True, allowed_commands=("*",)), "execute", {}, "ask"),
    ],
)
def test_decide_tool(
    policy: ApprovalPolicy, category: str, params: dict[str, str], decision: str
) -> None:
    assert decide_tool(policy, category, params) == decision


@pytest.mark.parametrize(
    "path",
    [
        ".rooignore",
        "./.rooignore",
        "src/../.rooignore",
        "pkg/.rooignore",
        ".roomodes",
        ".roorules-code",
        ".clinerules",
        ".roo/rules/style.md",
        ".vscode/settings.json",
        "team.code-workspace",
        ".rooprotected",
        "AGENTS.md",
        "AGENT.md",
    ],
)
def test_writes_to_the_agents_own_configuration_ask_despite_write_auto_approval(
    path: str,
) -> None:
    assert decide_tool(ApprovalPolicy(auto_approve_write=True), "write", {"path": path}) == "ask"
    protected_too = ApprovalPolicy(auto_approve_write=True, auto_approve_write_protected=True)
    assert decide_tool(protected_too, "write", {"path": path}) == "approve"


@pytest.mark.parametrize("path", ["src/main.py", "README.md", "rooignore", ".roo-notes.txt"])
def test_other_writes_follow_write_auto_approval(path: str) -> None:
    assert (
        decide_tool(ApprovalPolicy(auto_approve_write=True), "write", {"path": path}) == "approve"
    )
    assert decide_tool(ApprovalPolicy(), "write", {"path": path}) == "ask"


def test_the_protected_flag_round_trips_through_the_stored_config() -> None:
    policy = ApprovalPolicy.from_mapping({"autoApproveWriteProtected": True})
    assert policy.auto_approve_write_protected
    assert policy.to_mapping(by_alias=True)["autoApproveWriteProtected"] is True
    assert not ApprovalPolicy.from_mapping({}).auto_approve_write_protected


@pytest.mark.parametrize(
    ("command", "prefix"),
    [
        ("npm test -- --watch", "npm test"),
        ("git log -n 5", "git log"),
        ("pytest tests/test_x.py -q", "pytest"),
        ("ls -la", "ls"),
        ("cargo build --release && cargo test", "cargo build"),
        ("./gradlew test", "./gradlew test"),
        ("python 'my script.py'", "python"),
        ("", None),
        ("   ", None),
    ],
)
def test_command_rule_prefix(command: str, prefix: str | None) -> None:
    assert command_rule_prefix(command) == prefix


def test_approve_always_rule() -> None:
    assert approve_always_rule("execute", {"command": "npm test -- --watch"}) == {
        "auto_approve_execute": True,
        "allowed_commands": ["npm test"],
    }
    assert approve_always_rule("write", {"path": "a.py"}) == {"auto_approve_write": True}
    assert approve_always_rule("read", {}) == {"auto_approve_read": True}
    assert approve_always_rule("mcp", {}) == {"auto_approve_mcp": True}
    assert approve_always_rule("interaction", {}) == {}
    assert approve_always_rule("execute", {"command": ""}) == {}


def test_with_rule_execute_auto_approves_that_command_only() -> None:
    policy = ApprovalPolicy(denied_commands=("npm publish",))
    assert decide_tool(policy, "execute", {"command": "npm test -- --watch"}) == "ask"
    updated = policy.with_rule("execute", {"command": "npm test -- --watch"})
    assert updated.allowed_commands == ("npm test",)
    assert updated.auto_approve_execute
    assert policy.allowed_commands == ()  # immutable
    assert decide_tool(updated, "execute", {"command": "npm test -- --watch"}) == "approve"
    assert decide_tool(updated, "execute", {"command": "npm test"}) == "approve"
    assert decide_tool(updated, "execute", {"command": "npm install"}) == "ask"
    assert decide_tool(updated, "execute", {"command": "npm publish"}) == "deny"
    # not repeated, whatever the case
    again = updated.with_rule("execute", {"command": "NPM test"})
    assert again.allowed_commands == ("npm test",)


def test_with_rule_flags() -> None:
    policy = ApprovalPolicy().with_rule(ApprovalCategory.WRITE, {"path": "x"})
    assert policy.auto_approve_write
    assert decide_tool(policy, "write", {"path": "y"}) == "approve"
    assert ApprovalPolicy().with_rule("interaction", {}) == ApprovalPolicy()
