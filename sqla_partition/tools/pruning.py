"""Statements on partitioned tables that read every partition: the planner could not prune.

The plan says how many partitions a statement reads; its filters and the statement's own
text say why it could not read fewer (the key not filtered, wrapped in a function or a
cast, compared with a value of another type, or in an OR with other columns), so the
report gives the fix in words. Used by ``sqla-partition advise --pruning`` and by the test
suite guard of :mod:`sqla_partition.testing`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import pglast
from pglast import ast

from .. import sql
from ..sql.advice import VIEWS_OVER_PARTITIONED_QUERY, leaf_order_query
from .pruning_reasons import BROKEN, named_tables, why
from .pruning_terms import Level, walk


@dataclass(frozen=True)
class Unpruned:
    """A statement that reads every partition of ``table``."""

    table: str
    read: int
    partitions: int
    reason: str
    fix: str
    #: ``shards`` for a Citus table whose statement goes to every shard.
    unit: str = "partitions"
    #: The key the reason is about.
    key: str = ""
    #: ``full``, or ``run-time``: every partition is in the plan, but the executor leaves
    #: out those that the values it meets rule out (a nested loop's rows, a subquery's
    #: result): which it reads cannot be told without running the statement.
    verdict: str = "full"
    #: The statement written as the fix says, planned and found to prune (``advise``
    #: plans it; until then, and in the test-suite guard, empty).
    instead: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        if self.verdict == "run-time":
            return (
                f"{self.table}: plans all {self.partitions} {self.unit}; {self.reason}; "
                "which it reads cannot be told without running it"
            )
        instead = f"; instead: {self.instead}" if self.instead else ""
        return (
            f"{self.table}: reads {self.read} of {self.partitions} {self.unit}; "
            f"{self.reason}; {self.fix}{instead}"
        )


@dataclass
class Partitioned:
    """One partitioned table (a level of a table partitioned in turn is one too)."""

    name: str
    key: str
    strategy: str
    parent: str | None
    key_type: str = ""
    leaves: set[tuple[str, str]] = field(default_factory=set)


class PartitionMap:
    """Every partitioned table with its leaves, read once."""

    def __init__(
        self,
        rows: Iterable[tuple[Any, ...]],
        distributed: Iterable[tuple[Any, ...]] = (),
        order: Callable[[str], list[tuple[str, str]]] | None = None,
    ) -> None:
        self.tables: dict[str, Partitioned] = {}
        #: each leaf with the partitioned tables it belongs to, the nearest first
        self.owners: dict[tuple[str, str], list[str]] = {}
        #: Citus: each distributed table (by its name alone, as shards are named) with its
        #: shard count and distribution column.
        self.shards: dict[str, tuple[str, int, str]] = {}
        self._order = order
        #: the views that read a partitioned table
        self.views: set[str] = set()
        self._orders: dict[str, dict[tuple[str, str], int]] = {}
        for schema, table, count, column in distributed:
            self.shards[table] = (f"{schema}.{table}", int(count), column)
        for schema, table, leaf_schema, leaf, keys, strategy, up_schema, up, key_type in rows:
            name = f"{schema}.{table}"
            parent = f"{up_schema}.{up}" if up else None
            key = (keys or ["the key"])[0]
            entry = self.tables.setdefault(
                name, Partitioned(name, key, strategy or "r", parent, key_type or "")
            )
            entry.leaves.add((leaf_schema, leaf))
        for entry in self.tables.values():
            for leaf in entry.leaves:
                self.owners.setdefault(leaf, []).append(entry.name)
        for owners in self.owners.values():
            owners.sort(key=lambda n: -len(self.chain(n)))

    def chain(self, name: str) -> list[str]:
        """``name`` and the partitioned tables above it, upwards."""
        chain = [name]
        while (up := self.tables[chain[-1]].parent) in self.tables and up not in chain:
            chain.append(up)  # type: ignore[arg-type]
        return chain

    @classmethod
    def read(cls, conn: Any, *, plan_order: bool = True) -> PartitionMap:
        """``plan_order``: read a table's leaves in bound order from a plan of it, when a
        statement scans it twice; the test guard, inside the application's transaction,
        plans nothing more than the statement and orders by name instead."""
        distributed = []
        if conn.execute(sql.HAS_CITUS_QUERY).fetchone()[0]:
            distributed = [
                (schema, table, shards, column)
                for schema, table, kind, column, _, shards, _ in conn.execute(
                    sql.CITUS_TABLES_QUERY
                ).fetchall()
                if kind == "distributed"
            ]

        def order(name: str) -> list[tuple[str, str]]:
            schema, table = name.split(".", 1)
            plan = conn.execute(leaf_order_query(schema, table)).fetchone()[0]
            plan = json.loads(plan) if isinstance(plan, str) else plan
            return [
                (n.get("Schema", "public"), n["Relation Name"])
                for n in _nodes(plan[0]["Plan"])
                if n.get("Relation Name")
            ]

        rows = conn.execute(sql.PARTITION_LEAVES_QUERY).fetchall()
        found = cls(rows, distributed, order if plan_order else None)
        found.views = {name for (name,) in conn.execute(VIEWS_OVER_PARTITIONED_QUERY).fetchall()}
        return found

    def names(self) -> set[str]:
        """The partitioned tables' own names and those of the views that read them, to spot
        them in a statement's text."""
        return {name.split(".", 1)[1] for name in self.tables} | set(self.shards) | self.views

    def names_of(self, name: str) -> set[str]:
        """The names a statement may read ``name`` by: its own and those above it."""
        return {n.split(".", 1)[1] for n in self.chain(name)}

    def levels(self, name: str) -> list[Level]:
        """The keys of ``name`` and of the levels below it, the top first."""
        top = self.tables[name]
        out = [Level(top.key, top.strategy, top.key_type)]
        for other in self.tables.values():
            if other.name != name and name in self.chain(other.name)[1:]:
                level = Level(other.key, other.strategy, other.key_type)
                if level not in out:
                    out.append(level)
        return out

    def position(self, name: str, leaf: tuple[str, str]) -> int:
        """Where ``leaf`` comes in a scan of ``name`` (bound order), read once per table."""
        if name not in self._orders:
            listed = self._order(name) if self._order else sorted(self.tables[name].leaves)
            self._orders[name] = {leaf: i for i, leaf in enumerate(listed)}
        return self._orders[name].get(leaf, -1)

    def distributed_of(self, shard: str) -> tuple[str, int, str] | None:
        """The distributed table a shard (``accounts_102008``) belongs to; a shard of a
        partition answers for the partitioned table at the top."""
        table = re.sub(r"_\d+$", "", shard)
        for (_, leaf), owners in self.owners.items():
            if leaf == table:
                top = owners[-1].split(".", 1)[1]
                if top in self.shards:
                    return self.shards[top]
        return self.shards.get(table)


def _nodes(plan: dict[str, Any]) -> Iterable[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


def unpruned(plan_json: Any, statement: str, partitions: PartitionMap) -> list[Unpruned]:
    """The partitioned tables one scan of which reads every partition (the topmost of a
    table partitioned in turn), each with the reason and the fix."""
    from .pruning_plan import full_scans

    data = json.loads(plan_json) if isinstance(plan_json, str) else plan_json
    out = _fanned_out(data[0]["Plan"], statement, partitions)
    for scan in full_scans(data[0]["Plan"], partitions):
        entry = partitions.tables[scan.table]
        found = why(
            statement,
            partitions.names_of(scan.table),
            partitions.levels(scan.table),
            scan.cast_keys,
        )
        total = len(entry.leaves)
        if scan.run_time:
            reason = f"{scan.run_time} leaves partitions out at run time"
            out.append(
                Unpruned(scan.table, total, total, reason, "", key=entry.key, verdict="run-time")
            )
            continue
        if found.kind == "spans" and found.scans > 1:
            # several scans that each compare the key as it is, planned as one list: they
            # may each prune and cover every partition together
            continue
        out.append(
            Unpruned(
                scan.table,
                total,
                total,
                found.reason,
                found.fix,
                key=found.key,
                instead=found.rewritten,
            )
        )
    return out + _chosen_at_start(data[0]["Plan"], statement, partitions, out)


def _chosen_at_start(
    plan: dict[str, Any], statement: str, partitions: PartitionMap, found: list[Unpruned]
) -> list[Unpruned]:
    """A generic plan prunes on its parameters when the executor starts (planned with
    NULLs, everything is left out): a table partitioned in turn below the one they choose
    from is read whole if they choose it and its key is of no use."""
    if "$" not in statement or not any(n.get("Subplans Removed") for n in _nodes(plan)):
        return []
    planned = {
        (n.get("Schema", "public"), n["Relation Name"])
        for n in _nodes(plan)
        if n.get("Relation Name")
    }
    named = named_tables(statement)
    reported = {u.table for u in found}
    out = []
    for name, entry in partitions.tables.items():
        if entry.parent is None or name in reported or entry.leaves & planned:
            continue
        if not partitions.names_of(name) & named:
            continue
        w = why(statement, partitions.names_of(name), partitions.levels(name))
        if w.kind == "not_filtered" or w.kind in BROKEN:
            total = len(entry.leaves)
            reason = (
                f"the parameters choose when it starts which partitions are read, and if "
                f"they choose {name}, it is read whole: {w.reason}"
            )
            out.append(Unpruned(name, total, total, reason, w.fix, key=w.key, verdict="run-time"))
    return out


def _fanned_out(plan: dict[str, Any], statement: str, partitions: PartitionMap) -> list[Unpruned]:
    """Citus: a statement on a table distributed by tenant that goes to every shard (the
    same mistake at cluster scale) rather than to one."""
    out = []
    for node in _nodes(plan):
        job = (node.get("Distributed Query") or {}).get("Job") or {}
        tasks = job.get("Task Count")
        shard = next(
            (
                n["Relation Name"]
                for task in job.get("Tasks", ())
                for remote in task.get("Remote Plan", ())
                for top in remote
                for n in _nodes(top["Plan"])
                if n.get("Relation Name")
            ),
            None,
        )
        # (planned as a role that may not plan on the workers, the task shows no shard:
        # the distributed table the statement names then tells)
        table = (
            partitions.distributed_of(shard) if shard else _named_distributed(statement, partitions)
        )
        if table is None or not tasks or tasks < table[1] or table[1] < 2:
            continue
        column = table[2]
        found = why(statement, {table[0].split(".", 1)[1]}, [Level(column, "h")])
        if not found.reason.startswith(f"{column} is compared as it is"):
            out.append(
                Unpruned(table[0], tasks, table[1], found.reason, found.fix, "shards", found.key)
            )
    return out


def _named_distributed(statement: str, partitions: PartitionMap) -> tuple[str, int, str] | None:
    """The one distributed table a statement names, if it names exactly one."""
    try:
        parsed = pglast.parse_sql(re.sub(r"%\(\w+\)s|%s", "$1", statement))
    except (pglast.parser.ParseError, ValueError):
        return None
    named = {
        found
        for raw in parsed
        for node in walk(raw.stmt)
        if isinstance(node, ast.RangeVar)
        and (found := partitions.distributed_of(node.relname)) is not None
    }
    return named.pop() if len(named) == 1 else None
