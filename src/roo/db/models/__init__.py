"""All models, one concern per module. Importing this package registers every table on
`Base.metadata`, which Alembic's autogenerate and the model/migration agreement test rely on."""

from roo.db.base import Base
from roo.db.models.audit import AuditChain, AuditEvent
from roo.db.models.checkpoint import TaskCheckpoint
from roo.db.models.mcp_board import McpBoardEntry
from roo.db.models.provider_credential import ProviderCredential
from roo.db.models.session import Session
from roo.db.models.task import Task, TaskEvent, TaskMessage
from roo.db.models.token import ApiKey, RefreshToken, RevokedAccessToken
from roo.db.models.user import User, UserIdentity

__all__ = [
    "ApiKey",
    "AuditChain",
    "AuditEvent",
    "Base",
    "McpBoardEntry",
    "ProviderCredential",
    "RefreshToken",
    "RevokedAccessToken",
    "Session",
    "Task",
    "TaskCheckpoint",
    "TaskEvent",
    "TaskMessage",
    "User",
    "UserIdentity",
]
