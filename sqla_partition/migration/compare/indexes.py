"""Indexes a careful DBA would ask for, proposed by autogenerate from the models and the
live schema (no workload needed), each as an ordinary operation with its reason.

Opt-in in env.py: ``context.configure(..., sqla_partition_recommend=True)`` for every rule,
or a collection of rule names. Recommended indexes are named ``sqlp_…``: autogenerate keeps
them once created, even though the models do not declare them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from alembic.operations import ops as alembic_ops

from ... import sql
from ...catalog.snapshot import Snapshot
from ...declaration.binding import policy_of
from ...declaration.policies import Range
from ..ops import CreateIndexOnlineOp, CreatePartitionedIndexOp, RecommendedOp, ReindexOp
from ..pinned import pinned_rows

if TYPE_CHECKING:
    from alembic.autogenerate.api import AutogenContext

RULES = ("fk_index", "redundant_index", "brin_time_key", "invalid_index")
PREFIX = "sqlp_"


@dataclass(frozen=True)
class LiveIndex:
    schema: str
    table: str
    name: str
    columns: tuple[str | None, ...]  # None: an expression
    unique: bool
    primary: bool
    valid: bool
    method: str
    special: bool  # an expression or a predicate
    partitioned: bool
    partition: bool


def enabled_rules(setting: Any) -> set[str]:
    """``True``: every rule; a collection: those named (unknown names are an error)."""
    if setting is True:
        return set(RULES)
    if not setting:
        return set()
    names = {setting} if isinstance(setting, str) else set(setting)
    unknown = names - set(RULES)
    if unknown:
        raise ValueError(
            f"sqla_partition_recommend: unknown rule(s) {sorted(unknown)}; rules are "
            f"{', '.join(RULES)}"
        )
    return names


def read_indexes(ctx: AutogenContext) -> list[LiveIndex]:
    assert ctx.connection is not None
    rows = pinned_rows(ctx.connection, sql.INDEX_CATALOG_QUERY)
    return [LiveIndex(r[0], r[1], r[2], tuple(r[3]), *r[4:]) for r in rows]


def _leads(columns: Iterable[str | None], wanted: list[str]) -> bool:
    """An index whose first columns are ``wanted`` (in any order) serves lookups by them."""
    head = list(columns)[: len(wanted)]
    return len(head) == len(wanted) and set(head) == set(wanted)


def _create(
    table: sa.Table,
    name: str,
    columns: list[str],
    snap: Snapshot,
    key: tuple[str, str],
    new: bool,
    using: str | None = None,
) -> alembic_ops.MigrateOperation:
    converted = snap.converted
    if new:  # created in this migration: empty, a plain CREATE INDEX blocks nobody
        kw = {"postgresql_using": using} if using else {}
        return alembic_ops.CreateIndexOp(name, table.name, columns, schema=table.schema, **kw)
    parent = snap.parents.get(key)
    if parent is None and key in converted:  # partitioned earlier in this migration
        return CreatePartitionedIndexOp(
            name, table.name, columns, schema=table.schema, postgresql_using=using
        )
    if parent is not None:
        return CreatePartitionedIndexOp(
            name,
            table.name,
            columns,
            schema=table.schema,
            postgresql_using=using,
            partitions=[(c.name, parent.name, c.is_partitioned) for c in parent.children],
        )
    return CreateIndexOnlineOp(
        name, table.name, columns, schema=table.schema, postgresql_using=using
    )


def recommendations(
    ctx: AutogenContext,
    snap: Snapshot,
    default_schema: str,
    created: set[tuple[str, str]],
    rules: set[str],
) -> list[RecommendedOp]:
    """The operations the enabled rules propose, each with its reason; ``created``: tables
    this migration creates (their indexes need no online build)."""
    live = read_indexes(ctx)
    by_table: dict[tuple[str, str], list[LiveIndex]] = {}
    for index in live:
        by_table.setdefault((index.schema, index.table), []).append(index)
    out: list[RecommendedOp] = []
    skip = set(ctx.opts.get("sqla_partition_recommend_skip") or ())
    for table in ctx.sorted_tables:
        key = (table.schema or default_schema, table.name)
        new = key in created
        existing = [list(i.columns) for i in by_table.get(key, []) if not i.special and i.valid]
        modelled = [[c.name for c in ix.columns] for ix in table.indexes]
        modelled += [[c.name for c in table.primary_key.columns]]
        modelled += [
            [c.name for c in u.columns]
            for u in table.constraints
            if isinstance(u, sa.UniqueConstraint)
        ]
        if "fk_index" in rules:
            out += _fk_rule(table, key, snap, existing + modelled, new)
        if "brin_time_key" in rules:
            out += _brin_rule(table, key, snap, existing + modelled, by_table.get(key, []), new)
        if "redundant_index" in rules:
            out += _redundant_rule(table, by_table.get(key, []))
    if "invalid_index" in rules:
        managed = {(t.schema or default_schema, t.name) for t in ctx.sorted_tables}
        managed |= {
            (c.schema, c.name)
            for k in managed
            if k in snap.parents
            for c in snap.parents[k].children
        }
        out += _invalid_rule(live, managed, default_schema)
    return [r for r in out if _target(r) not in skip]


def _target(recommendation: RecommendedOp) -> str:
    return str(getattr(recommendation.op, "index_name", ""))


def _fk_rule(
    table: sa.Table, key: tuple[str, str], snap: Snapshot, indexed: list[list[Any]], new: bool
) -> list[RecommendedOp]:
    out = []
    for fk in sorted(table.foreign_key_constraints, key=lambda f: f.name or ""):
        columns = [c.name for c in fk.columns]
        if any(_leads(cols, columns) for cols in indexed):
            continue
        name = sql.suggested_index_name("fk", table.name, columns)
        target = fk.referred_table.name
        where = f"every partition of {table.name}" if policy_of(table) else table.name
        reason = (
            f"no index leads with {', '.join(columns)}, the foreign key to {target}: each "
            f"delete or key change in {target} scans {where}"
        )
        out.append(RecommendedOp(_create(table, name, columns, snap, key, new), "fk_index", reason))
        indexed.append(columns)
    return out


def _brin_rule(
    table: sa.Table,
    key: tuple[str, str],
    snap: Snapshot,
    indexed: list[list[Any]],
    live: list[LiveIndex],
    new: bool,
) -> list[RecommendedOp]:
    bound = policy_of(table)
    if bound is None or not isinstance(bound.policy, Range) or bound.by_data:
        return []
    column = bound.policy.column
    if any(cols and cols[0] == column for cols in indexed):
        return []
    if any(i.method == "brin" and column in i.columns for i in live):
        return []
    reason = (
        f"{column} grows with time and rows arrive in its order: a BRIN index is a few "
        "pages per partition and lets range queries within a partition skip most blocks"
    )
    name = sql.suggested_index_name("brin", table.name, [column])
    op = _create(table, name, [column], snap, key, new, using="brin")
    return [RecommendedOp(op, "brin_time_key", reason)]


def _redundant_rule(table: sa.Table, live: list[LiveIndex]) -> list[RecommendedOp]:
    out = []
    plain = [
        i
        for i in live
        if i.valid and not i.special and i.method == "btree" and None not in i.columns
    ]
    modelled = {ix.name for ix in table.indexes}
    for index in plain:
        if index.unique or index.primary:
            continue
        for other in plain:
            if other is index or len(other.columns) < len(index.columns):
                continue
            if tuple(other.columns[: len(index.columns)]) != index.columns:
                continue
            if other.columns == index.columns and other.name > index.name and not other.unique:
                continue  # of two identical indexes, propose dropping the later name only
            what = "duplicates" if other.columns == index.columns else "is a prefix of"
            reason = (
                f"{index.name} ({', '.join(c or '' for c in index.columns)}) {what} "
                f"{other.name}, which serves the same lookups; every write maintains both"
            )
            if index.name in modelled:
                reason += f". Remove Index({index.name!r}) from the model too"
            drop = alembic_ops.DropIndexOp(
                index.name,
                table_name=table.name,
                schema=table.schema,
                _reverse=alembic_ops.CreateIndexOp(
                    index.name, table.name, list(index.columns), schema=table.schema
                ),
            )
            out.append(RecommendedOp(drop, "redundant_index", reason))
            break
    return out


def _invalid_rule(
    live: list[LiveIndex], managed: set[tuple[str, str]], default_schema: str
) -> list[RecommendedOp]:
    out: list[RecommendedOp] = []
    for index in live:
        if index.valid or (index.schema, index.table) not in managed:
            continue
        schema = None if index.schema == default_schema else index.schema
        reason = (
            f"{index.name} on {index.table} is invalid, left by an interrupted build: queries "
            "cannot use it, yet every write maintains it"
        )
        op: alembic_ops.MigrateOperation
        if index.partitioned and None not in index.columns and not index.special:
            reason += "; building it again finishes the partitions it lacks"
            op = CreatePartitionedIndexOp(
                index.name, index.table, [str(c) for c in index.columns], schema=schema
            )
        else:
            op = ReindexOp(index.name, schema=schema)
        out.append(RecommendedOp(op, "invalid_index", reason))
    return out
