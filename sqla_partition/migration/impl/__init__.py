"""What each operation executes: statements from :mod:`sqla_partition.sql`, nothing read.

Statements go through ``DDL`` constructs so ``alembic upgrade --sql`` prints them as they
would run, each with a comment naming the lock it takes. Importing this package registers
one implementation per operation.
"""

from __future__ import annotations

from . import audit, enums, indexes, lists, partitions, shards, tables

__all__ = ["audit", "enums", "indexes", "lists", "partitions", "shards", "tables"]
