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
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import pglast
from pglast import ast, enums

from .. import sql


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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        return (
            f"{self.table}: reads {self.read} of {self.partitions} {self.unit}; "
            f"{self.reason}; {self.fix}"
        )


class PartitionMap:
    """Which partitioned table each leaf belongs to, read once."""

    def __init__(
        self, rows: Iterable[tuple[Any, ...]], distributed: Iterable[tuple[Any, ...]] = ()
    ) -> None:
        self.root_of: dict[tuple[str, str], str] = {}
        self.leaves: dict[str, int] = {}
        self.keys: dict[str, list[str]] = {}
        #: Citus: each distributed table (by its name alone, as shards are named) with its
        #: shard count and distribution column.
        self.shards: dict[str, tuple[str, int, str]] = {}
        for schema, table, count, column in distributed:
            self.shards[table] = (f"{schema}.{table}", int(count), column)
        for root_schema, root, leaf_schema, leaf, keys in rows:
            name = f"{root_schema}.{root}"
            self.root_of[(leaf_schema, leaf)] = name
            self.leaves[name] = self.leaves.get(name, 0) + 1
            self.keys[name] = list(dict.fromkeys(keys or ()))  # the top level's first

    @classmethod
    def read(cls, conn: Any) -> PartitionMap:
        distributed = []
        if conn.execute(sql.HAS_CITUS_QUERY).fetchone()[0]:
            distributed = [
                (schema, table, shards, column)
                for schema, table, kind, column, _, shards, _ in conn.execute(
                    sql.CITUS_TABLES_QUERY
                ).fetchall()
                if kind == "distributed"
            ]
        return cls(conn.execute(sql.PARTITION_LEAVES_QUERY).fetchall(), distributed)

    def names(self) -> set[str]:
        """The partitioned tables' own names, to spot them in a statement's text."""
        return {name.split(".", 1)[1] for name in self.leaves} | set(self.shards)

    def distributed_of(self, shard: str) -> tuple[str, int, str] | None:
        """The distributed table a shard (``accounts_102008``) belongs to; a shard of a
        partition answers for the partitioned table at the top."""
        table = re.sub(r"_\d+$", "", shard)
        root = next((r for (_, leaf), r in self.root_of.items() if leaf == table), None)
        if root and root.split(".", 1)[1] in self.shards:
            return self.shards[root.split(".", 1)[1]]
        return self.shards.get(table)


def _nodes(plan: dict[str, Any]) -> Iterable[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


def unpruned(plan_json: Any, statement: str, partitions: PartitionMap) -> list[Unpruned]:
    """The partitioned tables the plan reads in full, each with the reason and the fix."""
    data = json.loads(plan_json) if isinstance(plan_json, str) else plan_json
    read: dict[str, set[tuple[str, str]]] = {}
    filters: dict[str, list[str]] = {}
    for node in _nodes(data[0]["Plan"]):
        relation = node.get("Relation Name")
        if relation is None:
            continue
        leaf = (node.get("Schema", "public"), relation)  # EXPLAIN VERBOSE names the schema
        root = partitions.root_of.get(leaf)
        if root is None:
            continue
        read.setdefault(root, set()).add(leaf)  # a partition read twice counts once
        for key in ("Filter", "Index Cond", "Recheck Cond"):
            if node.get(key):
                filters.setdefault(root, []).append(node[key])
    out = _fanned_out(data[0]["Plan"], statement, partitions)
    for root, leaves in sorted(read.items()):
        count = len(leaves)
        total = partitions.leaves[root]
        if total < 2 or count < total:
            continue
        why = _why(statement, partitions.keys.get(root, []), filters.get(root, []))
        if why is not None:
            out.append(Unpruned(root, count, total, *why))
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
        why = _why(statement, [column], [])
        if why is not None:
            reason, fix = why
            out.append(Unpruned(table[0], tasks, table[1], reason, fix, unit="shards"))
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


def _why(statement: str, keys: list[str], filters: list[str]) -> tuple[str, str] | None:
    """Why no partition could be left out, and what to write instead; ``None`` when the key
    is compared as it is (a range that covers every partition: nothing to fix)."""
    key = keys[0] if keys else "the key"
    uses = _key_uses(statement, keys)
    text = " ".join(filters)
    if "or" in uses:
        return (
            f"{key} is compared inside an OR with other columns",
            f"split the OR into a UNION ALL of statements that each compare {key}",
        )
    if "function" in uses and uses["function"].lower() == "to_timestamp":  # an epoch column
        return (
            f"{key} is wrapped in to_timestamp()",
            f"compare {key} itself with the time as a number: instead of to_timestamp({key}) "
            f">= x, write {key} >= extract(epoch FROM x) (times 1000 for milliseconds, "
            "1000000 for microseconds)",
        )
    if "function" in uses:
        name = uses["function"]
        return (
            f"{key} is wrapped in {name}()",
            f"compare {key} itself: instead of {name}({key}) = x, write {key} >= x AND "
            f"{key} < the next x",
        )
    if "cast" in uses:
        return (
            f"{key} is cast to another type",
            f"compare {key} directly and cast the value instead",
        )
    # the plan's filter shows the key cast: (id)::numeric, or ids_0.id)::numeric (VERBOSE)
    casted = next((k for k in keys if re.search(rf"[(.]\"?{re.escape(k)}\"?\)::", text)), None)
    if casted is not None:
        return (
            f"{casted} is compared with a value of another type, so PostgreSQL casts the key",
            f"compare {casted} with a value of its own type (cast the value, not the column)",
        )
    if "bare" in uses:
        return None  # compared as it is: the values asked for span every partition
    return (
        f"{key} is not filtered",
        f"add a condition on {key} (e.g. {key} >= … AND {key} < …) so only the partitions "
        "it names are read",
    )


def _key_uses(statement: str, keys: list[str]) -> dict[str, str]:
    """How the statement's WHERE clauses use the key columns: ``bare`` (compared as they
    are), ``function`` (its name), ``cast``, ``or`` (beside other columns)."""
    # DBAPI placeholders (%(name)s, %s) as PostgreSQL's own, for the parser
    statement = re.sub(r"%\(\w+\)s|%s", "$1", statement).replace("%%", "%")
    try:
        parsed = pglast.parse_sql(statement)
    except (pglast.parser.ParseError, ValueError):
        return {}
    found: dict[str, str] = {}
    for raw in parsed:
        for node in walk(raw.stmt):
            where = getattr(node, "whereClause", None)
            if where is not None:
                _scan(where, set(keys), found, inside=None)
            if isinstance(node, ast.JoinExpr) and node.quals is not None:
                _scan(node.quals, set(keys), found, inside=None)  # JOIN … ON prunes at run time
    return found


def _column(node: Any) -> str | None:
    if isinstance(node, ast.ColumnRef):
        names = [f.sval for f in node.fields if isinstance(f, ast.String)]
        return names[-1] if names else None
    return None


def _scan(node: Any, keys: set[str], found: dict[str, str], inside: str | None) -> None:
    if isinstance(node, ast.BoolExpr) and node.boolop == enums.BoolExprType.OR_EXPR:
        columns = {c for arm in node.args for c in _columns_in(arm)}
        if columns & keys and columns - keys:
            found["or"] = "or"
    if isinstance(node, ast.FuncCall) and any(_columns_in(a) & keys for a in node.args or ()):
        found.setdefault("function", node.funcname[-1].sval)
        return
    if isinstance(node, ast.TypeCast) and _columns_in(node.arg) & keys:
        found.setdefault("cast", "cast")
        return
    if _column(node) in keys:
        found.setdefault("bare", "bare")
        return
    if isinstance(node, ast.Node):
        for name in node:
            _scan(getattr(node, name), keys, found, inside)
    elif isinstance(node, (list, tuple)):
        for item in node:
            _scan(item, keys, found, inside)


def _columns_in(node: Any) -> set[str]:
    return {c for n in walk(node) if (c := _column(n)) is not None}


def walk(node: Any) -> Iterable[Any]:
    """Every node of a pglast tree, depth first."""
    if isinstance(node, ast.Node):
        yield node
        for name in node:
            yield from walk(getattr(node, name))
    elif isinstance(node, (list, tuple)):
        for item in node:
            yield from walk(item)
