"""Autogenerate on Citus: tables distributed in the order colocation and foreign keys need,
and the declarations Citus cannot honour refused before any migration is written."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic.operations import ops as alembic_ops
from alembic.util import CommandError

from ...declaration.binding import audit_of
from ...declaration.policies import Hash, TablePolicy
from ..ops import CreatePartitionedTableOp, DistributeTableOp

Key = tuple[str, str]
_CREATES = (alembic_ops.CreateTableOp, CreatePartitionedTableOp)


def _key(op: Any, default_schema: str) -> Key | None:
    name = getattr(op, "table_name", None)
    return (getattr(op, "schema", None) or default_schema, name) if name else None


def _named(name: str, default_schema: str) -> Key:
    schema, _, table = name.rpartition(".")
    return (schema or default_schema, table)


def dependencies(
    tables: Iterable[sa.Table], ops: Sequence[Any], default_schema: str
) -> dict[Key, set[Key]]:
    """What each table needs to exist, distributed, before it is: the tables its foreign
    keys reference and the table it is colocated with."""
    deps: dict[Key, set[Key]] = {}
    for table in tables:
        key = (table.schema or default_schema, table.name)
        deps[key] = {
            (fk.column.table.schema or default_schema, fk.column.table.name)
            for fk in table.foreign_keys
            if fk.column.table is not table
        }
    for op in ops:
        if isinstance(op, DistributeTableOp) and op.colocate_with:
            key = _key(op, default_schema)
            if key is not None:
                deps.setdefault(key, set()).add(_named(op.colocate_with, default_schema))
    return deps


def in_dependency_order(
    ops: list[Any], deps: dict[Key, set[Key]], default_schema: str
) -> list[Any]:
    """``ops`` with each new table (its create, distribute and index operations together)
    after the new tables it depends on; everything else keeps its place. Autogenerate sorts
    by foreign keys only, so a table colocated with one whose name sorts later would be
    distributed before the other exists."""
    groups: list[tuple[Key | None, list[Any]]] = []
    for op in ops:
        key = _key(op, default_schema)
        if isinstance(op, _CREATES):
            groups.append((key, [op]))
        elif groups and key is not None and groups[-1][0] == key:
            groups[-1][1].append(op)  # its distribution and indexes go with it
        else:
            groups.append((None, [op]))
    created = {key for key, _ in groups if key is not None}
    placed: set[Key] = set()
    out: list[Any] = []
    waiting: list[tuple[Key, list[Any]]] = []

    def ready(key: Key) -> bool:
        return all(d in placed or d not in created or d == key for d in deps.get(key, ()))

    def emit(key: Key, group_ops: list[Any]) -> None:
        out.extend(group_ops)
        placed.add(key)
        again = True
        while again:  # the tables that waited for this one, in their order
            again = False
            for item in waiting:
                if ready(item[0]):
                    waiting.remove(item)
                    out.extend(item[1])
                    placed.add(item[0])
                    again = True
                    break

    for key, group_ops in groups:
        if key is None:  # a later operation on a table still waiting goes with it
            other = _key(group_ops[0], default_schema)
            held = next((w for w in waiting if w[0] == other), None)
            (held[1] if held else out).extend(group_ops)
        elif ready(key):
            emit(key, group_ops)
        else:
            waiting.append((key, group_ops))
    for _, group_ops in waiting:  # a cycle: left as written, Citus will say which
        out.extend(group_ops)
    return out


def refuse_what_citus_cannot(
    declared: dict[Key, TablePolicy], tables: dict[Key, sa.Table], distributed: set[Key]
) -> None:
    """Declarations that would be silently wrong on the cluster stop autogenerate."""
    for key, bound in declared.items():
        policy = bound.policy
        if isinstance(policy, Hash) and policy.colocate_with and key in distributed:
            target = next(
                (b for k, b in declared.items() if k[1] == policy.colocate_with.split(".")[-1]),
                None,
            )
            theirs = target.policy if target is not None else None
            if isinstance(theirs, Hash) and theirs.partitions != policy.partitions:
                raise CommandError(
                    f"{bound.table}: colocated with {policy.colocate_with}, it gets its "
                    f"{theirs.partitions} shards, not partitions={policy.partitions}; "
                    f"declare partitions={theirs.partitions}"
                )
        table = tables.get(key)
        if table is not None and audit_of(table) is not None and key in distributed:
            raise CommandError(
                f"{bound.table}: Audit() on a Citus distributed table is not supported: its "
                "triggers would run on the workers' shards, where the actor setting, the "
                "audit functions and the trail of the coordinator are not; keep the audited "
                "table local or drop __audit__"
            )


def is_distributed(policy: Any, has_citus: bool) -> bool:
    if isinstance(policy, Hash):
        return has_citus if policy.distributed is None else bool(policy.distributed)
    return getattr(policy, "distributed_by", None) is not None


def checked_and_ordered(
    ops: list[Any],
    all_tables: Iterable[sa.Table],
    declared: dict[Key, TablePolicy],
    tables: dict[Key, sa.Table],
    references: set[Key],
    has_citus: bool,
    default_schema: str,
) -> list[Any]:
    """Refuse what Citus cannot do, then order the new tables for it."""
    distributed = {k for k, b in declared.items() if is_distributed(b.policy, has_citus)}
    every = {(t.schema or default_schema, t.name): t for t in all_tables}
    refuse_what_citus_cannot(declared, every | tables, distributed | references)
    deps = dependencies(all_tables, ops, default_schema)
    return in_dependency_order(ops, deps, default_schema)


def distributed_after(create: CreatePartitionedTableOp, bound: TablePolicy) -> list[Any]:
    """The new table, then ``create_distributed_table`` when it declares ``distributed_by``
    (the drop in its downgrade takes the shards with it)."""
    column = getattr(bound.policy, "distributed_by", None)
    if column is None:
        return [create]
    colocate = getattr(bound.policy, "colocate_with", None)
    distribute = DistributeTableOp(bound.table, column, colocate_with=colocate, schema=bound.schema)
    distribute.created_with_table = True
    return [create, distribute]
