"""Indexes built without blocking writes, rebuilt, and recommended with a reason."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from alembic.operations import MigrateOperation, Operations
from alembic.operations.ops import DropIndexOp

if TYPE_CHECKING:
    pass


@Operations.register_operation("create_partitioned_index")
class CreatePartitionedIndexOp(MigrateOperation):
    """An index on a partitioned table, built without blocking writes.

    ``CREATE INDEX … ON ONLY`` the parent, ``CREATE INDEX CONCURRENTLY`` on each partition,
    ``ALTER INDEX … ATTACH PARTITION`` each; the parent's index is valid after the last.
    A rerun finishes a half-built index. Online the partitions are read when it runs;
    ``partitions`` (``(name, parent, partitioned)``, captured by autogenerate) serve
    ``--sql``.
    """

    partitioned: ClassVar[bool] = True

    def __init__(
        self,
        index_name: str,
        table_name: str,
        columns: Sequence[str],
        *,
        unique: bool = False,
        schema: str | None = None,
        postgresql_using: str | None = None,
        partitions: Sequence[Sequence[Any]] = (),
    ) -> None:
        self.index_name = index_name
        self.table_name = table_name
        self.columns = tuple(columns)
        self.unique = unique
        self.schema = schema
        self.postgresql_using = postgresql_using
        self.partitions = tuple(tuple(p) for p in partitions)

    @classmethod
    def create_partitioned_index(
        cls,
        operations: Operations,
        index_name: str,
        table_name: str,
        columns: Sequence[str],
        **kw: Any,
    ) -> None:
        """Build ``index_name`` on every partition of ``table_name`` without blocking writes."""
        operations.invoke(cls(index_name, table_name, columns, **kw))

    def reverse(self) -> DropIndexOp:
        return DropIndexOp(self.index_name, table_name=self.table_name, schema=self.schema)

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("add_partitioned_index", self.schema, self.table_name, self.index_name)


@Operations.register_operation("create_index_online")
class CreateIndexOnlineOp(CreatePartitionedIndexOp):
    """An index on a live table that is not partitioned: ``CREATE INDEX CONCURRENTLY``."""

    partitioned: ClassVar[bool] = False

    @classmethod
    def create_index_online(
        cls,
        operations: Operations,
        index_name: str,
        table_name: str,
        columns: Sequence[str],
        **kw: Any,
    ) -> None:
        """Build ``index_name`` on ``table_name`` while reads and writes continue."""
        operations.invoke(cls(index_name, table_name, columns, **kw))


@Operations.register_operation("reindex_index")
class ReindexOp(MigrateOperation):
    """``REINDEX INDEX CONCURRENTLY``: rebuild an index an interrupted build left invalid."""

    def __init__(self, index_name: str, *, schema: str | None = None) -> None:
        self.index_name = index_name
        self.schema = schema

    @classmethod
    def reindex_index(
        cls, operations: Operations, index_name: str, *, schema: str | None = None
    ) -> None:
        operations.invoke(cls(index_name, schema=schema))

    def reverse(self) -> ReindexOp:
        return self  # nothing to undo: the index is the same, valid

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("reindex", self.schema, self.index_name)


class RecommendedOp(MigrateOperation):
    """An operation autogenerate proposes on its own, with the reason in the migration.

    It runs and reverses exactly as the operation it holds; only its rendering differs:
    a comment line with the rule and the reason, so the developer can keep or delete it.
    """

    def __init__(self, op: MigrateOperation, rule: str, reason: str) -> None:
        self.op = op
        self.rule = rule
        self.reason = reason

    def reverse(self) -> MigrateOperation:
        return RecommendedOp(self.op.reverse(), self.rule, self.reason)

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return self.op.to_diff_tuple()
