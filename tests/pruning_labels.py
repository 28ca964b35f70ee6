"""Labels of the pruning corpus from EXPLAIN (ANALYZE): which partitioned tables a
statement reads in full, as the server runs it (a test helper, independent of the advice).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg

_PREPARED = re.compile(r"^\s*PREPARE\s+\w+\s+AS\s+", re.IGNORECASE)

_TREE = """
SELECT p.relname, l.relname
  FROM pg_class p
 CROSS JOIN LATERAL pg_partition_tree(p.oid) t
  JOIN pg_class l ON l.oid = t.relid AND t.isleaf
 WHERE p.relkind = 'p' AND p.relnamespace = 'public'::regnamespace
"""
_PARENTS = """
SELECT c.relname, p.relname FROM pg_inherits i
  JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
 WHERE c.relkind = 'p'
"""


class Labeller:
    """Runs each statement in a transaction it rolls back."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.leaves: dict[str, set[str]] = {}
        for parent, leaf in conn.execute(_TREE).fetchall():
            self.leaves.setdefault(parent, set()).add(leaf)
        self.parent = dict(conn.execute(_PARENTS).fetchall())

    def _scans(self, statement: str, params: Sequence[str], pruning: bool) -> list[tuple[str, int]]:
        """Every leaf scan of the plan in its order, with the times it ran."""
        conn = self.conn
        statement = _PREPARED.sub("", statement)
        with conn.transaction(force_rollback=True):
            conn.execute(f"SET LOCAL enable_partition_pruning = {'on' if pruning else 'off'}")
            if re.search(r"\$\d", statement):
                conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
                conn.execute("DEALLOCATE ALL")
                conn.execute(f"PREPARE corpus_statement AS {statement}")
                values = ", ".join(_literal(v) for v in params)
                query = f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE corpus_statement({values})"
            else:
                query = f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}"
            (plan,) = conn.execute(query).fetchone()
        conn.execute("DEALLOCATE ALL")
        plan = json.loads(plan) if isinstance(plan, str) else plan
        return [
            (node["Relation Name"], int(node.get("Actual Loops", 0)))
            for node in _nodes(plan[0]["Plan"])
            if node.get("Relation Name")
        ]

    def full(self, statement: str, params: Sequence[str] = ()) -> set[str]:
        """The topmost partitioned tables that one scan of the statement reads in full.

        A scan of a table is a run of its leaves in the order the planner lists them (by
        bound, as every scan without pruning shows them): a UNION ALL of two scans of one
        table is planned as one list, the second scan starting over."""
        on = self._scans(statement, params, pruning=True)
        off = self._scans(statement, params, pruning=False)
        full = set()
        for table, leaves in self.leaves.items():
            order = {}
            for leaf, _ in off:
                if leaf in leaves:
                    order.setdefault(leaf, len(order))
            # per leaf, the times one scan ran it with no pruning at all
            runs_off: dict[str, list[int]] = {}
            for leaf, loops in off:
                runs_off.setdefault(leaf, []).append(loops)
            for run in _runs([(leaf, n) for leaf, n in on if leaf in leaves], order):
                if {leaf for leaf, _ in run} != leaves:
                    continue  # a leaf left out when planned, or at the executor's start
                ran = sum(n for _, n in run)
                unpruned = sum(max(runs_off.get(leaf, [0])) for leaf, _ in run)
                if ran >= unpruned:  # fewer: leaves left out at run time
                    full.add(table)
        return {t for t in full if self.parent.get(t) not in full}


def _runs(scans: list[tuple[str, int]], order: dict[str, int]) -> list[list[tuple[str, int]]]:
    runs: list[list[tuple[str, int]]] = []
    last = None
    for leaf, loops in scans:
        position = order.get(leaf, -1)
        if last is None or position <= last:
            runs.append([])
        runs[-1].append((leaf, loops))
        last = position
    return runs


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _nodes(plan: dict[str, Any]) -> Iterable[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)
