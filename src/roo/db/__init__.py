"""Database access: the async engine and sessions, the models, and the Alembic migrations."""
