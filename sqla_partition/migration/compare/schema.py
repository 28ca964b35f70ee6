"""Autogenerate comparators: partitioned tables in, partitions out.

``prepare`` runs first and reads one catalog snapshot; it hides every partition from
Alembic's reflection (reflecting thousands of children is what makes autogenerate slow,
and reflected children would be emitted as ``drop_table``). ``compare_schema`` runs
last and turns Alembic's own table operations into partition-aware ones.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from alembic.operations import ops as alembic_ops
from alembic.util import CommandError, PriorityDispatchResult

from ... import sql
from ...catalog.snapshot import Parent, Snapshot, read_snapshot, with_bounds
from ...declaration.binding import is_reference, policy_of
from ...declaration.lists import List
from ...declaration.policies import Hash, Range, TablePolicy
from ...planning import roll as planner
from ...sql import POLICY_TABLE, RECORD_TABLE, SECRET_TABLE, TRAIL_TABLE, tool_schema
from ...sql.citus import EXTENSION_MEMBERS_QUERY
from ...sql.roll_lock import KEYS_TABLE
from ...sql.roll_state import STATE_TABLE
from ..ops import (
    CreatePartitionedIndexOp,
    CreatePartitionedTableOp,
    DisableAuditOp,
    DistributeTableOp,
    SetPartitionPolicyOp,
)
from ..pinned import pinned_rows
from ..registry import load_renderers, shield_from_rewriters
from . import citus
from .audit import audit_ops
from .conversion import convert_op
from .indexes import PREFIX, enabled_rules, recommendations
from .lists import list_op, list_window
from .splits import distributed, split_op
from .windows import as_text as _as_text
from .windows import range_windows

if TYPE_CHECKING:
    from alembic.autogenerate.api import AutogenContext

log = logging.getLogger(__name__)

_SNAPSHOT = "_sqla_partition_snapshot"
_DONE = "_sqla_partition_compared"
_PARTITION_NAME = re.compile(
    r"_(p\d{4}(_\d\d){0,2}|p\d{4}_?q\d|p\d{4}w\d\d|p\d{8}|pm?\d{10,}|default|h\d+)$"
)


def _default_schema(ctx: AutogenContext) -> str:
    assert ctx.dialect is not None
    return ctx.dialect.default_schema_name or "public"


def _snapshot(ctx: AutogenContext) -> Snapshot:
    snap = getattr(ctx, _SNAPSHOT, None)
    if snap is None:
        conn = ctx.connection
        assert conn is not None
        # names, strategies and policies are all autogenerate needs: skip bound parsing
        # (one query, safe in any search_path: see sql.catalog_query)
        snap = read_snapshot(lambda q: list(conn.exec_driver_sql(q)), bounds=False)
        if tool_schema() in snap.record_schemas:
            snap.archives = {
                (str(s), str(n)) for s, n in pinned_rows(conn, sql.archive_names_query())
            }
        setattr(ctx, _SNAPSHOT, snap)
    return snap


#: The names of the functions and triggers sqla-partition makes.
OWN_PREFIX = "sqla_partition"


def _hidden(snap: Snapshot) -> set[tuple[str, str]]:
    """Tables autogenerate must neither reflect nor drop."""
    own = tool_schema()
    tables = (POLICY_TABLE, RECORD_TABLE, TRAIL_TABLE, SECRET_TABLE, KEYS_TABLE, STATE_TABLE)
    hidden = snap.partition_names() | {(own, t) for t in tables}
    return hidden | snap.archives


def _looks_detached(snap: Snapshot, schema: str, name: str) -> bool:
    """A table named like a partition of a managed parent (e.g. one ``roll`` detached)."""
    m = _PARTITION_NAME.search(name)
    if m is None:
        return False
    prefixes = getattr(snap, "_prefixes", None)
    if prefixes is None:
        prefixes = {(s, p.prefix) for (s, _), p in snap.policies.items()}
        snap._prefixes = prefixes  # type: ignore[attr-defined]
    return (schema, name[: m.start()]) in prefixes


#: The schemas Citus makes for itself (its functions, columnar storage's tables).
CITUS_SCHEMAS = frozenset({"citus", "citus_internal", "columnar", "columnar_internal"})


def prepare(ctx: AutogenContext, upgrade_ops: alembic_ops.UpgradeOps) -> PriorityDispatchResult:
    """Read the snapshot once and hide partitions from reflection."""
    if ctx.dialect is None or ctx.dialect.name != "postgresql" or getattr(ctx, _SNAPSHOT, None):
        return PriorityDispatchResult.CONTINUE
    load_renderers()
    snap = _snapshot(ctx)
    hidden = _hidden(snap)
    default_schema = _default_schema(ctx)

    conn = ctx.connection
    assert conn is not None
    clones: set[tuple[Any, ...]] = set()
    if snap.has_foreign_key_clones:
        clones = {tuple(r) for r in pinned_rows(conn, sql.FOREIGN_KEY_CLONES_QUERY)}
    # a table reflected without a schema is one the search_path shows, from whichever
    # schema on it holds it (the tool's tables in public behind an application schema)
    visible = [default_schema, *snap.search_path]
    metadatas = ctx.metadata if isinstance(ctx.metadata, (list, tuple)) else [ctx.metadata]
    declared = {
        ix.name
        for md in metadatas
        if md is not None
        for t in md.tables.values()
        for ix in t.indexes
        if ix.name
    }

    def include_name(name: str | None, type_: str, parent_names: dict[str, Any]) -> bool:
        if name is None:
            return True
        where = name if type_ == "schema" else parent_names.get("schema_name")
        if snap.has_citus and where in CITUS_SCHEMAS:  # Citus's own, and all in them
            return False
        if type_ == "schema":
            return True
        if type_ not in ("table", "index", "column", "unique_constraint", "foreign_key_constraint"):
            # another plugin's entities (views, functions): an extension's are its own
            bare = name.rpartition(".")[2].split("(", 1)[0].strip('"')
            if (where or default_schema, bare) in extension_members():
                return False
        schema = parent_names.get("schema_name") or default_schema
        if type_ == "foreign_key_constraint":  # PostgreSQL's clones, one per partition
            return (schema, parent_names.get("table_name"), name) not in clones
        if type_ == "index" and name.startswith(PREFIX):  # made on a recommendation
            return name in declared
        if type_ in (
            "function",
            "trigger",
            "policy",
        ):  # other plugins' entities: ours are not theirs
            return not name.rpartition(".")[2].startswith(OWN_PREFIX)
        if type_ != "table":
            return True
        if parent_names.get("schema_name") is None:  # any schema on the search_path
            return not any((s, name) in hidden or _looks_detached(snap, s, name) for s in visible)
        return (schema, name) not in hidden and not _looks_detached(snap, schema, name)

    members: list[set[tuple[str, str]]] = []

    def extension_members() -> set[tuple[str, str]]:
        """Read once, and only when a plugin asks about its entities: a database with
        nothing partitioned still costs autogenerate one query."""
        if not members:
            members.append(
                {(str(s), str(n)) for s, n in pinned_rows(conn, EXTENSION_MEMBERS_QUERY)}
            )
        return members[0]

    partitions = snap.partition_names()

    def include_object(obj: Any, name: Any, type_: str, reflected: bool, compare_to: Any) -> bool:
        """PostgreSQL clones a partitioned table's triggers onto each partition; a plugin
        that reflects triggers (alembic_utils) must not take the clones for its own."""
        table = getattr(obj, "on_entity", None) if type_ == "trigger" and reflected else None
        if not isinstance(table, str):
            return True
        schema, _, name_ = table.rpartition(".")
        return (schema.strip('"') or default_schema, name_.strip('"')) not in partitions

    filters = getattr(ctx, "_name_filters", None)
    if isinstance(filters, list):
        filters.insert(0, include_name)
    object_filters = getattr(ctx, "_object_filters", None)
    if isinstance(object_filters, list):
        object_filters.insert(0, include_object)
    return PriorityDispatchResult.CONTINUE


def _now(ctx: AutogenContext) -> dt.datetime:
    """The clock, read here at the top of autogenerate; overridable for backfills and tests."""
    now = ctx.opts.get("sqla_partition_now") or os.environ.get("SQLA_PARTITION_NOW")
    if callable(now):
        now = now()
    if now is None:
        now = dt.datetime.now(dt.timezone.utc)
    if isinstance(now, str):
        now = dt.datetime.fromisoformat(now)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.timezone.utc)
    return now


def _needed_now(
    ctx: AutogenContext, bound: TablePolicy, parent: Parent | None
) -> list[tuple[str, str, str]]:
    """Partitions a changed policy needs at once (premake raised, say), so the migration
    creates them, as it does for a new table, instead of leaving them to the next roll.
    Time keys only (an integer key's position is its data); a range of hashes, or a
    distributed table, is left to roll."""
    policy = bound.policy
    if (
        parent is None
        or not isinstance(policy, Range)
        or bound.by_data
        or policy.subpartition is not None
        or policy.distributed_by is not None
    ):
        return []
    position = planner.position_from_clock(bound, _now(ctx))
    conn = ctx.connection
    assert conn is not None
    parent = with_bounds(lambda q: pinned_rows(conn, q), parent)
    steps = planner.plan(bound, parent, position).of_kind("create")
    archives = _snapshot(ctx).archives
    out = []
    for s in steps:
        if (parent.schema, s.partition) in archives:  # roll refuses it too: reattach it
            log.warning(
                "%s.%s: %s is an archive now; the migration leaves its period to "
                "`sqla-partition reattach %s %s`",
                parent.schema,
                parent.name,
                s.partition,
                parent.name,
                s.partition,
            )
            continue
        out.append((s.partition, s.lower.isoformat(), s.upper.isoformat()))  # type: ignore[union-attr]
    return out


def _is_distributed_hash(snap: Snapshot, recorded: TablePolicy) -> bool:
    return isinstance(recorded.policy, Hash) and distributed(snap, recorded.policy)


def _create_ops(
    ctx: AutogenContext, op: alembic_ops.CreateTableOp, bound: TablePolicy
) -> list[Any]:
    policy = bound.policy
    if isinstance(policy, List):
        window = list_window(bound, _now(ctx), _as_text)
        return citus.distributed_after(
            CreatePartitionedTableOp.from_create_table(op, policy, *window), bound
        )
    if isinstance(policy, Hash):
        if not distributed(_snapshot(ctx), policy):
            return [CreatePartitionedTableOp.from_create_table(op, policy)]
        distribute = DistributeTableOp(
            bound.table,
            policy.column,
            colocate_with=policy.colocate_with,
            shard_count=policy.shard_count,
            schema=bound.schema,
        )
        distribute.created_with_table = True
        return [
            CreatePartitionedTableOp.from_create_table(op, policy, distributed=True),
            distribute,
        ]
    start, until, window = range_windows(bound, _now(ctx))
    create = CreatePartitionedTableOp.from_create_table(op, policy, start, until, sub_window=window)
    return citus.distributed_after(create, bound)


def _keep_recommended(ops: alembic_ops.ModifyTableOps) -> None:
    """Indexes created on a recommendation are not in the models; they are not drift."""
    ops.ops[:] = [
        op
        for op in ops.ops
        if not (isinstance(op, alembic_ops.DropIndexOp) and op.index_name.startswith(PREFIX))
    ]


def _online_indexes(ops: alembic_ops.ModifyTableOps, parent: Parent) -> None:
    """New indexes of a live partitioned table are built partition by partition, online."""
    for i, op in enumerate(ops.ops):
        if not isinstance(op, alembic_ops.CreateIndexOp):
            continue
        columns = [c if isinstance(c, str) else getattr(c, "name", None) for c in op.columns]
        plain = all(isinstance(c, (str, sa.Column)) for c in op.columns)
        if not plain or op.kw.get("postgresql_where") is not None:
            continue  # expressions and partial indexes: left to Alembic's own operation
        ops.ops[i] = CreatePartitionedIndexOp(
            op.index_name or "",
            op.table_name,
            [str(c) for c in columns],
            unique=bool(op.unique),
            schema=op.schema,
            postgresql_using=op.kw.get("postgresql_using"),
            partitions=[(c.name, parent.name, c.is_partitioned) for c in parent.children],
        )


def compare_schema(
    ctx: AutogenContext, upgrade_ops: alembic_ops.UpgradeOps, schemas: set[str | None]
) -> PriorityDispatchResult:
    """Rewrite Alembic's table operations for partitioned tables; record policy changes."""
    if ctx.dialect is None or ctx.dialect.name != "postgresql" or getattr(ctx, _DONE, False):
        return PriorityDispatchResult.CONTINUE
    setattr(ctx, _DONE, True)
    load_renderers()
    shield_from_rewriters()
    snap = _snapshot(ctx)
    default_schema = _default_schema(ctx)
    hidden = _hidden(snap)

    declared: dict[tuple[str, str], TablePolicy] = {}
    tables: dict[tuple[str, str], sa.Table] = {}
    plain_tables: set[tuple[str, str]] = set()
    references: set[tuple[str, str]] = set()
    for table in ctx.sorted_tables:
        key = (table.schema or default_schema, table.name)
        bound = policy_of(table)
        if is_reference(table):
            references.add(key)
        if bound is not None:
            declared[key] = bound
            tables[key] = table
        else:
            plain_tables.add(key)

    created: set[tuple[str, str]] = set()
    kept: list[Any] = []
    new_tables = {
        (op.schema or default_schema, op.table_name)
        for op in upgrade_ops.ops
        if isinstance(op, alembic_ops.CreateTableOp)
    }
    for op in upgrade_ops.ops:
        key = (getattr(op, "schema", None) or default_schema, getattr(op, "table_name", ""))
        if isinstance(op, alembic_ops.CreateTableOp) and key in declared:
            kept.extend(_create_ops(ctx, op, declared[key]))
            created.add(key)
            continue
        if isinstance(op, alembic_ops.CreateTableOp) and key in references:
            reference = DistributeTableOp(op.table_name, reference=True, schema=op.schema)
            reference.created_with_table = True
            kept.extend([op, reference])
            continue
        if isinstance(op, (alembic_ops.DropTableOp, alembic_ops.ModifyTableOps)) and (
            key in hidden or _looks_detached(snap, *key)
        ):
            continue  # never drop a live partition (Alembic #539)
        if isinstance(op, alembic_ops.ModifyTableOps):
            _keep_recommended(op)
            if key in snap.parents:
                _online_indexes(op, snap.parents[key])
            if not op.ops:
                continue
        kept.append(op)
    if snap.has_citus or any(isinstance(op, DistributeTableOp) for op in kept):
        distributed = {
            k for k, b in declared.items() if citus.is_distributed(b.policy, snap.has_citus)
        }
        citus.refuse_what_citus_cannot(declared, tables, distributed | references)
        deps = citus.dependencies(ctx.sorted_tables, kept, default_schema)
        kept = citus.in_dependency_order(kept, deps, default_schema)
    upgrade_ops.ops[:] = kept

    for key, bound in declared.items():
        if key in created:
            continue
        parent = snap.parents.get(key)
        on_record = snap.policies.get(key)
        if parent is None and on_record is not None and _is_distributed_hash(snap, on_record):
            recorded: Any = on_record.policy  # a Citus table: its shards are its partitions
        elif parent is None:
            convert = convert_op(ctx, bound, _now(ctx), _as_text)
            if convert is None:
                log.warning(
                    "%s.%s is declared partitioned but exists as a plain table; it is left "
                    "unchanged (only a table with a time key is converted)",
                    *key,
                )
            else:
                upgrade_ops.ops.append(convert)
                snap.converted.add(key)
            continue
        elif parent.strategy != bound.policy.kind:
            expected = bound.policy.kind
            log.warning(
                "%s.%s is %s-partitioned in the database but declared %s; left unchanged",
                key[0],
                key[1],
                parent.strategy,
                expected,
            )
            continue
        else:
            recorded = parent.policy.policy if parent.policy else None
        window = list_window(bound, _now(ctx), _as_text)
        split = split_op(tables[key], bound, recorded, snap, key)
        split = split or list_op(bound, recorded, window)
        if split is not None:
            upgrade_ops.ops.append(split)
        elif recorded != bound.policy:
            upgrade_ops.ops.append(
                SetPartitionPolicyOp(
                    bound.table,
                    bound.policy,
                    old=recorded,
                    key_type=bound.recorded_key_type,
                    schema=bound.schema,
                    partitions=_needed_now(ctx, bound, parent),
                )
            )
    audited = audit_ops(ctx, snap, default_schema, _now(ctx))
    # auditing stops before the audit columns go: the guard triggers' WHEN names them
    first = [op for op in audited if isinstance(op, DisableAuditOp)]
    upgrade_ops.ops[:0] = first
    upgrade_ops.ops.extend(op for op in audited if not isinstance(op, DisableAuditOp))
    try:
        rules = enabled_rules(ctx.opts.get("sqla_partition_recommend"))
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    if rules:
        upgrade_ops.ops.extend(recommendations(ctx, snap, default_schema, new_tables, rules))
    for key, recorded_policy in snap.policies.items():
        if key in plain_tables and key in snap.parents:
            upgrade_ops.ops.append(
                SetPartitionPolicyOp(
                    recorded_policy.table,
                    None,
                    old=recorded_policy.policy,
                    key_type=recorded_policy.recorded_key_type,
                    schema=None if key[0] == default_schema else key[0],
                )
            )
    return PriorityDispatchResult.CONTINUE


__all__ = ["Range", "compare_schema", "prepare"]
