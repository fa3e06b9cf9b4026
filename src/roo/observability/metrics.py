"""The service's Prometheus metrics, defined once (docs/observability.md lists them).

Metrics live in prometheus-client's default registry, as module-level objects: recording one is
a labelled increment or observation (a lock and an addition in one process; with
`PROMETHEUS_MULTIPROC_DIR` set, a write into this process's memory-mapped file), cheap enough for
every request. Labels stay low in cardinality: route *templates*, methods, status codes, policy
and reason names, provider names, and model ids the price table knows (any other model is
`other`: a custom base URL takes any model name, and each would be a new series).

Gauges say how processes combine under multiprocess mode (`roo serve --workers N`): `livesum`
adds up the processes still alive.
"""

from __future__ import annotations

import os

from prometheus_client import Counter, Gauge, Histogram

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Seconds; from a cached read to a slow request.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Seconds; a model's streamed answer, from a short reply to a long one.
LLM_BUCKETS = (0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0)
# Seconds; one audit write (a row, a round of refusal counts, a sealing round).
AUDIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)

HTTP_REQUESTS = Counter(
    "roo_http_requests",
    "HTTP requests answered, by route template, method and status code",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "roo_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by route template and method",
    ["route", "method"],
    buckets=HTTP_BUCKETS,
)
HTTP_IN_FLIGHT = Gauge(
    "roo_http_requests_in_flight",
    "HTTP requests in progress (counted by the in-flight limit; event streams only until "
    "their response starts)",
    multiprocess_mode="livesum",
)
HTTP_SHED = Counter(
    "roo_http_requests_shed",
    "HTTP requests refused with 503 because the process had too many in flight",
)
RATE_LIMITED = Counter(
    "roo_rate_limit_refusals",
    "Requests refused with 429 by a rate-limit policy",
    ["policy"],
)
WS_CONNECTIONS = Gauge(
    "roo_event_streams_open",
    "Open event streams (WebSockets and server-sent event streams)",
    multiprocess_mode="livesum",
)
EVENTS_APPENDED = Counter(
    "roo_task_events_appended",
    "Session events appended to the event log (rate() gives events per second)",
)
SANDBOX_KILLS = Counter(
    "roo_sandbox_kills",
    "Sandboxed commands ended by the sandbox, by reason (timeout, memory, disk, output, "
    "processes, cpu, cancelled)",
    ["reason"],
)
LLM_DURATION = Histogram(
    "roo_llm_request_duration_seconds",
    "Time from sending a model request to the end of its streamed response, by provider, "
    "model (ids the price table knows; any other is `other`) and outcome (ok or the error kind)",
    ["provider", "model", "outcome"],
    buckets=LLM_BUCKETS,
)
LLM_TOKENS = Counter(
    "roo_llm_tokens",
    "Tokens the providers reported, by provider, model and kind (input, output, cache_read, "
    "cache_write)",
    ["provider", "model", "kind"],
)
LLM_COST = Counter(
    "roo_llm_cost_dollars",
    "Cost of model requests by the price table, in US dollars, by provider and model (requests "
    "of models without prices add nothing)",
    ["provider", "model"],
)
AUDIT_WRITE = Histogram(
    "roo_audit_write_duration_seconds",
    "Audit writes outside a request's own unit of work: `row` (a row that must outlive a "
    "refused request, or a command's row), `denials` (a round of refusal counts), `seal` (a "
    "sealing round of the hash chain)",
    ["kind"],
    buckets=AUDIT_BUCKETS,
)
PROCESSES = Gauge(
    "roo_processes",
    "Processes of this service writing metrics (1 per API or worker process alive)",
    multiprocess_mode="livesum",
)


def multiprocess_dir() -> str | None:
    """The shared metrics directory when multiprocess mode is on (set before start-up)."""
    return os.environ.get(MULTIPROC_ENV) or None
