"""HTTP details of raw file responses: safe content types, ETags and conditions, byte ranges.

A workspace holds whatever the agent or a command wrote, so a file is served as data, never as
a page: `X-Content-Type-Options: nosniff`, a `sandbox` Content-Security-Policy, and
`Content-Disposition: attachment` for every type a browser could render as active content.
"""

from __future__ import annotations

import asyncio
import codecs
import mimetypes
import os
import re
import weakref
from dataclasses import dataclass
from email.utils import formatdate
from typing import Literal
from urllib.parse import quote

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from roo.files.exceptions import RangeNotSatisfiable

CHUNK_BYTES = 256 * 1024
SNIFF_BYTES = 8192

# On every raw file response: nothing in a file may run, load or be sniffed into running.
FILE_CSP = "sandbox; default-src 'none'"

# The standard library's built-in table only (not the host's /etc/mime.types, which varies),
# plus source files shown as text (`.ts` would otherwise be an MPEG transport stream).
_BUILTIN_TYPES = mimetypes.MimeTypes()
_SOURCE_EXTENSIONS = frozenset(
    ".ts .tsx .jsx .mts .cts .vue .svelte .py .pyi .rs .go .java .kt .kts .scala .c .h .cc .cpp"
    " .hpp .cs .rb .php .pl .lua .swift .dart .r .sql .sh .bash .zsh .fish .ps1 .toml .yaml .yml"
    " .ini .cfg .conf .env .lock .gitignore .dockerignore .editorconfig .log .diff .patch .rst"
    " .tex .graphql .proto .tf .gradle .properties .mk .cmake".split()
)
_EXTRA_TYPES = {".md": "text/markdown", ".markdown": "text/markdown", ".mjs": "text/javascript"}

# text/* is shown inline except these; other types only when listed in _INLINE.
_ACTIVE_TEXT = frozenset(
    {"text/html", "text/xml", "text/javascript", "text/ecmascript", "text/css", "text/xsl"}
)
_INLINE = frozenset(
    {
        "application/json",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/avif",
        "image/bmp",
        "audio/mpeg",
        "audio/ogg",
        "audio/wav",
        "audio/webm",
        "video/mp4",
        "video/webm",
        "video/ogg",
    }
)


def looks_like_text(head: bytes) -> bool:
    """UTF-8 without NUL in the first bytes (a sequence cut at the end is fine)."""
    if b"\x00" in head:
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def media_type(name: str, head: bytes) -> str:
    """The type to serve `name` as: by extension, else text/plain when the start is text."""
    extension = os.path.splitext(name)[1].lower() or (name.lower() if name.startswith(".") else "")
    if extension in _EXTRA_TYPES:
        return _EXTRA_TYPES[extension]
    if extension in _SOURCE_EXTENSIONS:
        return "text/plain"
    guessed, encoding = _BUILTIN_TYPES.guess_type(name, strict=False)
    if guessed and not encoding:
        return guessed
    return "text/plain" if looks_like_text(head) else "application/octet-stream"


def is_inline(media: str) -> bool:
    if media.startswith("text/"):
        return media not in _ACTIVE_TEXT
    return media in _INLINE


def content_type_header(media: str) -> str:
    if media.startswith("text/") or media == "application/json":
        return f"{media}; charset=utf-8"
    return media


def content_disposition(media: str, filename: str) -> str:
    """`attachment` for anything a browser could render as active content, else `inline`."""
    kind = "inline" if is_inline(media) else "attachment"
    fallback = re.sub(r"[^A-Za-z0-9._-]", "_", filename) or "file"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def http_date(mtime: float) -> str:
    return formatdate(mtime, usegmt=True)


# -- entity tags and conditions -------------------------------------------------------------

_TAG = re.compile(r'\s*(W/)?"([^"]*)"\s*(?:,|$)')


def etag_for(sha256: str) -> str:
    """The strong ETag of a file: its SHA-256, quoted. Same content, same tag."""
    return f'"{sha256}"'


def parse_tags(header: str) -> list[tuple[bool, str]] | Literal["*"]:
    """`If-Match`/`If-None-Match`: `*`, or a list of (weak, tag). Malformed: an empty list,
    which matches nothing (so a garbled If-Match fails safe with 412)."""
    value = header.strip()
    if value == "*":
        return "*"
    tags: list[tuple[bool, str]] = []
    position = 0
    while position < len(value):
        match = _TAG.match(value, position)
        if match is None:
            return []
        tags.append((match.group(1) is not None, f'"{match.group(2)}"'))
        position = match.end()
    return tags


def none_match(header: str | None, etag: str) -> bool:
    """True when `If-None-Match` matches `etag` (weak comparison): answer 304."""
    if header is None:
        return False
    tags = parse_tags(header)
    if tags == "*":
        return True
    return any(tag == etag for _, tag in tags)


@dataclass(frozen=True, slots=True)
class Preconditions:
    """`If-Match` / `If-None-Match` of a write, checked against the file's current ETag."""

    if_match: list[tuple[bool, str]] | Literal["*"] | None = None
    if_none_match: list[tuple[bool, str]] | Literal["*"] | None = None

    @classmethod
    def from_headers(cls, if_match: str | None, if_none_match: str | None) -> Preconditions:
        return cls(
            parse_tags(if_match) if if_match is not None else None,
            parse_tags(if_none_match) if if_none_match is not None else None,
        )

    @property
    def need_etag(self) -> bool:
        return isinstance(self.if_match, list) or isinstance(self.if_none_match, list)

    def failure(self, current: str | None) -> str | None:
        """Why the write must not happen given the current ETag (None: no file), or None."""
        if self.if_match == "*" and current is None:
            return "If-Match: * requires the file to exist"
        if isinstance(self.if_match, list):
            strong = [tag for weak, tag in self.if_match if not weak]
            if current is None or current not in strong:
                return "The file changed (its ETag does not match If-Match)"
        if self.if_none_match == "*" and current is not None:
            return "If-None-Match: * requires that the file does not exist"
        if isinstance(self.if_none_match, list) and current is not None:
            if any(tag == current for _, tag in self.if_none_match):
                return "The file's ETag matches If-None-Match"
        return None


# -- ranges ---------------------------------------------------------------------------------

_RANGE = re.compile(r"^bytes=(\d{0,19})-(\d{0,19})$", re.IGNORECASE)


def byte_range(header: str | None, if_range: str | None, etag: str, size: int) -> tuple[int, int]:
    """The (start, length) to serve. The whole file unless one valid range applies.

    Several ranges, unknown units and malformed values are ignored (RFC 9110 allows it), as is
    a Range whose If-Range does not match the current ETag; an unsatisfiable range is a 416.
    """
    if header is None or (if_range is not None and if_range.strip() != etag):
        return 0, size
    match = _RANGE.match(header.strip())
    if match is None:
        return 0, size
    first, last = match.groups()
    if not first:
        if not last:
            return 0, size
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise _unsatisfiable(size)
        start = max(0, size - suffix)
        return start, size - start
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return 0, size
    if start >= size:
        raise _unsatisfiable(size)
    end = min(end, size - 1)
    return start, end - start + 1


def _unsatisfiable(size: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable(
        f"The file has {size} bytes; the requested range is outside it",
        headers={"Content-Range": f"bytes */{size}"},
    )


# -- the response ---------------------------------------------------------------------------


class FileDescriptorResponse(Response):
    """Sends `length` bytes of an open file from `start`, reading in a worker thread.

    The fd is closed once sent, or when the response is dropped unsent.
    """

    def __init__(
        self, fd: int, start: int, length: int, *, status_code: int, headers: dict[str, str]
    ) -> None:
        super().__init__(
            status_code=status_code, headers={**headers, "Content-Length": str(length)}
        )
        self.fd = fd
        self.start = start
        self.length = length
        self._close = weakref.finalize(self, os.close, fd)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
            offset, remaining = self.start, self.length
            while remaining > 0:
                chunk = await asyncio.to_thread(
                    os.pread, self.fd, min(CHUNK_BYTES, remaining), offset
                )
                if not chunk:  # truncated in place meanwhile: the server ends the connection
                    break
                offset += len(chunk)
                remaining -= len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            self._close()
