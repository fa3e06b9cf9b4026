"""Scratch databases for tests (the helpers live in `roo.testing.databases`, which the
benchmarks use too)."""

from roo.testing.databases import delete_redis_prefix, is_postgres, scratch_database

__all__ = ["delete_redis_prefix", "is_postgres", "scratch_database"]
