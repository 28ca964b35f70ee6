"""Changing the partitions of a list-partitioned table."""

from __future__ import annotations

from typing import Any

from alembic.operations import MigrateOperation, Operations

from ...declaration.lists import List
from ...errors import PolicyError


@Operations.register_operation("alter_list_partitions")
class AlterListPartitionsOp(MigrateOperation):
    """Bring a live list table from ``old`` to ``partitioning``: new partitions take their
    values' rows out of the DEFAULT, partitions gain or give up values, removed partitions
    are detached and kept (recorded archives); all online (see :mod:`planning.lists`)."""

    def __init__(
        self,
        table_name: str,
        partitioning: List,
        *,
        old: List,
        schema: str | None = None,
    ) -> None:
        if not isinstance(partitioning, List) or not isinstance(old, List):
            raise PolicyError(f"{table_name}: alter_list_partitions takes List(...) policies")
        self.table_name = table_name
        self.partitioning = partitioning
        self.old = old
        self.schema = schema

    @classmethod
    def alter_list_partitions(
        cls, operations: Operations, table_name: str, partitioning: List, **kw: Any
    ) -> None:
        """Change ``table_name``'s list partitions from ``old=`` to ``partitioning``."""
        operations.invoke(cls(table_name, partitioning, **kw))

    def reverse(self) -> AlterListPartitionsOp:
        return AlterListPartitionsOp(
            self.table_name, self.old, old=self.partitioning, schema=self.schema
        )

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("alter_list_partitions", self.schema, self.table_name, self.partitioning)
