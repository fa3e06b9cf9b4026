"""Structured logging: structlog for our events, the standard library's records (uvicorn, alembic,
SQLAlchemy) rendered by the same processors. JSON in production, readable in development.

Secrets never reach a log line: `redact_secrets` runs on every event, whatever logged it.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import re
import sys
import threading
import time
import weakref
from collections.abc import Mapping
from functools import lru_cache
from json.encoder import encode_basestring_ascii
from typing import Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from roo.kit.request_context import current_request_id

REDACTED = "[REDACTED]"

# Keys whose values are secret wherever they appear (compared lower-case, '-' taken as '_').
SECRET_KEYS = frozenset(
    {
        "authorization",
        "proxy_authorization",
        "cookie",
        "set_cookie",
        "password",
        "new_password",
        "old_password",
        "current_password",
        "passwd",
        "secret",
        "client_secret",
        "jwt_secret",
        "token",
        "access_token",
        "refresh_token",
        "refreshtoken",
        "id_token",
        "api_key",
        "apikey",
        "x_api_key",
        "private_key",
        "credentials",
    }
)
_SECRET_KEY_PARTS = ("password", "secret", "token", "api_key", "apikey", "authorization", "cookie")

# Secrets embedded in free text: bearer credentials, roo API keys, and user:password@ in URLs.
_TEXT_PATTERNS = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + REDACTED),
    (re.compile(r"\broo_[A-Za-z0-9_]{16,}"), REDACTED),
    (
        re.compile(
            r"(?i)([?&](?:access_token|refresh_token|id_token|token|code|api_key|apikey|key|"
            r"password|secret|client_secret|state)=)[^&\s\"']+"
        ),
        r"\1" + REDACTED,
    ),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]+):[^@\s/]+@"), r"\1:" + REDACTED + "@"),
)


def _is_secret_key(key: object) -> bool:
    return isinstance(key, str) and _is_secret_name(key)


@lru_cache(maxsize=1024)  # a handful of key names come back on every event
def _is_secret_name(key: str) -> bool:
    norm = key.lower().replace("-", "_")
    return norm in SECRET_KEYS or any(part in norm for part in _SECRET_KEY_PARTS)


# Every text pattern needs one of these; most strings have none, and skip the patterns at once.
_MAYBE_SECRET = re.compile(r"(?i)earer|asic|roo_|://|=")

# Fields filled by our own code with values that can never hold a secret. Not `event`: for a
# standard-library record it is the formatted message, which may quote anything.
_PLAIN_KEYS = frozenset(
    {
        "level",
        "timestamp",
        "logger",
        "request_id",
        "method",
        "route",
        "status",
        "duration_ms",
        "client",
        "action",
        "outcome",
    }
)


def redact_text(text: str) -> str:
    if not _MAYBE_SECRET.search(text):
        return text
    for pattern, replacement in _TEXT_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact(value: Any, depth: int = 0) -> Any:
    """Return `value` with secret entries replaced, walking dicts, lists and tuples."""
    if depth > 8:
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if _is_secret_key(k) and v not in (None, "") else redact(v, depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        items = [redact(v, depth + 1) for v in value]
        # header lists from ASGI scopes: [(b"authorization", b"Bearer ...")]
        if len(items) == 2 and _is_secret_key(_as_text(value[0])):
            return [items[0], REDACTED]
        return items
    if isinstance(value, bytes):
        return redact_text(value.decode("latin-1"))
    return value


def _as_text(value: Any) -> Any:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def redact_secrets(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: scrub secrets from every key and value of the event."""
    for key in list(event_dict):
        if key in _PLAIN_KEYS:
            continue
        value = event_dict[key]
        if _is_secret_key(key) and value not in (None, ""):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = redact(value)
    return event_dict


def _add_request_id(_l: WrappedLogger, _n: str, event_dict: EventDict) -> EventDict:
    """Stamp the request id of the work in progress (set by the request middleware) on the event."""
    if "request_id" not in event_dict:
        request_id = current_request_id()
        if request_id is not None:
            event_dict["request_id"] = request_id
    return event_dict


def _drop_color_message(_l: WrappedLogger, _n: str, event_dict: EventDict) -> EventDict:
    # uvicorn duplicates its message with ANSI colours in `color_message`.
    event_dict.pop("color_message", None)
    return event_dict


class _Lines:
    """Every rendered line goes to whatever `sys.stderr` is now (test capture replaces it), in
    the order it was logged.

    Access lines may wait a moment: they are collected and written together at the end of the
    event-loop iteration that produced them (or once `MAX_PENDING` are waiting), one write
    instead of one per request. Any other line writes the waiting ones first, so the order holds.
    A process killed outright loses at most the lines of its last loop iteration.
    """

    MAX_PENDING = 64

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self._flush_loop: asyncio.AbstractEventLoop | None = None

    def write(self, line: str) -> None:
        with self._lock:
            stream = sys.stderr
            if self._pending:
                stream.write("".join(self._pending))
                self._pending.clear()
            stream.write(line + "\n")
            stream.flush()

    def write_soon(self, line: str) -> None:
        with self._lock:
            self._pending.append(line + "\n")
            waiting = len(self._pending)
        if waiting >= self.MAX_PENDING:
            self.flush()
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop here: nothing would come back for the line
            self.flush()
            return
        # One flush per loop iteration; a loop that closed before running its flush does not
        # hold the lines back (the next loop schedules its own).
        if self._flush_loop is not loop:
            self._flush_loop = loop
            loop.call_soon(self.flush)

    def flush(self) -> None:
        with self._lock:
            self._flush_loop = None
            if not self._pending:
                return
            stream = sys.stderr
            stream.write("".join(self._pending))
            self._pending.clear()
            stream.flush()


LINES = _Lines()
atexit.register(LINES.flush)


def flush_logs() -> None:
    """Write any access lines still waiting (tests reading captured output call this)."""
    LINES.flush()


class _StderrLogger:
    def msg(self, message: str) -> None:
        LINES.write(message)

    log = debug = info = warn = warning = error = err = critical = exception = fatal = msg


def _stderr_logger(*_args: Any) -> _StderrLogger:
    return _StderrLogger()


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    def emit(self, record: logging.LogRecord) -> None:
        LINES.flush()  # waiting access lines first: the order of lines holds
        super().emit(record)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(level: str = "INFO", json: bool = False) -> None:
    """Configure structlog and route the standard library's logging through the same chain.

    Our own events go straight from structlog to stderr (no stdlib LogRecord on the hot path);
    records of other libraries (uvicorn, alembic, SQLAlchemy) get the same processors through
    ProcessorFormatter. Idempotent: calling it again replaces the configuration.
    """
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if json
        # plain tracebacks: rich's pretty ones cost over a second per exception
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    exc: list[Processor] = [structlog.processors.format_exc_info] if json else []
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            _add_request_id,
            structlog.processors.add_log_level,
            _logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            *exc,
            redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.contextvars.merge_contextvars,
            _add_request_id,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.stdlib.ExtraAdder(),
            _drop_color_message,
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *exc,
            redact_secrets,
            renderer,
        ],
    )
    LINES.flush()
    ACCESS_LOG.configure(logging.getLevelName(level), json=json)
    for batched in list(_BATCHED_LOGGERS):
        batched.configure()
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    # uvicorn's own handlers would print a second, unstructured copy; our access log replaces its.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers = []
        lg.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("sqlalchemy.engine").setLevel("WARNING")
    logging.getLogger("alembic").setLevel("WARNING")
    # httpx logs every outbound URL at INFO, query strings (OAuth codes) included; httpx2 (the
    # LLM SDKs' and then Authlib's client) does the same.
    for noisy in ("httpx", "httpcore", "httpx2", "httpcore2"):
        logging.getLogger(noisy).setLevel("WARNING")  # roo.db.migrate logs what changed
    # procrastinate logs every job at INFO with its arguments (a continued task's user message
    # among them); the worker logs its own start and stop, the runner each task's
    logging.getLogger("procrastinate").setLevel("WARNING")


def _logger_name(_l: WrappedLogger, _n: str, event_dict: EventDict) -> EventDict:
    # `logger` cannot be an initial value of structlog.get_logger (it is a parameter name there).
    if "logger_name" in event_dict:
        event_dict["logger"] = event_dict.pop("logger_name")
    return event_dict


def get_logger(name: str, **initial: Any) -> Any:
    """A structlog logger whose events carry `logger=name`."""
    return structlog.get_logger(logger_name=name, **initial)


class _BatchedStderrLogger:
    """structlog's output for access lines: written with the other lines of the same event-loop
    iteration (`_Lines.write_soon`)."""

    def msg(self, message: str) -> None:
        LINES.write_soon(message)

    log = debug = info = warn = warning = error = err = critical = exception = fatal = msg


def _batched_logger(name: str) -> Any:
    """A structlog logger bound to the configuration of this moment, whose lines are written
    with the access lines of their event-loop iteration."""
    return structlog.wrap_logger(_BatchedStderrLogger(), logger_name=name).bind()


class BatchedLogger:
    """A logger for lines of the hot path that need not reach the output before the event loop
    moves on: each is written with the access lines of its loop iteration
    (`_Lines.write_soon`), not on its own with a flush, which also wrote the access lines
    waiting (the audit trail's line for each row it writes cost about a point of the
    throughput of `bench/security_overhead.py`'s mix, where a quarter of the requests write
    one). A process killed outright loses at most the lines of its last loop iteration: only
    for lines whose fact is kept elsewhere too (an audit row is in the database before its
    request answers).

    Bound to structlog's configuration once, and again whenever `configure_logging` runs, not
    rebuilt on every line as `get_logger`'s lazy proxies are. `log.info("event", key=value)`
    and the other levels, as any structlog logger.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._bound: Any = None
        _BATCHED_LOGGERS.add(self)

    def configure(self) -> None:
        self._bound = _batched_logger(self.name)

    def __getattr__(self, level: str) -> Any:
        if self._bound is None:  # logging never configured: structlog's defaults
            self.configure()
        return getattr(self._bound, level)


_BATCHED_LOGGERS: weakref.WeakSet[BatchedLogger] = weakref.WeakSet()


@lru_cache(maxsize=1024)  # the same paths come back request after request
def _redacted_path(path: str) -> str:
    return redact_text(path)


_LEVEL_NAMES = {logging.DEBUG: "debug", logging.INFO: "info", logging.ERROR: "error"}


class AccessLog:
    """The access log: one line per request, the hottest line the service writes.

    Every line goes out through structlog's chain (context variables merged, request id, level,
    logger, timestamp, secrets scrubbed, JSON or console renderer) except one case: in JSON mode
    with no structlog context variable bound (roo binds none today), the line is rendered here
    directly, with the same keys and values the chain gives it (`path` scrubbed by
    `redact_text`; the other fields are ours and plain). That saves about a fifth of the server
    CPU of a small request (`bench/results/request_path_variants.json`); a test holds the two
    renderings equal, so a change of structlog's output breaks it. A request that binds context
    variables gets the chain, and them. The lines of one event-loop iteration are written
    together (`_Lines.write_soon`).
    """

    logger_name = "roo.access"

    def __init__(self) -> None:
        self.level = logging.INFO
        self.json = False
        self._logger: Any = None
        self._second = -1
        self._second_text = ""

    def configure(self, level: int, *, json: bool) -> None:
        """Bind the access logger to structlog's configuration of this moment (called by
        `configure_logging` after `structlog.configure`): one bound logger, not a lazy proxy
        that rebuilds itself from the configuration on every line."""
        self.level = level
        self.json = json
        self._logger = _batched_logger(self.logger_name)

    def enabled_for(self, level: int) -> bool:
        return level >= self.level

    def write(
        self,
        level: int,
        *,
        method: str,
        path: str,
        route: str | None,
        status: int,
        duration_ms: float,
        client: str | None,
    ) -> None:
        if level < self.level:
            return
        if self.json and not structlog.contextvars.get_contextvars():
            LINES.write_soon(self._render(level, method, path, route, status, duration_ms, client))
            return
        fields: dict[str, Any] = {
            "method": method,
            "path": path,
            "route": route,
            "status": status,
            "duration_ms": duration_ms,
        }
        if client:
            fields["client"] = client
        if self._logger is None:  # logging never configured: structlog's defaults
            self.configure(self.level, json=False)
        self._logger.log(level, "request", **fields)

    def _render(
        self,
        level: int,
        method: str,
        path: str,
        route: str | None,
        status: int,
        duration_ms: float,
        client: str | None,
    ) -> str:
        """The line structlog's chain and JSONRenderer would write (a test holds them equal)."""
        encode = encode_basestring_ascii
        client_part = f', "client": {encode(client)}' if client else ""
        request_id = current_request_id()
        id_part = f', "request_id": {encode(request_id)}' if request_id is not None else ""
        return (
            f'{{"method": {encode(method)}, "path": {encode(_redacted_path(path))}, '
            f'"route": {"null" if route is None else encode(route)}, "status": {int(status)}, '
            f'"duration_ms": {float(duration_ms)!r}{client_part}, "event": "request"{id_part}, '
            f'"level": "{_LEVEL_NAMES.get(level) or logging.getLevelName(level).lower()}", '
            f'"logger": "roo.access", "timestamp": "{self._timestamp()}"}}'
        )

    def _timestamp(self) -> str:
        """ISO 8601 UTC with microseconds, as structlog's TimeStamper(fmt="iso", utc=True)."""
        second, nanoseconds = divmod(time.time_ns(), 1_000_000_000)
        if second != self._second:
            self._second = second
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._second_text}.{nanoseconds // 1000:06d}Z"


ACCESS_LOG = AccessLog()
