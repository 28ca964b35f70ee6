"""Which scans of a plan read every partition of a partitioned table.

A scan is the run of a table's leaves that one reference to it plans, in bound order: a
UNION ALL of two scans of one table is planned as one list of leaves, the second starting
over. A scan that keeps every leaf reads every partition, unless the executor leaves some
out at run time: each leaf then compares the key with a value that only the run knows (a
nested loop's outer row, an InitPlan's result), which plain EXPLAIN cannot show.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .pruning import PartitionMap

_CONDITIONS = ("Filter", "Index Cond", "Recheck Cond", "TID Cond")
_NAME = r'(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)'
_COLUMN = re.compile(rf"({_NAME})\.({_NAME})(?!\s*\()")
_INIT_PLAN = re.compile(r"InitPlan \d+ \(returns ([^)]*)\)")
_RUN_TIME_OPS = ("<=", ">=", "=", "<", ">")


@dataclass(frozen=True)
class Scan:
    """One scan that keeps every leaf of ``table``."""

    table: str
    #: keys the plan shows cast to the compared value's type (``(id)::numeric = 5.0``)
    cast_keys: tuple[str, ...]
    #: what decides at run time which leaves are read, or ``""``
    run_time: str


def full_scans(plan: dict[str, Any], partitions: PartitionMap) -> list[Scan]:
    nodes = list(_leaf_scans(plan, partitions))
    params = {p.strip() for n in _all(plan) for p in _init_params(n)}
    found: list[tuple[str, list[dict[str, Any]]]] = []
    for name, entry in partitions.tables.items():
        if len(entry.leaves) < 2:
            continue  # one partition: nothing to leave out
        mine = [(leaf, node) for leaf, node in nodes if leaf in entry.leaves]
        if len({leaf for leaf, _ in mine}) < len(entry.leaves):
            continue
        for run in _runs(mine, name, partitions):
            if {leaf for leaf, _ in run} == entry.leaves:
                found.append((name, [node for _, node in run]))
    out = []
    for name, run in found:
        ids = {id(n) for n in run}
        chain = partitions.chain(name)[1:]
        if any(other in chain and ids <= {id(n) for n in nodes_} for other, nodes_ in found):
            continue  # the table above it is read in full by the same scan
        keys = [level.key for level in partitions.levels(name)]
        strategies = {level.key: level.strategy for level in partitions.levels(name)}
        cast = tuple(k for k in keys if any(_cast(node, k) for node in run))
        run_time = ""
        for key in keys:
            eq_only = strategies[key] == "h"
            values = [_run_time_value(node, key, params, eq_only) for node in run]
            if all(values):
                run_time = f"{key}'s comparison with {values[0]}"
                break
        out.append(Scan(name, cast, run_time))
    return out


def _all(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _all(child)


def _leaf_scans(
    plan: dict[str, Any], partitions: PartitionMap
) -> Iterator[tuple[tuple[str, str], dict[str, Any]]]:
    for node in _all(plan):
        name = node.get("Relation Name")
        if name is not None:
            leaf = (node.get("Schema", "public"), name)
            if leaf in partitions.owners:
                yield leaf, node


def _runs(
    scans: list[tuple[tuple[str, str], dict[str, Any]]], table: str, partitions: PartitionMap
) -> list[list[tuple[tuple[str, str], dict[str, Any]]]]:
    """The scans one after the other: a leaf seen again starts another (at a leaf that
    comes before the last in bound order)."""
    if len({leaf for leaf, _ in scans}) == len(scans):
        return [scans]
    runs: list[list[tuple[tuple[str, str], dict[str, Any]]]] = []
    last = None
    for leaf, node in scans:
        position = partitions.position(table, leaf)
        if last is None or position <= last:
            runs.append([])
        runs[-1].append((leaf, node))
        last = position
    return runs


def _init_params(node: dict[str, Any]) -> list[str]:
    """``$0`` of ``InitPlan 1 (returns $0)`` (PostgreSQL 15, 16)."""
    match = _INIT_PLAN.search(node.get("Subplan Name", "") or "")
    return match.group(1).split(",") if match else []


def _conditions(node: dict[str, Any]) -> list[str]:
    out = [node[k] for k in _CONDITIONS if node.get(k)]
    for child in node.get("Plans", ()):
        if child.get("Node Type", "").startswith("Bitmap"):
            out += _conditions(child)
    return out


def _cast(node: dict[str, Any], key: str) -> bool:
    pattern = rf"[(.]\"?{re.escape(key)}\"?\)::"
    return any(re.search(pattern, c) for c in _conditions(node))


def _run_time_value(node: dict[str, Any], key: str, params: set[str], eq_only: bool) -> str:
    """What the scan compares the key with that only the run knows, or ``""``."""
    alias = node.get("Alias", node.get("Relation Name", ""))
    for condition in _conditions(node):
        for part in _conjuncts(_without_literals(condition)):
            found = _compared_at_run_time(part, alias, key, params, eq_only)
            if found:
                return found
    return ""


def _compared_at_run_time(part: str, alias: str, key: str, params: set[str], eq_only: bool) -> str:
    for op in _RUN_TIME_OPS:
        sides = part.split(f" {op} ")
        if len(sides) != 2 or (eq_only and op != "="):
            continue
        for mine, other in (sides, sides[::-1]):
            if _unquote(mine.strip()) != (alias, key):
                continue
            other = other.strip()
            if other in params:
                return f"{other} (a subquery's result)"
            if re.fullmatch(r"\(InitPlan \d+\)\.col\d+", other):
                return f"{other} (a subquery's result)"
            column = _COLUMN.fullmatch(other)
            if column and _unquote(other)[0] != alias:
                return f"{other} (each row of a nested loop)"
    return ""


def _unquote(text: str) -> tuple[str, str] | None:
    match = _COLUMN.fullmatch(text)
    if not match:
        return None
    return tuple(  # type: ignore[return-value]
        g[1:-1].replace('""', '"') if g.startswith('"') else g for g in match.groups()
    )


def _without_literals(text: str) -> str:
    return re.sub(r"'(?:[^']|'')*'", "''", text)


def _conjuncts(text: str) -> list[str]:
    """The ANDed parts of a condition as EXPLAIN prints it; an OR is left out (it cannot
    prune at run time on its own)."""
    text = _strip(text)
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        c = text[i]
        depth += {"(": 1, ")": -1}.get(c, 0)
        if depth == 0 and text.startswith(" OR ", i):
            return []
        if depth == 0 and text.startswith(" AND ", i):
            parts.append(text[start:i])
            start = i + 5
        i += 1
    if not parts:
        return [text]
    parts.append(text[start:])
    return [c for p in parts for c in _conjuncts(p)]


def _strip(text: str) -> str:
    text = text.strip()
    while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1].strip()
    return text


def _balanced(text: str) -> bool:
    depth = 0
    for c in text:
        depth += {"(": 1, ")": -1}.get(c, 0)
        if depth < 0:
            return False
    return depth == 0
