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
        key_type: str = "list",
        start: str | None = None,
        until: str | None = None,
        schema: str | None = None,
        removed_rows: str = "archive",
    ) -> None:
        if not isinstance(partitioning, List) or not isinstance(old, List):
            raise PolicyError(f"{table_name}: alter_list_partitions takes List(...) policies")
        self.table_name = table_name
        self.partitioning = partitioning
        self.old = old
        #: ``list:timestamptz`` for list partitions range-partitioned in turn; ``start`` and
        #: ``until``: the periods a new one of them gets (autogenerate fills them in).
        self.key_type = key_type
        self.start = start
        self.until = until
        self.schema = schema
        if removed_rows not in ("archive", "default"):
            raise PolicyError(
                f"{table_name}: removed_rows={removed_rows!r}: use 'archive' (a removed "
                "partition is detached and kept) or 'default' (its rows go back to the "
                "DEFAULT partition)"
            )
        #: What a removed partition becomes: see :func:`planning.lists.locked_steps`.
        self.removed_rows = removed_rows

    @classmethod
    def alter_list_partitions(
        cls, operations: Operations, table_name: str, partitioning: List, **kw: Any
    ) -> None:
        """Change ``table_name``'s list partitions from ``old=`` to ``partitioning``."""
        operations.invoke(cls(table_name, partitioning, **kw))

    def reverse(self) -> AlterListPartitionsOp:
        """Partitions this change adds beside a DEFAULT give their rows back to it when the
        downgrade removes them, as they took them: no archive is left behind."""
        added = set(self.partitioning.partitions) - set(self.old.partitions)
        back = bool(added) and self.old.default and self.partitioning.default
        return AlterListPartitionsOp(
            self.table_name,
            self.old,
            old=self.partitioning,
            key_type=self.key_type,
            start=self.start,
            until=self.until,
            schema=self.schema,
            removed_rows="default" if back else "archive",
        )

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("alter_list_partitions", self.schema, self.table_name, self.partitioning)
