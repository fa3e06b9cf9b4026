"""All models, one table per module. Importing this package registers every table on
`Base.metadata`, which Alembic's autogenerate and the model/migration agreement test rely on."""

from roo.db.base import Base

__all__ = ["Base"]
