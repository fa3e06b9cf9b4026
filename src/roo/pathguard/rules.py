"""The text of a path: `split` checks what a client sent before anything touches the disk."""

from __future__ import annotations

import re
import unicodedata

from roo.pathguard.errors import PathRejected

MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 4096

_DRIVE = re.compile(r"^[A-Za-z]:")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
# Bidirectional overrides make a name display differently from what it is ("Trojan Source").
_BIDI = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_BAD_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
_HIDDEN_BYTES = frozenset(b"./\\%")


def _check_characters(user_path: str) -> None:
    for char in user_path:
        if char in _BIDI or unicodedata.category(char) in _BAD_CATEGORIES:
            raise PathRejected(f"the path contains a control character (U+{ord(char):04X})")


def _check_escapes(user_path: str) -> None:
    """The server decoded the URL once; an escape still present is a second level of encoding.

    Harmless ones (`%20` in a name) stay literal text; those that would decode to a separator,
    a dot, another escape, a control or a non-ASCII byte (overlong UTF-8) are refused."""
    for match in _ESCAPE.finditer(user_path):
        byte = int(match.group(1), 16)
        if byte in _HIDDEN_BYTES or byte < 0x20 or byte >= 0x7F:
            raise PathRejected(
                f"the path is percent-encoded twice ({match.group(0)!r} after decoding); "
                "encode each byte once"
            )


def split(user_path: str) -> tuple[str, ...]:
    """Check a client's path and return its names; `()` is the workspace root.

    `""`, `"."` and a single trailing `/` are allowed (`"src/"` is `("src",)`); `.` segments are
    dropped; anything doubtful raises `PathRejected`.
    """
    if "\x00" in user_path:
        raise PathRejected("the path contains a NUL byte")
    try:
        size = len(user_path.encode("utf-8"))
    except UnicodeEncodeError:
        raise PathRejected("the path is not valid UTF-8") from None
    if "\ufffd" in user_path:
        # What a lenient decoder makes of overlong (%c0%ae) or otherwise invalid UTF-8.
        raise PathRejected("the path is not valid UTF-8 (invalid or overlong byte sequence)")
    if size > MAX_PATH_BYTES:
        raise PathRejected(f"the path is longer than {MAX_PATH_BYTES} bytes")
    _check_characters(user_path)
    if "\\" in user_path:
        raise PathRejected("the path contains a backslash; separate directories with '/'")
    if user_path.startswith("/"):
        raise PathRejected("absolute paths are not allowed; paths are relative to the workspace")
    if _DRIVE.match(user_path):
        raise PathRejected("Windows drive paths are not allowed")
    if user_path.startswith("~"):
        raise PathRejected("'~' (a home directory) is not allowed; paths are workspace-relative")
    _check_escapes(user_path)
    body = user_path[:-1] if user_path.endswith("/") else user_path
    if not body:
        return ()
    names: list[str] = []
    for name in body.split("/"):
        if name == "":
            raise PathRejected("the path contains an empty segment ('//')")
        if name == ".":
            continue
        if name == "..":
            raise PathRejected("'..' segments are not allowed")
        if len(name.encode("utf-8")) > MAX_NAME_BYTES:
            raise PathRejected(f"a name in the path is longer than {MAX_NAME_BYTES} bytes")
        names.append(name)
    return tuple(names)


def relative(user_path: str) -> str:
    """The checked path in its normal form (`"./src//"` is refused, `"./src/"` is `"src"`)."""
    return "/".join(split(user_path))
