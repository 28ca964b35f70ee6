"""alembic-postgresql-enum's operations on an enum that is a LIST partition key.

Its ``sync_enum_values`` removes a value by making a new type and altering every column
to it, which PostgreSQL refuses on a partition key; and its ``add_enum_value`` fails when
run again after a downgrade that had to keep the value. For such enums the values are
added where missing and never removed (see ``ops/enums.py``)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from alembic.util import PriorityDispatchResult

from ...declaration.binding import policy_of
from ...declaration.lists import List
from ...declaration.policies import TablePolicy
from ..ops import AddPartitionKeyValuesOp

if TYPE_CHECKING:
    from alembic.autogenerate.api import AutogenContext
    from alembic.operations import ops as alembic_ops

log = logging.getLogger(__name__)

_THEIRS = ("AddEnumValuesOp", "SyncEnumValuesOp")
_DONE = "_sqla_partition_enums_done"


def finish(ctx: AutogenContext, upgrade_ops: alembic_ops.UpgradeOps) -> PriorityDispatchResult:
    """Runs once every schema-level comparator has (alembic-postgresql-enum's included)."""
    if ctx.dialect is None or ctx.dialect.name != "postgresql" or getattr(ctx, _DONE, False):
        return PriorityDispatchResult.CONTINUE
    setattr(ctx, _DONE, True)
    default_schema = ctx.dialect.default_schema_name or "public"
    declared, tables = {}, {}
    for table in ctx.sorted_tables:
        bound = policy_of(table)
        if bound is not None:
            key = (table.schema or default_schema, table.name)
            declared[key], tables[key] = bound, table
    enums = key_enums(declared, tables, default_schema)
    if enums:
        upgrade_ops.ops[:] = rewrite(upgrade_ops.ops, enums, default_schema)
    return PriorityDispatchResult.CONTINUE


def key_enums(
    declared: dict[tuple[str, str], TablePolicy],
    tables: dict[tuple[str, str], sa.Table],
    default_schema: str,
) -> dict[tuple[str, str], str]:
    """``(schema, enum name)`` of each enum that is a LIST partition key, with a table it
    partitions."""
    out = {}
    for key, bound in declared.items():
        if not isinstance(bound.policy, List):
            continue
        column = tables[key].c.get(bound.policy.column)
        kind = getattr(column, "type", None)
        if isinstance(kind, sa.Enum) and kind.name:
            out[(kind.schema or default_schema, kind.name)] = f"{key[0]}.{key[1]}"
    return out


def rewrite(
    ops: Iterable[Any], enums: dict[tuple[str, str], str], default_schema: str
) -> list[Any]:
    """Their operations on those enums: values added where missing, none removed; the
    additions first, before any list change can name a value (comparators of different
    plugins run in the order they were registered)."""
    first: list[Any] = []
    out: list[Any] = []
    for op in ops:
        theirs = type(op).__module__.startswith("alembic_postgresql_enum")
        key = (getattr(op, "schema", None) or default_schema, getattr(op, "name", None))
        if not theirs or type(op).__name__ not in _THEIRS or key not in enums:
            out.append(op)
            continue
        added = [v for v in op.new_values if v not in op.old_values]
        removed = [v for v in op.old_values if v not in op.new_values]
        if removed:
            log.warning(
                "enum %s.%s partitions %s: PostgreSQL cannot change a partition key's type, "
                "so %s stay%s in it (rows of them stay in the DEFAULT partition, if any)",
                key[0],
                key[1],
                enums[key],
                ", ".join(repr(v) for v in removed),
                "s" if len(removed) == 1 else "",
            )
        if added:
            first.append(AddPartitionKeyValuesOp(op.name, added, schema=op.schema))
    return first + out
