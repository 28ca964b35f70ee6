"""The terms pruning advice speaks in: a level of a partitioned table, a use of its key,
and the SQL of a node."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pglast import ast
from pglast.stream import RawStream

RANGE_OPS = {"<", ">", "<=", ">="}
COMPARISONS = RANGE_OPS | {"="}
FLIP = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "="}


@dataclass(frozen=True)
class Level:
    """One level of a partitioned table: its key column and strategy (``r``, ``l``, ``h``)."""

    key: str
    strategy: str
    #: the key's type as PostgreSQL names it (``timestamp with time zone``), or ``""``
    type: str = ""


@dataclass(frozen=True)
class Use:
    """How one condition uses a key: a kind of misuse, ``prunes`` (compared as it is) or
    ``spans``; ``detail`` what the reason quotes; ``node`` the condition."""

    kind: str
    detail: str = ""
    node: Any = None


def deparse(node: Any) -> str:
    return str(RawStream()(node))


def operator(node: Any) -> str:
    return node.name[-1].sval if getattr(node, "name", None) else ""


def walk(node: Any, subqueries: bool = True) -> Iterator[Any]:
    """Every node of a pglast tree, depth first; without ``subqueries``, a subquery's own
    nodes are left out (its columns are its own), the expression it is compared with not."""
    if not subqueries and isinstance(node, ast.SubLink):
        yield node
        yield from walk(node.testexpr, subqueries)
        return
    if isinstance(node, ast.Node):
        yield node
        for name in node:
            yield from walk(getattr(node, name), subqueries)
    elif isinstance(node, (list, tuple)):
        for item in node:
            yield from walk(item, subqueries)
