"""The audit trail's table and the trigger arguments of an audited table.

The trail is one table for every audited table, range-partitioned by time and rolled by
``roll`` like any other; it lives beside the policy table, outside the application's models.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from .. import sql
from .audit import Audit
from .policies import Range


def trail_columns() -> list[sa.SchemaItem]:
    """The trail's columns, new objects each time (a ``Column`` belongs to one table)."""
    return [
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("table_schema", sa.Text, nullable=False),
        sa.Column("table_name", sa.Text, nullable=False),
        sa.Column("operation", sa.Text, nullable=False),
        sa.Column("actor", sa.Text),
        sa.Column("row_key", JSONB),
        sa.Column("diff", JSONB),
        sa.PrimaryKeyConstraint("id", "at"),
    ]


def trail_table() -> sa.Table:
    """The trail's definition; it belongs to no application's metadata."""
    return sa.Table(sql.TRAIL_TABLE, sa.MetaData(), *trail_columns(), schema=sql.tool_schema())


def trail_policy(retention: str) -> Range:
    """Monthly partitions, a DEFAULT so that no audited write can fail for want of one."""
    return Range("at", interval="1 month", premake=3, retention=retention, default=True)


def column_args(audit: Audit) -> list[str]:
    return [
        audit.actor_setting,
        audit.actor_type,
        "who" if audit.who else "nobody",
        "client" if audit.trust_client else "database",
    ]


def trail_args(audit: Audit, primary_key: list[str] | tuple[str, ...]) -> list[str]:
    return [audit.actor_setting, *primary_key]


def recorded_settings(audit: Audit, columns: Sequence[str]) -> str:
    """What the comment on a table's audit trigger records, for autogenerate to compare."""
    return json.dumps({"audit": json.loads(audit.to_json()), "columns": list(columns)})


def read_settings(comment: str | None) -> tuple[Audit | None, tuple[str, ...]]:
    """The settings and columns a comment records; ``(None, ())`` when unreadable."""
    if not comment:
        return None, ()
    try:
        data = json.loads(comment)
        return Audit.from_json(json.dumps(data["audit"])), tuple(data.get("columns", ()))
    except (ValueError, TypeError, KeyError):
        return None, ()
