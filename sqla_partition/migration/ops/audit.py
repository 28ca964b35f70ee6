"""Turning the audit columns and trail of a table on and off."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from alembic.operations import MigrateOperation, Operations

from ...declaration.audit import Audit
from ...errors import PolicyError

if TYPE_CHECKING:
    pass


class _AuditOp(MigrateOperation):
    """Common arguments: the table, its audit settings and (for the trail) its primary key."""

    def __init__(
        self,
        table_name: str,
        audit: Audit,
        *,
        primary_key: Sequence[str] = (),
        columns: Sequence[str] = (),
        old: Audit | None = None,
        old_columns: Sequence[str] = (),
        schema: str | None = None,
    ) -> None:
        if audit.trail and not primary_key:
            raise PolicyError(
                f"{table_name}: the audit trail records each row's key; pass primary_key="
            )
        self.table_name = table_name
        self.audit = audit
        self.primary_key = tuple(primary_key)
        #: The model's columns when the migration was written, recorded so autogenerate
        #: writes the trail function again when they change.
        self.columns = tuple(columns)
        self.old = old
        self.old_columns = tuple(old_columns)
        self.schema = schema

    def _args(self) -> dict[str, Any]:
        return {"primary_key": self.primary_key, "columns": self.columns, "schema": self.schema}

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return (self.diff_name, self.schema, self.table_name, self.audit)  # type: ignore[attr-defined]


@Operations.register_operation("enable_audit")
class EnableAuditOp(_AuditOp):
    """Audit columns kept by a trigger, and the trail triggers when ``audit.trail``; with
    ``old``, the settings it replaces."""

    diff_name = "enable_audit"

    @classmethod
    def enable_audit(cls, operations: Operations, table_name: str, audit: Audit, **kw: Any) -> None:
        """Keep ``table_name``'s audit columns (and trail) from now on."""
        operations.invoke(cls(table_name, audit, **kw))

    def reverse(self) -> MigrateOperation:
        if self.old is None:
            return DisableAuditOp(self.table_name, self.audit, **self._args())
        return EnableAuditOp(
            self.table_name,
            self.old,
            primary_key=self.primary_key,
            columns=self.old_columns,
            old=self.audit,
            old_columns=self.columns,
            schema=self.schema,
        )


@Operations.register_operation("disable_audit")
class DisableAuditOp(_AuditOp):
    """Remove the audit triggers; the columns and the trail's rows stay."""

    diff_name = "disable_audit"

    @classmethod
    def disable_audit(
        cls, operations: Operations, table_name: str, audit: Audit, **kw: Any
    ) -> None:
        operations.invoke(cls(table_name, audit, **kw))

    def reverse(self) -> EnableAuditOp:
        return EnableAuditOp(self.table_name, self.audit, **self._args())
