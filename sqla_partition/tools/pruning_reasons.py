"""Why a statement's scan of a partitioned table could leave out no partition, read from
its text: the conditions in the scan's own scope (its WHERE and JOIN … ON), the key
resolved through the scan's alias (another table's same-named column is not the key), and
for each level of a table partitioned in turn the first key that is used in a way the
planner cannot prune on. Each reason comes with a fix that does prune.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pglast
from pglast import ast, enums

from .placeholders import to_dollar
from .pruning_fixes import fix_for, reason_for, replacement
from .pruning_terms import COMPARISONS, FLIP, RANGE_OPS, Level, Use, deparse, operator, walk

#: from the first reason that names a misuse to the last: what a reader fixes first
BROKEN = (
    "function",
    "cast",
    "arith",
    "row",
    "like",
    "ne",
    "hash_range",
    "array_param",
    "optional",
    "or",
    "join",
    "subquery",
)


@dataclass(frozen=True)
class Why:
    key: str
    reason: str
    fix: str
    #: the kind of :class:`Use` it explains
    kind: str = ""
    #: how many scans of the table the statement names
    scans: int = 1
    #: the statement with the condition rewritten so that it prunes (to be planned first)
    rewritten: str = ""


def parse(statement: str) -> Any | None:
    """The one statement of ``statement`` (PREPARE … AS unwrapped, DB-API placeholders
    read as ``$n``), or ``None``."""
    try:
        parsed = pglast.parse_sql(to_dollar(statement))
    except (pglast.parser.ParseError, ValueError):
        return None
    if len(parsed) != 1:
        return None
    stmt = parsed[0].stmt
    return stmt.query if isinstance(stmt, ast.PrepareStmt) else stmt


def named_tables(statement: str) -> set[str]:
    """The names of the tables the statement reads."""
    stmt = parse(statement)
    return {n.relname for n in walk(stmt) if isinstance(n, ast.RangeVar)} if stmt else set()


def why(
    statement: str,
    names: set[str],
    levels: Sequence[Level],
    cast_keys: Iterable[str] = (),
) -> Why:
    """The reason a scan of a table that the statement names as one of ``names`` read every
    partition; ``cast_keys``: keys the plan shows cast to the other value's type."""
    stmt = parse(statement)
    scopes = list(_occurrences(stmt, names)) if stmt is not None else []
    cast_keys = set(cast_keys)
    if stmt is not None and not scopes and levels:
        # read through a view or a function: its conditions are not in the statement's text
        level = levels[0]
        return Why(level.key, reason_for(level, Use("indirect")), fix_for(level, Use("indirect")))
    best: tuple[int, Why, Use | None, Level | None] | None = None
    for alias, conjuncts in scopes or [("", [])]:
        found = _level_why(alias, conjuncts, levels, cast_keys, bool(scopes))
        if best is None or found[0] < best[0]:
            best = found
    assert best is not None
    rank, chosen, use, level = best
    rewritten = ""
    if use is not None and level is not None and stmt is not None:
        new = replacement(level, use)
        if new is not None and _replace(stmt, use.node, new):
            try:
                rewritten = deparse(stmt)
            except Exception:  # a construct the deparser does not know: words only
                rewritten = ""
    return dataclasses.replace(chosen, scans=max(1, len(scopes)), rewritten=rewritten)


def _replace(tree: Any, old: Any, new: Any) -> bool:
    """Put ``new`` where ``old`` (the very node) is in ``tree``."""
    if not isinstance(tree, ast.Node):
        return False
    for name in tree:
        value = getattr(tree, name)
        if value is old:
            setattr(tree, name, new)
            return True
        if isinstance(value, tuple) and any(v is old for v in value):
            setattr(tree, name, tuple(new if v is old else v for v in value))
            return True
        items = value if isinstance(value, tuple) else (value,)
        if any(_replace(v, old, new) for v in items):
            return True
    return False


def _level_why(
    alias: str, conjuncts: list[Any], levels: Sequence[Level], cast_keys: set[str], known: bool
) -> tuple[int, Why, Use | None, Level | None]:
    """``(rank, why, use, level)`` of one scan: a misuse ranks first, then a key not
    filtered, then a key compared as it is over values that span every partition."""
    verdicts = []
    for level in levels:
        uses = [u for c in conjuncts if (u := classify(c, alias, level)) is not None]
        verdicts.append((level, uses))
    for level, uses in verdicts:
        broken = sorted((u for u in uses if u.kind in BROKEN), key=lambda u: BROKEN.index(u.kind))
        if broken:
            return 0, _explain(level, broken[0], levels), broken[0], level
    for level, _ in verdicts:
        if level.key in cast_keys:
            return 0, _explain(level, Use("other_type"), levels), None, None
    level, uses = verdicts[0] if verdicts else (Level("the key", "r"), [])
    if not uses:
        rank = 1 if known else 2
        return rank, _explain(level, Use("not_filtered"), levels), None, None
    return 2, _explain(level, Use("spans", node=uses[0].node), levels), None, None


# ---- the statement's scans of the table and the conditions in their scope


def _occurrences(stmt: Any, names: set[str]) -> Iterator[tuple[str, list[Any]]]:
    """``(alias, conditions ANDed in its scope)`` for each scan of one of ``names``."""
    for scope in _scopes(stmt):
        for rv in _range_vars(scope):
            if rv.relname in names:
                alias = rv.alias.aliasname if rv.alias else rv.relname
                yield alias, _conjuncts_of(scope)


def _scopes(node: Any) -> Iterator[Any]:
    """Every SELECT, UPDATE and DELETE of the statement (UNION branches, subqueries and
    CTEs each on their own)."""
    for n in walk(node):
        plain = isinstance(n, ast.SelectStmt) and n.op == enums.SetOperation.SETOP_NONE
        if plain or isinstance(n, (ast.UpdateStmt, ast.DeleteStmt)):
            yield n


def _range_vars(scope: Any) -> Iterator[Any]:
    """The tables a scope reads itself (not those of its subqueries)."""
    items = list(getattr(scope, "fromClause", None) or ())
    items += list(getattr(scope, "usingClause", None) or ())
    if isinstance(scope, (ast.UpdateStmt, ast.DeleteStmt)):
        items.append(scope.relation)
    while items:
        item = items.pop(0)
        if isinstance(item, ast.RangeVar):
            yield item
        elif isinstance(item, ast.JoinExpr):
            items += [item.larg, item.rarg]


def _conjuncts_of(scope: Any) -> list[Any]:
    out = _and_args(getattr(scope, "whereClause", None))
    items = list(getattr(scope, "fromClause", None) or ())
    while items:
        item = items.pop(0)
        if isinstance(item, ast.JoinExpr):
            out += _and_args(item.quals)
            items += [item.larg, item.rarg]
    return out


def _and_args(node: Any) -> list[Any]:
    if node is None:
        return []
    if isinstance(node, ast.BoolExpr) and node.boolop == enums.BoolExprType.AND_EXPR:
        return [c for arg in node.args for c in _and_args(arg)]
    return [node]


# ---- how one condition uses a key


def _is_key(node: Any, alias: str, key: str) -> bool:
    if not isinstance(node, ast.ColumnRef):
        return False
    names = [f.sval for f in node.fields if isinstance(f, ast.String)]
    if not names or names[-1] != key:
        return False
    return len(names) == 1 or names[-2] == alias


def _mentions(node: Any, alias: str, key: str) -> bool:
    return any(_is_key(n, alias, key) for n in walk(node, subqueries=False))


def _foreign_column(node: Any, alias: str) -> str | None:
    """A column of another table that ``node`` names (qualified by another alias)."""
    for n in walk(node, subqueries=False):
        if isinstance(n, ast.ColumnRef):
            names = [f.sval for f in n.fields if isinstance(f, ast.String)]
            if len(names) >= 2 and names[-2] != alias:
                return ".".join(names[-2:])
    return None


def classify(node: Any, alias: str, level: Level) -> Use | None:
    """How condition ``node`` uses ``level``'s key, or ``None`` when it does not."""
    key = level.key
    if not _mentions(node, alias, key):
        return None
    if isinstance(node, ast.BoolExpr):
        if node.boolop == enums.BoolExprType.OR_EXPR:
            arms = [classify(arm, alias, level) for arm in node.args]
            if all(a is not None and a.kind == "prunes" for a in arms):
                return Use("prunes", node=node)
            if any(_optional_parameter(arm) for arm in node.args):
                return Use("optional", deparse(node), node)
            return Use("or", node=node)
        if node.boolop == enums.BoolExprType.NOT_EXPR:
            return Use("ne", deparse(node), node)
        return None
    if isinstance(node, ast.NullTest):
        if _is_key(node.arg, alias, key):
            not_null = node.nulltesttype == enums.NullTestType.IS_NOT_NULL
            return Use("spans" if not_null else "prunes", node=node)
        return _wrapped(node.arg, alias, key, node)
    if isinstance(node, ast.SubLink):
        if node.testexpr is not None and _is_key(node.testexpr, alias, key):
            return Use("subquery", node=node)
        return None
    if isinstance(node, ast.A_Expr):
        return _compared(node, alias, level)
    return _wrapped(node, alias, key, node)


def _optional_parameter(node: Any) -> bool:
    return (
        isinstance(node, ast.NullTest)
        and node.nulltesttype == enums.NullTestType.IS_NULL
        and isinstance(_strip_cast(node.arg), ast.ParamRef)
    )


def _strip_cast(node: Any) -> Any:
    while isinstance(node, ast.TypeCast):
        node = node.arg
    return node


def _compared(node: ast.A_Expr, alias: str, level: Level) -> Use:
    key = level.key
    kind = node.kind
    op = operator(node)
    left, right = node.lexpr, node.rexpr
    flipped = not isinstance(right, (list, tuple)) and _is_key(right, alias, key)
    if not _is_key(left, alias, key) and flipped:
        left, right, op = right, left, FLIP.get(op, op)
    if not _is_key(left, alias, key):
        for side in (node.lexpr, node.rexpr):
            if isinstance(side, ast.RowExpr) and any(_is_key(a, alias, key) for a in side.args):
                return Use("row", deparse(node), node)
        return _wrapped(node, alias, key, node)
    if kind in (enums.A_Expr_Kind.AEXPR_LIKE, enums.A_Expr_Kind.AEXPR_ILIKE) or op in (
        "~",
        "~*",
        "~~",
        "~~*",
    ):
        return Use("like", deparse(node), node)
    if kind == enums.A_Expr_Kind.AEXPR_SIMILAR:
        return Use("like", deparse(node), node)
    if op in ("<>", "!=") or kind in (
        enums.A_Expr_Kind.AEXPR_DISTINCT,
        enums.A_Expr_Kind.AEXPR_NOT_BETWEEN,
        enums.A_Expr_Kind.AEXPR_NOT_BETWEEN_SYM,
    ):
        return Use("ne", deparse(node), node)
    if kind == enums.A_Expr_Kind.AEXPR_OP_ALL:
        return Use("ne", deparse(node), node)
    if kind == enums.A_Expr_Kind.AEXPR_OP_ANY and isinstance(_strip_cast(right), ast.ParamRef):
        return Use("array_param", deparse(node), node)
    values = right if isinstance(right, (list, tuple)) else [right]
    other = next((c for v in values if (c := _foreign_column(v, alias)) is not None), None)
    if other is not None:
        return Use("join", other, node)
    if any(isinstance(n, ast.SubLink) for v in values for n in walk(v, subqueries=False)):
        return Use("subquery", deparse(node), node)
    ranged = op in RANGE_OPS or kind in (
        enums.A_Expr_Kind.AEXPR_BETWEEN,
        enums.A_Expr_Kind.AEXPR_BETWEEN_SYM,
    )
    if level.strategy == "h" and ranged:
        return Use("hash_range", deparse(node), node)
    if op in COMPARISONS or kind in (
        enums.A_Expr_Kind.AEXPR_IN,
        enums.A_Expr_Kind.AEXPR_BETWEEN,
        enums.A_Expr_Kind.AEXPR_BETWEEN_SYM,
        enums.A_Expr_Kind.AEXPR_OP_ANY,
    ):
        return Use("prunes", node=node)
    return Use("function", f"the operator {op}", node)


def _wrapped(node: Any, alias: str, key: str, condition: Any) -> Use:
    """The innermost expression that wraps the key: a function, a cast or arithmetic."""
    found: Use | None = None

    def visit(n: Any) -> bool:
        nonlocal found
        if isinstance(n, (list, tuple)):
            return any(visit(item) for item in n)
        if not isinstance(n, ast.Node) or isinstance(n, ast.SubLink):
            return False
        if _is_key(n, alias, key):
            return True
        inside = any(visit(getattr(n, name)) for name in n)
        if inside and found is None:
            found = _wrapper(n, condition)
        return inside

    visit(node)
    return found or Use("function", "an expression", condition)


def _wrapper(n: Any, condition: Any) -> Use | None:
    if isinstance(n, ast.FuncCall):
        name = n.funcname[-1].sval
        if name == "timezone" and n.funcformat == enums.CoercionForm.COERCE_SQL_SYNTAX:
            name = "AT TIME ZONE"
        return Use("function", name, condition)
    if isinstance(n, ast.CoalesceExpr):
        return Use("function", "coalesce", condition)
    if isinstance(n, ast.MinMaxExpr):
        return Use("function", "greatest" if n.op == 0 else "least", condition)
    if isinstance(n, ast.CaseExpr):
        return Use("function", "CASE", condition)
    if isinstance(n, ast.TypeCast):
        return Use("cast", deparse(n.typeName), condition)
    if isinstance(n, ast.A_Expr) and operator(n) in ("+", "-", "*", "/"):
        return Use("arith", deparse(n), condition)
    if isinstance(n, ast.RowExpr):
        return Use("row", deparse(condition), condition)
    return None


# ---- the words


def _explain(level: Level, use: Use, levels: Sequence[Level]) -> Why:
    return Why(level.key, reason_for(level, use), fix_for(level, use), use.kind)


def quote_key(key: str) -> str:
    return key if re.fullmatch(r"[a-z_][a-z0-9_$]*", key) else '"' + key.replace('"', '""') + '"'
