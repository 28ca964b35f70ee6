"""Autogenerate's conversion of a live plain table that gains ``Range(...)``: the
operation, or the reason it could only fail."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from alembic.util import CommandError

from ...declaration.policies import Range, TablePolicy
from ...planning import roll as planner
from ..ops import PartitionExistingTableOp

if TYPE_CHECKING:
    from alembic.autogenerate.api import AutogenContext


def _refuse_keys_without(ctx: AutogenContext, bound: TablePolicy) -> None:
    """A table converted in place keeps its primary key and unique constraints, and
    PostgreSQL refuses any that lacks the partition key: such a migration could only fail
    at upgrade, so none is written. (Alembic does not autogenerate a changed primary key.)"""
    assert ctx.inspector is not None and isinstance(bound.policy, Range)
    column, name = bound.policy.column, bound.table
    pk = ctx.inspector.get_pk_constraint(name, bound.schema)
    keys = [(pk.get("name") or f"{name}_pkey", pk.get("constrained_columns") or [], "PRIMARY KEY")]
    keys += [
        (u["name"], u["column_names"], "UNIQUE")
        for u in ctx.inspector.get_unique_constraints(name, bound.schema)
    ]
    keys += [
        (i["name"], i["column_names"], "UNIQUE index")
        for i in ctx.inspector.get_indexes(name, bound.schema)
        if i.get("unique") and not i.get("duplicates_constraint")
    ]
    lacking = [(k, cols, kind) for k, cols, kind in keys if cols and column not in cols]
    if not lacking:
        return
    listed = "; ".join(
        f"{kind} {k} ({', '.join(c or '?' for c in cols)})" for k, cols, kind in lacking
    )
    first, cols, kind = lacking[0]
    fix = (
        f"op.drop_constraint({first!r}, {name!r}); op.create_primary_key({first!r}, "
        f"{name!r}, {[*cols, column]!r})"
        if kind == "PRIMARY KEY"
        else f"include {column!r} in it, or drop it"
    )
    raise CommandError(
        f"{name}: converting it to Range({column!r}, ...) keeps its keys, and PostgreSQL "
        f"requires every one to include {column!r}; these do not: {listed}. Change them in "
        f"a migration of its own first (e.g. {fix}), then autogenerate again"
    )


def convert_op(
    ctx: AutogenContext,
    bound: TablePolicy,
    now: dt.datetime,
    as_text: Callable[[TablePolicy, Any], Any],
) -> PartitionExistingTableOp | None:
    """A live plain table that gains ``Range(...)`` on a time key: converted in place; the
    old rows stay where they are, as the partition before the next period."""
    policy = bound.policy
    if not isinstance(policy, Range) or bound.by_data or policy.subpartition:
        return None
    _refuse_keys_without(ctx, bound)
    stepper = bound.stepper()
    current = stepper.period_of(planner.position_from_clock(bound, now))
    first = stepper.following(current)
    soon = planner.position_from_clock(bound, now + dt.timedelta(days=1))
    if first.lower <= soon:  # type: ignore[operator]
        first = stepper.following(first)  # a day's margin to apply the migration
    last = stepper.following(first, policy.premake)
    return PartitionExistingTableOp(
        bound.table,
        policy,
        legacy_until=as_text(bound, first.lower),
        until=as_text(bound, last.lower),
        key_type=bound.key_type,
        schema=bound.schema,
    )
