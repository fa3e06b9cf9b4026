"""Settings from the environment.

The names are the seed plan's (`PORT`, `DATABASE_URL`, `REDIS_URL`, `JWT_SECRET`, ...); roo-specific
knobs carry a `ROO_` prefix. With nothing set the service runs embedded: SQLite in `./var/`, no
Redis, and a development secret generated once and kept in `./var/`.
"""

from __future__ import annotations

import os
import secrets
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from limits import parse as limits_parse
from pydantic import (
    AliasChoices,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from roo.kit.urls import OAuthUrlChecks
from roo.security.egress import AllowedHosts

MIN_SECRET_BYTES = 32

# Secrets copied from examples and tutorials; refusing them in production is cheap insurance.
PLACEHOLDER_SECRETS = frozenset(
    {
        "your-secret-key",
        "your_secret_key",
        "secret",
        "changeme",
        "change-me",
        "change_me",
        "changeit",
        "password",
        "jwt-secret",
        "jwt_secret",
        "supersecret",
        "super-secret",
        "development",
        "test",
        "example",
    }
)


class ConfigError(Exception):
    """The configuration cannot start the service; the message is one line for the operator."""


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"
    TEST = "test"


def _env(name: str, *more: str) -> Any:
    return AliasChoices(name, *more)


class Settings(BaseSettings, OAuthUrlChecks):
    """All service configuration. Build it with `load_settings()`, not directly, in the service."""

    model_config = SettingsConfigDict(
        env_file=None, extra="ignore", case_sensitive=False, populate_by_name=True
    )

    env: Environment = Field(Environment.DEVELOPMENT, validation_alias=_env("ROO_ENV"))
    host: str = Field("127.0.0.1", validation_alias=_env("HOST", "ROO_HOST"))
    port: int = Field(3000, ge=1, le=65535, validation_alias=_env("PORT"))
    data_dir: Path = Field(Path("var"), validation_alias=_env("ROO_DATA_DIR"))

    database_url: str | None = Field(None, validation_alias=_env("DATABASE_URL"))
    db_pool_min: int = Field(2, ge=0, validation_alias=_env("DATABASE_POOL_MIN"))
    db_pool_max: int = Field(10, ge=1, validation_alias=_env("DATABASE_POOL_MAX"))
    # Seconds a unit of work waits for a connection (or, on SQLite, for its turn to write)
    # before the request is answered 503 service-overloaded.
    db_pool_timeout: float = Field(5.0, gt=0, le=60, validation_alias=_env("DATABASE_POOL_TIMEOUT"))
    # Seconds background work (a task run, its events, the runner's heartbeat, a job's claim)
    # waits for a connection or a turn to write before it fails: a request is answered 503 after
    # DATABASE_POOL_TIMEOUT, but a run that has done work keeps its place instead of failing.
    db_background_wait: float = Field(
        300.0, gt=0, le=86400, validation_alias=_env("DATABASE_BACKGROUND_WAIT")
    )
    # Once started, the objects made at start-up (modules, the app, its routes and schemas:
    # most of the heap) are moved out of the garbage collector's sight (`gc.freeze()`), so its
    # full collections stop walking them again and again under load (bench/README.md,
    # "gc.freeze"). Put back at shutdown.
    gc_freeze: bool = Field(True, validation_alias=_env("ROO_GC_FREEZE"))
    # Debug aid: a connection held longer than this many seconds is logged with where it was
    # checked out (and every holder is logged when the pool runs dry). 0: off.
    db_hold_warn_seconds: float = Field(
        0.0, ge=0, validation_alias=_env("ROO_DB_HOLD_WARN_SECONDS")
    )
    # PostgreSQL ends a connection left idle inside a transaction this long (seconds; 0: never),
    # releasing its locks: nothing here waits inside a transaction, but a process that is
    # paused or cut off mid-transaction would otherwise block every writer of those rows
    db_idle_in_transaction_timeout: float = Field(
        15.0, ge=0, le=86400, validation_alias=_env("DATABASE_IDLE_IN_TRANSACTION_TIMEOUT")
    )
    db_echo: bool = Field(False, validation_alias=_env("DATABASE_ECHO"))
    # None: migrate on start-up in embedded mode (SQLite), not against a shared server.
    auto_migrate: bool | None = Field(None, validation_alias=_env("ROO_AUTO_MIGRATE"))

    redis_url: str | None = Field(None, validation_alias=_env("REDIS_URL"))
    # Every Redis key roo writes starts with this, so several deployments (or test runs) can
    # share one Redis without seeing each other's data.
    redis_prefix: str = Field("roo:", min_length=1, validation_alias=_env("ROO_REDIS_PREFIX"))

    jwt_secret: SecretStr | None = Field(None, validation_alias=_env("JWT_SECRET"))
    # Encrypts provider credentials at rest (roo.security.secrets_box, docs/providers.md): a
    # Fernet key, or any string of at least 32 bytes (a key is derived from it with HKDF).
    # None: derived from JWT_SECRET in production, generated and kept in ROO_DATA_DIR otherwise.
    encryption_key: SecretStr | None = Field(None, validation_alias=_env("ROO_ENCRYPTION_KEY"))
    # Retired encryption keys, comma-separated: they still decrypt, never encrypt (rotation).
    encryption_key_previous: SecretStr | None = Field(
        None, validation_alias=_env("ROO_ENCRYPTION_KEY_PREVIOUS")
    )
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://localhost:3000"],
        validation_alias=_env("ALLOWED_ORIGINS"),
    )

    oauth_google_client_id: str | None = Field(
        None, validation_alias=_env("OAUTH_GOOGLE_CLIENT_ID")
    )
    oauth_google_client_secret: SecretStr | None = Field(
        None, validation_alias=_env("OAUTH_GOOGLE_CLIENT_SECRET")
    )
    oauth_github_client_id: str | None = Field(
        None, validation_alias=_env("OAUTH_GITHUB_CLIENT_ID")
    )
    oauth_github_client_secret: SecretStr | None = Field(
        None, validation_alias=_env("OAUTH_GITHUB_CLIENT_SECRET")
    )
    # GitHub Enterprise Server (or a test double): its OAuth and REST API URLs.
    oauth_github_authorize_url: str = Field(
        "https://github.com/login/oauth/authorize",
        validation_alias=_env("OAUTH_GITHUB_AUTHORIZE_URL"),
    )
    oauth_github_token_url: str = Field(
        "https://github.com/login/oauth/access_token",
        validation_alias=_env("OAUTH_GITHUB_TOKEN_URL"),
    )
    oauth_github_api_url: str = Field(
        "https://api.github.com", validation_alias=_env("OAUTH_GITHUB_API_URL")
    )
    oauth_google_discovery_url: str = Field(
        "https://accounts.google.com/.well-known/openid-configuration",
        validation_alias=_env("OAUTH_GOOGLE_DISCOVERY_URL"),
    )
    # Any OpenID Connect issuer, by its discovery document (provider name `oidc`).
    oauth_oidc_discovery_url: str | None = Field(
        None, validation_alias=_env("OAUTH_OIDC_DISCOVERY_URL")
    )
    oauth_oidc_client_id: str | None = Field(None, validation_alias=_env("OAUTH_OIDC_CLIENT_ID"))
    oauth_oidc_client_secret: SecretStr | None = Field(
        None, validation_alias=_env("OAUTH_OIDC_CLIENT_SECRET")
    )
    oauth_oidc_name: str = Field(
        "OpenID Connect", min_length=1, max_length=100, validation_alias=_env("OAUTH_OIDC_NAME")
    )
    # The service's external base URL; OAuth redirect URIs are built from it.
    # None: http://127.0.0.1:{PORT}.
    public_url: str | None = Field(None, validation_alias=_env("ROO_PUBLIC_URL"))
    # Where the browser goes after an OAuth sign-in, the tokens in the URL fragment.
    # None: the callback answers JSON.
    oauth_frontend_redirect: str | None = Field(
        None, validation_alias=_env("ROO_OAUTH_FRONTEND_REDIRECT")
    )

    # -- identity -------------------------------------------------------------------------
    jwt_issuer: str = Field("roo-core", min_length=1, validation_alias=_env("ROO_JWT_ISSUER"))
    jwt_audience: str = Field("roo-api", min_length=1, validation_alias=_env("ROO_JWT_AUDIENCE"))
    access_token_ttl_seconds: int = Field(
        3600, ge=60, le=86400, validation_alias=_env("ROO_ACCESS_TOKEN_TTL")
    )
    refresh_token_ttl_seconds: int = Field(
        7 * 86400, ge=300, validation_alias=_env("ROO_REFRESH_TOKEN_TTL")
    )
    # A retired refresh token presented again within this many seconds of its use is refused
    # without revoking its family: two tabs refreshing at once are a race, not a theft.
    refresh_reuse_grace_seconds: int = Field(
        10, ge=0, le=60, validation_alias=_env("ROO_REFRESH_REUSE_GRACE")
    )
    # None: allowed in development and test, refused in production.
    allow_registration: bool | None = Field(None, validation_alias=_env("ROO_ALLOW_REGISTRATION"))
    # Failed sign-ins (roo.auth.throttle, docs/authentication.md): failures are remembered for
    # the window; from its N-th failure on, an (account, address) pair, or an address, waits a
    # delay doubling at each further failure (base, 2 base, 4 base... at most the max). A right
    # password from an address without failures of its own is never refused.
    login_max_failures_per_pair: int = Field(
        5, ge=1, validation_alias=_env("ROO_LOGIN_MAX_FAILURES_PER_PAIR")
    )
    # Failures from one address on any accounts from which the address waits (accounts that
    # signed in from it before are exempt, see login_known_address_seconds).
    login_max_failures_per_ip: int = Field(
        20, ge=1, validation_alias=_env("ROO_LOGIN_MAX_FAILURES_PER_IP")
    )
    # Failures on one account from all addresses together past which every address that fails
    # on it waits from its first failure on it (a distributed attack). Before this release it
    # locked the account itself out; it no longer refuses an address without failures.
    login_max_failures_per_account: int = Field(
        10, ge=1, validation_alias=_env("ROO_LOGIN_MAX_FAILURES_PER_ACCOUNT")
    )
    login_failure_window_seconds: int = Field(
        21600, ge=1, validation_alias=_env("ROO_LOGIN_FAILURE_WINDOW")
    )
    login_backoff_base_seconds: int = Field(
        1, ge=1, le=3600, validation_alias=_env("ROO_LOGIN_BACKOFF_BASE")
    )
    login_backoff_max_seconds: int = Field(
        900, ge=1, le=86400, validation_alias=_env("ROO_LOGIN_BACKOFF_MAX")
    )
    # An account that signed in from an address is exempt from that address's delay this long
    # (0: never exempt); its own pair's delays still apply.
    login_known_address_seconds: int = Field(
        30 * 86400, ge=0, validation_alias=_env("ROO_LOGIN_KNOWN_ADDRESS_TTL")
    )
    # Self-registrations one client address may attempt (new or taken address alike) within
    # the window: registration answers the same either way, this bounds how fast it is asked.
    register_max_per_ip: int = Field(10, ge=1, validation_alias=_env("ROO_REGISTER_MAX_PER_IP"))
    register_window_seconds: int = Field(3600, ge=1, validation_alias=_env("ROO_REGISTER_WINDOW"))
    # Live (neither revoked nor expired) API keys one user may hold: each is a credential to
    # audit and to revoke, and the key list is not paged (OWASP API4/API6: without a bound, a
    # script mints keys for ever).
    api_keys_max_per_user: int = Field(
        100, ge=1, le=10_000, validation_alias=_env("ROO_API_KEYS_MAX_PER_USER")
    )
    identity_cache_ttl_seconds: int = Field(
        60, ge=0, validation_alias=_env("ROO_IDENTITY_CACHE_TTL")
    )
    # With Redis: keep what identity checks read in process memory too, kept coherent by a
    # pub/sub channel (roo.kit.cache.NearCache), so a request costs no Redis round trip.
    identity_near_cache: bool = Field(True, validation_alias=_env("ROO_IDENTITY_NEAR_CACHE"))

    # -- sessions and workspaces --------------------------------------------------------------
    # None: <ROO_DATA_DIR>/workspaces
    workspace_root: Path | None = Field(None, validation_alias=_env("WORKSPACE_ROOT"))
    session_idle_after_seconds: int = Field(
        3600, ge=1, validation_alias=_env("ROO_SESSION_IDLE_AFTER")
    )
    session_idle_ttl_seconds: int = Field(
        7 * 86400, ge=60, validation_alias=_env("SESSION_IDLE_TTL")
    )
    workspace_retention_seconds: int = Field(
        30 * 86400, ge=0, validation_alias=_env("WORKSPACE_RETENTION")
    )
    cleanup_interval_seconds: float = Field(
        300, gt=0, validation_alias=_env("ROO_CLEANUP_INTERVAL")
    )
    # Files, directories and links a workspace may hold when its session asks for no
    # `maxFiles` (bounded by the owner's role quota, like the other limits).
    session_max_files: int = Field(100_000, ge=1, validation_alias=_env("ROO_SESSION_MAX_FILES"))

    # Let users fill a workspace with `git clone` (the clone gets network access): off unless
    # the operator turns it on.
    allow_git_clone: bool = Field(False, validation_alias=_env("ROO_ALLOW_GIT_CLONE"))
    # Let sessions turn on network access for their commands. The sandbox then shares the host's
    # network (loopback included): allow it only where an egress firewall confines commands.
    allow_session_network: bool = Field(False, validation_alias=_env("ROO_ALLOW_SESSION_NETWORK"))

    # -- sandbox for commands (docs/sandbox.md) ------------------------------------------------
    sandbox_backend: Literal["auto", "bwrap", "plain"] = Field(
        "auto", validation_alias=_env("ROO_SANDBOX_BACKEND")
    )
    # None: isolation (bubblewrap) is required in production only.
    sandbox_require_isolation: bool | None = Field(
        None, validation_alias=_env("ROO_SANDBOX_REQUIRE_ISOLATION")
    )
    # cgroup v2 only: a group delegated to the service (systemd Delegate=yes).
    sandbox_cgroup_parent: Path | None = Field(
        None, validation_alias=_env("ROO_SANDBOX_CGROUP_PARENT")
    )
    # A session runs at most maxConcurrentTasks commands at once; one more waits this long for
    # a running one to end, then is refused (429 from the API, a tool error for the agent).
    command_slot_wait_seconds: float = Field(
        2.0, ge=0, le=60, validation_alias=_env("ROO_COMMAND_SLOT_WAIT")
    )

    # -- MCP servers of sessions (docs/mcp.md) -------------------------------------------------
    # Seconds a server has to start and list its tools (stdio: in the sandbox; remote: connect)
    mcp_start_timeout_seconds: float = Field(
        30.0, gt=0, le=600, validation_alias=_env("ROO_MCP_START_TIMEOUT")
    )
    # A session's servers stop after this long without a call (None: the session idle time,
    # ROO_SESSION_IDLE_AFTER)
    mcp_idle_seconds: float | None = Field(
        None, gt=0, validation_alias=_env("ROO_MCP_IDLE_SECONDS")
    )
    # A server that failed to start or crashed is started again by the first call after this
    mcp_retry_seconds: float = Field(30.0, ge=0, validation_alias=_env("ROO_MCP_RETRY_SECONDS"))
    # Host directories shown read-only in every sandbox, "/sandbox/path=/host/path,..." (a
    # toolchain for stdio MCP servers and commands: node, python packages under /opt)
    sandbox_ro_binds: Annotated[dict[str, Path], NoDecode] = Field(
        default_factory=dict, validation_alias=_env("ROO_SANDBOX_RO_BINDS")
    )

    # Largest non-JSON request body (file uploads, archives); JSON has its own limit below.
    max_upload_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, validation_alias=_env("ROO_MAX_UPLOAD_BYTES")
    )
    max_json_body_bytes: int = Field(
        1024 * 1024, ge=1024, validation_alias=_env("ROO_MAX_JSON_BODY_BYTES")
    )
    # Overload: requests beyond this many in flight in one process are answered 503 at once
    # (health probes excepted), so that the accepted ones keep their latency. 0: no cap.
    max_requests_in_flight: int = Field(
        32, ge=0, validation_alias=_env("ROO_MAX_REQUESTS_IN_FLIGHT")
    )
    # Password hashes (argon2id, 64 MiB each) computed at once per process; None: one per
    # core. A sign-in that waits longer than the wait for its turn is answered 503.
    password_hash_concurrency: int | None = Field(
        None, ge=1, validation_alias=_env("ROO_PASSWORD_HASH_CONCURRENCY")
    )
    # Argon2id parameters: "rfc9106" (t=3, 64 MiB, p=4) or "owasp" (t=2, 19 MiB, p=1); what
    # each costs is in docs/authentication.md. Stored hashes move to it at their next sign-in.
    password_hash_profile: Literal["rfc9106", "owasp"] = Field(
        "rfc9106", validation_alias=_env("ROO_PASSWORD_HASH_PROFILE")
    )
    password_hash_wait_seconds: float = Field(
        3.0, gt=0, validation_alias=_env("ROO_PASSWORD_HASH_WAIT")
    )
    # The Redis client's connection pool: at most this many connections; a command waits up to
    # the timeout for one (then 503) instead of failing at once.
    redis_max_connections: int = Field(64, ge=1, validation_alias=_env("ROO_REDIS_MAX_CONNECTIONS"))
    redis_pool_timeout: float = Field(5.0, gt=0, validation_alias=_env("ROO_REDIS_POOL_TIMEOUT"))
    log_level: str = Field("INFO", validation_alias=_env("LOG_LEVEL", "ROO_LOG_LEVEL"))
    # None: JSON in production, human-readable otherwise.
    log_json: bool | None = Field(None, validation_alias=_env("ROO_LOG_JSON"))
    http_timeout_seconds: float = Field(30.0, gt=0, validation_alias=_env("ROO_HTTP_TIMEOUT"))
    # FastAPI's OpenTelemetry bridge (traces, metrics, logs to the configured providers). Off
    # by default: with the OpenTelemetry API installed it checks the providers on every request.
    opentelemetry: bool = Field(False, validation_alias=_env("ROO_OPENTELEMETRY"))

    # Agent tasks. Service-wide provider defaults use the SDKs' own variable names; a user's
    # stored credentials (PUT /api/v1/auth/providers/{provider}) take precedence.
    anthropic_api_key: SecretStr | None = Field(None, validation_alias=_env("ANTHROPIC_API_KEY"))
    anthropic_base_url: str | None = Field(None, validation_alias=_env("ANTHROPIC_BASE_URL"))
    openai_api_key: SecretStr | None = Field(None, validation_alias=_env("OPENAI_API_KEY"))
    openai_base_url: str | None = Field(None, validation_alias=_env("OPENAI_BASE_URL"))
    # Hosts a user's own base URL may reach although they are not public (loopback, private,
    # link-local...): comma-separated names (exact), IP addresses or CIDR ranges. The service's
    # own base URLs above are trusted as set.
    provider_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_env("ROO_PROVIDER_ALLOWED_HOSTS")
    )
    default_provider: Literal["anthropic", "openai"] | None = Field(
        None, validation_alias=_env("ROO_DEFAULT_PROVIDER")
    )
    default_model: str | None = Field(None, validation_alias=_env("ROO_DEFAULT_MODEL"))
    # A JSON price/model table merged over the built-in one (same shape as roo/agent/models.json)
    model_table_file: Path | None = Field(None, validation_alias=_env("ROO_MODEL_TABLE"))
    llm_timeout_seconds: float = Field(600.0, gt=0, validation_alias=_env("ROO_LLM_TIMEOUT"))
    # Retries after a 429, 5xx or connection error: delay = base * 2^attempt (Roo's backoff)
    llm_retry_attempts: int = Field(3, ge=0, le=20, validation_alias=_env("ROO_LLM_RETRIES"))
    llm_retry_base_delay: float = Field(
        5.0, ge=0, le=600, validation_alias=_env("ROO_LLM_RETRY_BASE_DELAY")
    )
    task_create_limit: str = Field("5/minute", validation_alias=_env("ROO_TASK_CREATE_LIMIT"))
    task_max_requests: int | None = Field(
        None, ge=1, validation_alias=_env("ROO_TASK_MAX_REQUESTS")
    )
    task_max_cost: float | None = Field(None, gt=0, validation_alias=_env("ROO_TASK_MAX_COST"))
    task_max_wall_seconds: float | None = Field(
        4 * 3600, gt=0, validation_alias=_env("ROO_TASK_MAX_WALL_TIME")
    )
    task_mistake_limit: int = Field(3, ge=0, validation_alias=_env("ROO_TASK_MISTAKE_LIMIT"))
    # Roo's autoCondenseContext: summarise the conversation (the task's model) when the context
    # passes the threshold, before falling back to the sliding window
    task_auto_condense: bool = Field(True, validation_alias=_env("ROO_TASK_AUTO_CONDENSE"))
    # Roo's autoCondenseContextPercent: also condense from this % of the context window on
    # (100, Roo's default: only at the window x 0.9 minus the reply's reserve)
    task_auto_condense_percent: int = Field(
        100, ge=5, le=100, validation_alias=_env("ROO_TASK_AUTO_CONDENSE_PERCENT")
    )
    # The rules files (.roo/rules*, .roorules*, AGENTS.md...) a task's system prompt takes, in
    # bytes all together; the file that crosses the limit is cut with a note (docs/tasks.md)
    task_rules_max_bytes: int = Field(
        64 * 1024, ge=0, le=1024 * 1024, validation_alias=_env("ROO_TASK_RULES_MAX_BYTES")
    )
    # Where tasks run: `inprocess` (the API process that created them; embedded mode) or `queue`
    # (a procrastinate job on PostgreSQL, taken by any `roo worker`; API processes run none)
    task_runner: Literal["inprocess", "queue"] = Field(
        "inprocess", validation_alias=_env("ROO_TASK_RUNNER")
    )
    # The job queue's name: deployments (or test runs) sharing a database keep their own
    task_queue: str = Field(
        "roo-tasks", min_length=1, max_length=100, validation_alias=_env("ROO_TASK_QUEUE")
    )
    # A worker told to stop (SIGTERM) takes no more jobs and gives its runs this long to reach
    # a checkpoint before it hands them back `interrupted` (resumable) anyway
    worker_shutdown_grace_seconds: float = Field(
        20.0, ge=0, le=3600, validation_alias=_env("ROO_WORKER_SHUTDOWN_GRACE")
    )
    # Tasks one process (in queue mode: one worker) runs at once; more wait `queued`
    max_running_tasks: int = Field(
        32, ge=1, le=10_000, validation_alias=_env("ROO_MAX_RUNNING_TASKS")
    )
    # A task waiting for an approval or an answer longer than this is cancelled
    task_wait_timeout_seconds: float = Field(
        3600, gt=0, validation_alias=_env("ROO_TASK_WAIT_TIMEOUT")
    )
    # Runners refresh their tasks' heartbeat this often; 3 missed beats mark a task interrupted
    task_heartbeat_seconds: float = Field(10.0, gt=0, validation_alias=_env("ROO_TASK_HEARTBEAT"))
    # A process reads its runs' inboxes (mail from other processes) when woken by a push
    # (Redis pub/sub, PostgreSQL NOTIFY) and this often anyway, in case a wake-up was lost
    task_inbox_poll_seconds: float = Field(
        0.5, gt=0, le=3600, validation_alias=_env("ROO_TASK_INBOX_POLL")
    )
    # A server-sent events stream (GET .../events with Accept: text/event-stream) sends a
    # comment this often when no event came, so proxies and clients see the stream alive
    sse_heartbeat_seconds: float = Field(
        15.0, gt=0, validation_alias=_env("ROO_SSE_HEARTBEAT_SECONDS")
    )
    # API rate limits (roo.security.rate_limits, docs/security.md): `limits` notation, e.g.
    # "1200/minute" or "100/15 minutes"; per user or API key, per address on the sign-in
    # routes, per address for other anonymous requests. ROO_RATE_LIMIT=false turns them off.
    rate_limit_enabled: bool = Field(True, validation_alias=_env("ROO_RATE_LIMIT"))
    rate_limit_user: str = Field("1200/minute", validation_alias=_env("ROO_RATE_LIMIT_USER"))
    rate_limit_auth: str = Field("30/minute", validation_alias=_env("ROO_RATE_LIMIT_AUTH"))
    rate_limit_anonymous: str = Field(
        "100/15 minutes", validation_alias=_env("ROO_RATE_LIMIT_ANONYMOUS")
    )
    # Issue #16, per-session and WebSocket budgets (roo.security.session_limits,
    # docs/security.md "Budgets of a session's tools and commands, and of the WebSocket"):
    # tool calls per session (the agent's and the tools API's), commands started per session
    # (every sandboxed process), WebSocket connects per user. Off with ROO_RATE_LIMIT=false.
    rate_limit_session_tools: str = Field(
        "300/minute", validation_alias=_env("ROO_RATE_LIMIT_SESSION_TOOLS")
    )
    rate_limit_session_commands: str = Field(
        "120/minute", validation_alias=_env("ROO_RATE_LIMIT_SESSION_COMMANDS")
    )
    rate_limit_ws_connect: str = Field(
        "60/minute", validation_alias=_env("ROO_RATE_LIMIT_WS_CONNECT")
    )
    # WebSocket connection attempts per client address, counted before any credential is read
    # (every socket is anonymous until then; docs/security.md says why not the anonymous one)
    rate_limit_ws_attempts: str = Field(
        "120/minute", validation_alias=_env("ROO_RATE_LIMIT_WS_ATTEMPTS")
    )
    # The audit trail (roo.security.audit_chain, docs/security.md): how often unsealed rows are
    # sealed into the hash chain, and how many days rows are kept (0: forever; a cut leaves
    # an anchor row, so the rest still verifies)
    audit_seal_interval_seconds: float = Field(
        1.0, gt=0, le=3600, validation_alias=_env("ROO_AUDIT_SEAL_INTERVAL")
    )
    audit_retention_days: float = Field(
        0, ge=0, le=36500, validation_alias=_env("ROO_AUDIT_RETENTION_DAYS")
    )
    # Strict-Transport-Security on answers served over TLS (or forwarded as https by a proxy
    # in TRUSTED_PROXIES): seconds (max-age) or a full header value ("max-age=63072000;
    # includeSubDomains"); unset or 0: no header (roo.api.headers, docs/security.md)
    hsts: str | None = Field(None, validation_alias=_env("ROO_HSTS"))
    # Addresses (or networks) of reverse proxies whose X-Forwarded-For is believed; empty: the
    # client address is always the socket's (no header can change it)
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_env("TRUSTED_PROXIES")
    )
    # WebSocket (docs/realtime.md). The server pings every ws_ping_seconds (the WebSocket
    # protocol's ping, by uvicorn) and closes a connection whose pong is that late again.
    ws_ping_seconds: float = Field(20.0, gt=0, validation_alias=_env("ROO_WS_PING_SECONDS"))
    # permessage-deflate on WebSockets: less traffic, ~44 KiB more memory per connection and
    # ~9 us more CPU per message (bench/realtime.py); off by default, as Socket.IO does
    ws_compression: bool = Field(False, validation_alias=_env("ROO_WS_COMPRESSION"))
    # Open event streams (WebSockets and SSE streams together) one user may hold per process
    ws_max_connections_per_user: int = Field(
        20, ge=1, le=10_000, validation_alias=_env("ROO_WS_MAX_CONNECTIONS_PER_USER")
    )
    # A ws-ticket (POST .../ws-ticket) is valid this long, for one use
    ws_ticket_seconds: float = Field(
        30.0, gt=0, le=300, validation_alias=_env("ROO_WS_TICKET_SECONDS")
    )
    # Without a ticket, the first message must authenticate within this time
    ws_auth_timeout_seconds: float = Field(
        5.0, gt=0, le=60, validation_alias=_env("ROO_WS_AUTH_TIMEOUT_SECONDS")
    )
    # Messages waiting to be sent to one client; a client that lets it fill is closed (4408)
    ws_send_queue: int = Field(256, ge=8, le=100_000, validation_alias=_env("ROO_WS_SEND_QUEUE"))
    # An open socket's credential is checked again this often (logout, revocation, roles)
    ws_recheck_seconds: float = Field(10.0, gt=0, validation_alias=_env("ROO_WS_RECHECK_SECONDS"))
    # Client messages per second per connection (bursts of twice as many); beyond, each gets a
    # 429 error, and a client that keeps flooding for a second's worth is closed (1008)
    ws_messages_per_second: float = Field(
        20.0, gt=0, validation_alias=_env("ROO_WS_MESSAGES_PER_SECOND")
    )
    # Command output a task's events keep per tool call (never more than the session's
    # maxOutputBytes, what the model gets); the rest is counted in the call's `end` event.
    task_output_event_bytes: int = Field(
        1024 * 1024, ge=1024, validation_alias=_env("ROO_TASK_OUTPUT_EVENT_BYTES")
    )
    # A long command output kept whole (up to this) for read_command_output, in a private
    # temporary directory of the run, deleted when the run ends (0: none kept).
    task_command_output_bytes: int = Field(
        16 * 1024 * 1024, ge=0, validation_alias=_env("ROO_TASK_COMMAND_OUTPUT_BYTES")
    )

    # -- checkpoints (docs/checkpoints.md) ------------------------------------------------------
    # A snapshot of the workspace before every step that writes to it, in a shadow git
    # repository per session kept outside the workspace.
    checkpoints_enabled: bool = Field(True, validation_alias=_env("ROO_CHECKPOINTS"))
    # None: <ROO_DATA_DIR>/checkpoints (one directory per session)
    checkpoints_dir: Path | None = Field(None, validation_alias=_env("ROO_CHECKPOINTS_DIR"))
    # A session's shadow repository past this size takes no more checkpoints
    checkpoint_max_bytes: int = Field(
        512 * 1024 * 1024, ge=1024 * 1024, validation_alias=_env("ROO_CHECKPOINT_MAX_BYTES")
    )
    # Files larger than this are left out of checkpoints (as Roo's rules leave out media,
    # archives, databases and build output)
    checkpoint_file_max_bytes: int = Field(
        5 * 1024 * 1024, ge=1024, validation_alias=_env("ROO_CHECKPOINT_FILE_MAX_BYTES")
    )
    # One save, diff or restore (Roo's checkpointTimeout, 15 s by default)
    checkpoint_timeout_seconds: float = Field(
        15.0, gt=0, le=600, validation_alias=_env("ROO_CHECKPOINT_TIMEOUT")
    )

    # Where the JWT secret came from, for the start-up log: JWT_SECRET, a file, or ephemeral.
    _secret_source: str = PrivateAttr("JWT_SECRET")

    @field_validator(
        "rate_limit_user",
        "rate_limit_auth",
        "rate_limit_anonymous",
        "rate_limit_session_tools",
        "rate_limit_session_commands",
        "rate_limit_ws_connect",
        "rate_limit_ws_attempts",
    )
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        try:
            limits_parse(value)
        except ValueError:
            raise ValueError(f"not a rate limit: {value!r} (e.g. '1200/minute')") from None
        return value

    @field_validator("sandbox_ro_binds", mode="before")
    @classmethod
    def _split_binds(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        binds: dict[str, str] = {}
        for part in value.split(","):
            if not part.strip():
                continue
            dest, sep, src = part.strip().partition("=")
            if not sep or not dest.startswith("/") or not src.startswith("/"):
                raise ValueError(f"{part.strip()!r} is not /sandbox/path=/host/path")
            binds[dest] = src
        return binds

    @field_validator("hsts", mode="before")
    @classmethod
    def _check_hsts(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and value.strip() in {"", "0"}):
            return None
        text = str(value).strip()
        if text.isdigit():
            return f"max-age={text}"
        if not text.lower().startswith("max-age=") or not text[8:].split(";")[0].isdigit():
            raise ValueError(f"not an HSTS value: {text!r} (e.g. 63072000 or 'max-age=63072000')")
        return text

    @field_validator("allowed_origins", "provider_allowed_hosts", "trusted_proxies", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("provider_allowed_hosts")
    @classmethod
    def _check_allowed_hosts(cls, value: list[str]) -> list[str]:
        AllowedHosts.parse(value)  # raises on a malformed entry, naming it
        return value

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("encryption_key", "encryption_key_previous")
    @classmethod
    def _check_encryption_keys(cls, value: SecretStr | None, info: ValidationInfo) -> Any:
        if value is None:
            return None
        keys = (
            split_keys(value)
            if info.field_name == "encryption_key_previous"
            else [value.get_secret_value()]
        )
        if any(len(key.encode()) < MIN_SECRET_BYTES for key in keys):
            raise ValueError(f"must be a Fernet key or at least {MIN_SECRET_BYTES} bytes")
        return value

    @field_validator("database_url")
    @classmethod
    def _normalise_db_url(cls, value: str | None) -> str | None:
        return None if value is None or not value.strip() else normalise_database_url(value)

    @field_validator(
        "redis_url",
        "jwt_secret",
        "encryption_key",
        "encryption_key_previous",
        "oauth_google_client_id",
        "oauth_google_client_secret",
        "oauth_github_client_id",
        "oauth_github_client_secret",
        "oauth_oidc_discovery_url",
        "oauth_oidc_client_id",
        "oauth_oidc_client_secret",
        "public_url",
        "oauth_frontend_redirect",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    # -- derived values -------------------------------------------------------------------

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def db_url(self) -> str:
        """The effective SQLAlchemy URL: DATABASE_URL, else SQLite in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'roo.db').as_posix()}"

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")

    @property
    def should_auto_migrate(self) -> bool:
        return self.is_sqlite if self.auto_migrate is None else self.auto_migrate

    @property
    def workspaces_dir(self) -> Path:
        return self.workspace_root or self.data_dir / "workspaces"

    @property
    def sandbox_isolation_required(self) -> bool:
        if self.sandbox_require_isolation is None:
            return self.is_production
        return self.sandbox_require_isolation

    @property
    def registration_open(self) -> bool:
        if self.allow_registration is None:
            return not self.is_production
        return self.allow_registration

    @property
    def secret_source(self) -> str:
        return self._secret_source

    @property
    def wants_json_logs(self) -> bool:
        return self.is_production if self.log_json is None else self.log_json

    def secret_problem(self) -> str | None:
        """Why the JWT secret is unacceptable in production, or None when it is fine."""
        if self.jwt_secret is None:
            return f"JWT_SECRET is not set (it needs at least {MIN_SECRET_BYTES} bytes)"
        raw = self.jwt_secret.get_secret_value()
        if raw.strip().lower() in PLACEHOLDER_SECRETS or len(set(raw)) < 4:
            return "JWT_SECRET is a placeholder value; generate one (e.g. `openssl rand -hex 32`)"
        if len(raw.encode()) < MIN_SECRET_BYTES:
            return (
                f"JWT_SECRET is too short ({len(raw.encode())} bytes, at least {MIN_SECRET_BYTES})"
            )
        return None

    def production_problems(self) -> list[str]:
        problems: list[str] = []
        if (secret := self.secret_problem()) is not None:
            problems.append(secret)
        if not self.database_url:
            problems.append("DATABASE_URL is not set (production needs an explicit database)")
        return problems


def normalise_database_url(url: str) -> str:
    """Map the usual URL spellings onto the async drivers roo uses (asyncpg, aiosqlite)."""
    url = url.strip()
    for prefix in (
        "postgres://",
        "postgresql://",
        "postgresql+psycopg://",
        "postgresql+psycopg2://",
    ):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith("sqlite://") and not url.startswith("sqlite+aiosqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    return url


def split_keys(value: SecretStr) -> list[str]:
    """The keys of a comma-separated key setting (`ROO_ENCRYPTION_KEY_PREVIOUS`)."""
    return [part.strip() for part in value.get_secret_value().split(",") if part.strip()]


# The generated development signing secret, in ROO_DATA_DIR.
DEV_JWT_SECRET_FILE = "jwt-secret"  # noqa: S105 - a file name


def dev_secret(data_dir: Path, name: str = DEV_JWT_SECRET_FILE) -> SecretStr:
    """Read, or create once (mode 0600), a generated secret kept beside the embedded database:
    the development signing secret, the development encryption key."""
    path = data_dir / name
    if (found := _read_secret(path)) is not None:
        return found
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)  # roo.security.datadir tightens
    value = secrets.token_urlsafe(48)
    # Written whole to a private file, then linked into place: processes starting at once
    # (several workers) never read a half-written secret, and they all keep the first one.
    tmp = data_dir / f".{name}.{secrets.token_hex(6)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(value + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            if (found := _read_secret(path)) is not None:
                return found
            os.replace(tmp, path)  # an unusable (empty, too short) file: replace it
        except OSError:  # a file system without hard links
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return SecretStr(value)


def _read_secret(path: Path) -> SecretStr | None:
    try:
        value = path.read_text().strip()
    except FileNotFoundError:
        return None
    return SecretStr(value) if len(value.encode()) >= MIN_SECRET_BYTES else None


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        name = ".".join(str(p) for p in item["loc"]) or "settings"
        field = Settings.model_fields.get(name)
        alias = field.validation_alias if field else None
        if isinstance(alias, AliasChoices):
            name = str(alias.choices[0])
        parts.append(f"{name.upper()}: {item['msg']}")
    return "; ".join(parts)


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment (plus overrides) and check them for the environment.

    Raises ConfigError with one line naming everything that is wrong.
    """
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(f"invalid configuration: {_describe(exc)}") from None
    if settings.task_runner == "queue" and (settings.is_sqlite or not settings.database_url):
        raise ConfigError(
            "ROO_TASK_RUNNER=queue needs PostgreSQL (DATABASE_URL): the job queue lives there"
        )
    if settings.is_production:
        problems = settings.production_problems()
        if problems:
            raise ConfigError("refusing to start in production: " + "; ".join(problems))
    elif settings.jwt_secret is None:
        # Development keeps one generated secret across restarts; tests get a fresh one.
        secret = (
            SecretStr(secrets.token_urlsafe(48))
            if settings.env is Environment.TEST
            else dev_secret(settings.data_dir)
        )
        settings = settings.model_copy(update={"jwt_secret": secret})
        settings._secret_source = (
            "ephemeral (test)"
            if settings.env is Environment.TEST
            else f"generated, kept in {settings.data_dir / DEV_JWT_SECRET_FILE}"
        )
    return settings
