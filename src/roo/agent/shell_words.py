"""Bash words as bash reads them: quoting and escapes removed, expansions noted.

Helpers of `roo.agent.shell` (the command analysis of the approval policy): the value of a
word node of tree-sitter's bash grammar, and how the wrappers that run another command (`env`,
`sudo`, `timeout`, `xargs`...) take their options, so that the command they run can be found.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tree_sitter import Node


@dataclass(frozen=True, slots=True)
class Word:
    """One shell word. `value` has its quotes and escapes removed; parts that bash expands at run
    time (parameters, substitutions, globs, braces) are kept as written and make it `dynamic`."""

    value: str
    dynamic: bool = False


# Node types whose value is only known at run time.
_EXPANSIONS = frozenset(
    {
        "simple_expansion",
        "expansion",
        "command_substitution",
        "process_substitution",
        "arithmetic_expansion",
        "brace_expression",
        "extglob_pattern",
    }
)
_GLOB = re.compile(r"[*?\[]")
# `{a,b}` and `{1..3}` expand to several words; a lone `{` or `{}` does not.
_BRACES = re.compile(r"\{[^{}]*(?:,|\.\.)[^{}]*\}")
_ESCAPED = re.compile(r"\\.", re.S)
_DOUBLE_QUOTE_ESCAPES = frozenset('\\"$`')
_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "e": "\x1b",
    "E": "\x1b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
}
_ANSI_NUMERIC = re.compile(r"[0-7]{1,3}|x[0-9a-fA-F]{1,2}|u[0-9a-fA-F]{1,4}|U[0-9a-fA-F]{1,8}|c.")


def _expands(unquoted: str) -> bool:
    """Whether unquoted text has a glob or a brace expansion (escaped characters aside)."""
    plain = _ESCAPED.sub("_", unquoted)
    return bool(_GLOB.search(plain) or _BRACES.search(plain))


def _unescape_unquoted(text: str) -> Word:
    """An unquoted word: a backslash keeps the next character; a glob or a brace expansion makes
    the word dynamic (bash may turn it into other names)."""
    return Word(_ESCAPED.sub(lambda m: m.group()[1], text), _expands(text))


def _unescape_double(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in _DOUBLE_QUOTE_ESCAPES:
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def decode_ansi_c(body: str) -> str:
    """The text of `$'...'` (without `$'` and `'`), its backslash escapes decoded as bash does."""
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\" or i + 1 >= len(body):
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[nxt])
            i += 2
            continue
        match = _ANSI_NUMERIC.match(body, i + 1)
        if match is None:
            out.append(c + nxt)
            i += 2
            continue
        code = match.group()
        i = match.end()
        if code[0] == "c":
            out.append(chr(ord(code[1]) & 0x1F))
        elif code[0] in "xuU":
            out.append(chr(min(int(code[1:], 16), 0x10FFFF)))
        else:
            out.append(chr(int(code, 8) & 0xFF))
    return "".join(out)


def word_of(node: Node, source: bytes) -> Word:
    """The value of an argument node (`word`, `string`, `raw_string`, `concatenation`...) of a
    tree parsed from `source`."""
    kind = node.type
    text = source[node.start_byte : node.end_byte].decode("utf-8", "replace")
    if kind in _EXPANSIONS:
        return Word(text, True)
    if kind == "word":
        return _unescape_unquoted(text)
    if kind == "number":
        return Word(text)
    if kind == "raw_string":
        return Word(text[1:-1])
    if kind == "ansi_c_string":
        return Word(decode_ansi_c(text[2:-1]))
    if kind in ("string", "translated_string"):
        dynamic = any(c.type != "string_content" for c in node.named_children)
        body = text[2:-1] if kind == "translated_string" else text[1:-1]
        return Word(body if dynamic else _unescape_double(body), dynamic)
    if kind == "concatenation":
        parts = [word_of(child, source) for child in node.children]
        # `x{a,b}` is split by the grammar into `x`, `{`, `a,b`, `}`: look at the unquoted
        # parts together, quoted ones standing in as plain characters
        unquoted = "".join(
            source[c.start_byte : c.end_byte].decode("utf-8", "replace")
            if c.type == "word"
            else "_"
            for c in node.children
        )
        dynamic = any(p.dynamic for p in parts) or _expands(unquoted)
        return Word("".join(p.value for p in parts), dynamic)
    # anything else (an array, a `$` before a string, an unexpected node): as written
    return Word(text, kind != "test_operator")


def base_name(value: str) -> str:
    """`/usr/bin/rm` -> `rm`: the command a path names, for the deny list."""
    base = value.rstrip("/").rsplit("/", 1)[-1]
    return base or value


# -- wrappers: commands that run the command given in their arguments ---------------------------


@dataclass(frozen=True, slots=True)
class Wrapper:
    """How a wrapper takes its options: `with_value` options consume a value (`-n 5`, `-n5`,
    `--adjustment=5`), `flags` do not, `optional` take a value only when attached (`-i{}`),
    `numeric` accepts `-10`-style flags; `operands` words come after the options and before the
    command (timeout's duration); `assignments` NAME=value words too (env, sudo); `no_run`
    options mean the wrapper runs nothing (`command -v`); `script` options carry a command
    line for a shell (`su -c`, `env -S`). Any other option: not understood."""

    with_value: frozenset[str] = frozenset()
    flags: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()
    numeric: bool = False
    operands: int = 0
    assignments: bool = False
    no_run: frozenset[str] = frozenset()
    script: frozenset[str] = frozenset()


def _w(
    with_value: str = "",
    flags: str = "",
    *,
    optional: str = "",
    numeric: bool = False,
    operands: int = 0,
    assignments: bool = False,
    no_run: str = "",
    script: str = "",
) -> Wrapper:
    return Wrapper(
        frozenset(with_value.split()),
        frozenset(flags.split()),
        frozenset(optional.split()),
        numeric,
        operands,
        assignments,
        frozenset(no_run.split()),
        frozenset(script.split()),
    )


WRAPPERS: dict[str, Wrapper] = {
    "builtin": _w(),
    "busybox": _w(),
    "command": _w("", "-p", no_run="-v -V"),
    "coproc": _w(),
    "exec": _w("-a", "-c -l"),
    "nohup": _w(),
    "time": _w("-f -o --format --output", "-p -v -a -q --portability --verbose --append --quiet"),
    "env": _w(
        "-u --unset -C --chdir",
        "-i -0 -v - --ignore-environment --null --debug",
        assignments=True,
        script="-S --split-string",
    ),
    "nice": _w("-n --adjustment", "", numeric=True),
    "timeout": _w(
        "-s --signal -k --kill-after",
        "--preserve-status --foreground -v --verbose -f -p",
        operands=1,
    ),
    "sudo": _w(
        "-u -g -C -D -h -p -r -t -T -U --user --group --close-from --chdir --host --prompt "
        "--role --type --command-timeout --other-user",
        "-A -b -E -H -i -k -K -l -n -N -P -S -s -B --askpass --background --preserve-env "
        "--set-home --login --reset-timestamp --remove-timestamp --list --non-interactive "
        "--no-update --preserve-groups --stdin --shell --bell",
        assignments=True,
    ),
    "doas": _w("-u -C", "-n -s -L"),
    "pkexec": _w("--user", "--disable-internal-agent --keep-cwd"),
    "stdbuf": _w("-i -o -e --input --output --error"),
    "setsid": _w("", "-c -f -w --ctty --fork --wait"),
    "ionice": _w("-c -n -p -P -u --class --classdata --pid --pgid --uid", "-t --ignore"),
    "taskset": _w("", "-a -c --all-tasks --cpu-list", operands=1),
    "chrt": _w(
        "-T -P -D --sched-runtime --sched-period --sched-deadline",
        "-a -b -d -e -f -i -o -r -R -v -m --all-tasks --batch --deadline --fifo --idle --other "
        "--rr --reset-on-fork --verbose",
        operands=1,
    ),
    "chroot": _w("--userspec --groups", "--skip-chdir", operands=1),
    "xargs": _w(
        "-a -d -E -I -L -n -P -s --arg-file --delimiter --eof --max-lines --max-args "
        "--max-procs --max-chars --process-slot-var",
        "-0 -r -t -p -x -o --null --no-run-if-empty --verbose --interactive --exit --open-tty "
        "--replace --show-limits",
        optional="-i -l -e",
    ),
    "flock": _w(
        "-w -E --timeout --conflict-exit-code",
        "-s -x -e -n -u -o -F --shared --exclusive --nonblock --unlock --close --no-fork",
        operands=1,
        script="-c --command",
    ),
    "fakeroot": _w("-l -i -s -b --lib --faked", "-u -h -v --unknown-is-real"),
    "strace": _w(
        "-e -o -p -s -u -E -a -b -I -O -P -S -X",
        "-f -c -C -d -D -F -h -i -k -n -q -r -t -T -v -V -w -x -y -z -Z",
    ),
    "unshare": _w(
        "-R -w -S -G --root --wd --setuid --setgid --propagation --map-user --map-group "
        "--setgroups",
        "-m -u -i -n -p -U -C -T -f -r -c --mount --uts --ipc --net --pid --user --cgroup "
        "--time --fork --map-root-user --map-current-user --kill-child --mount-proc",
    ),
    "nsenter": _w(
        "-t -S -G -R -w --target --setuid --setgid --root --wd",
        "-a -m -u -i -n -p -U -C -T -F -r --all --mount --uts --ipc --net --pid --user "
        "--cgroup --time --no-fork --preserve-credentials",
    ),
}

# Wrappers that start a shell when given no command.
LOGIN_SHELL_OPTIONS = {"sudo": ("-s", "-i", "--shell", "--login"), "doas": ("-s",)}
# `watch` runs the rest of its words as a shell line, after these options.
WATCH = Wrapper(
    frozenset({"-n", "--interval"}),
    frozenset(
        "-b -e -g -t -x -c -w -p -r -d --beep --errexit --chgexit --no-title --exec --color "
        "--no-wrap --precise --differences --no-rerun".split()
    ),
)

_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\+?=")


@dataclass(frozen=True, slots=True)
class Peeled:
    """What a wrapper runs: `inner` (the command's words; empty when it runs none), `script`
    (a command line it hands to a shell, e.g. `env -S`), `certain` False when its options were
    not understood (the command it runs may then be any of its later words)."""

    inner: Sequence[Word] = ()
    script: Word | None = None
    certain: bool = True


def _option(spec: Wrapper, words: Sequence[Word], i: int) -> tuple[int, Peeled | None]:
    """Read the option at `words[i]`: (index of the next word, a result if it ends here)."""
    value = words[i].value
    if value.startswith("--"):
        name, eq, attached = value.partition("=")
        if name in spec.no_run:
            return i, Peeled()
        if name in spec.script:
            script = Word(attached) if eq else (words[i + 1] if i + 1 < len(words) else None)
            return i, Peeled(script=script) if script else Peeled(certain=False)
        if name in spec.with_value:
            return (i + 1 if eq else i + 2), None
        if name in spec.flags:
            return i + 1, None
        return i, Peeled(certain=False)
    for j in range(1, len(value)):
        option = "-" + value[j]
        rest = value[j + 1 :]
        if option in spec.no_run:
            return i, Peeled()
        if option in spec.script:
            script = Word(rest) if rest else (words[i + 1] if i + 1 < len(words) else None)
            return i, Peeled(script=script) if script else Peeled(certain=False)
        if option in spec.with_value:
            return (i + 1 if rest else i + 2), None
        if option in spec.optional or (spec.numeric and value[j:].isdigit()):
            return i + 1, None
        if option not in spec.flags:
            return i, Peeled(certain=False)
    return i + 1, None


def peel(spec: Wrapper, args: Sequence[Word]) -> Peeled:
    """The command a wrapper runs, from the words after the wrapper's name."""
    i = 0
    while i < len(args):
        word = args[i]
        value = word.value
        if spec.assignments and _ASSIGNMENT.match(value):
            i += 1  # NAME=value, whatever the value
            continue
        if word.dynamic:
            return Peeled(certain=False)
        if value == "--":
            i += 1
            break
        if value == "-" and "-" in spec.flags:
            i += 1
            continue
        if value.startswith("-") and len(value) > 1:
            i, done = _option(spec, args, i)
            if done is not None:
                return done
            continue
        break
    i += spec.operands
    if i < len(args) and args[i].value in spec.script:  # `flock file -c line`
        return Peeled(script=args[i + 1]) if i + 1 < len(args) else Peeled(certain=False)
    return Peeled(inner=args[i:])


def given(args: Sequence[Word], options: Sequence[str]) -> bool:
    """Whether one of `options` (`-s`, `--shell`) is among the words, alone or in a cluster."""
    letters = {o[1] for o in options if len(o) == 2}
    for arg in args:
        value = arg.value
        if value in options:
            return True
        if value.startswith("-") and not value.startswith("--") and letters & set(value[1:]):
            return True
    return False
