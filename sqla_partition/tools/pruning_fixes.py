"""The words of a pruning report: the reason a key could not prune and the fix, written
out as SQL where the condition can be rewritten mechanically (arithmetic moved to the
value's side, a keyset's first column bounded, a day truncated into a range)."""

from __future__ import annotations

import re
from typing import Any

from pglast import ast, enums

from ..sql.advice import type_name_node
from ..sql.quoting import string_literal
from .pruning_terms import FLIP, Level, Use, deparse
from .pruning_terms import operator as _op

_NAMED = {
    "AT TIME ZONE": "converted with AT TIME ZONE",
    "an expression": "used inside an expression",
}


def reason_for(level: Level, use: Use) -> str:
    k, d = level.key, use.detail
    if use.kind == "function":
        if d in _NAMED:
            return f"{k} is {_NAMED[d]}"
        if d.startswith("the operator"):
            return f"{k} is compared with {d}, which does not prune"
        return f"{k} is wrapped in {d}()"
    ne = (
        "hash partitions are chosen by equality only"
        if level.strategy == "h"
        else "which leaves out only a partition holding nothing but that value"
    )
    generic = "which a generic plan (a prepared statement's) cannot prune on"
    return {
        "not_filtered": f"{k} is not filtered",
        "indirect": f"{k} is not filtered where the table is read (the statement reads it "
        "through a view or a function)",
        "spans": f"{k} is compared as it is, but the values asked for span every partition",
        "cast": f"{k} is cast to {d}",
        "arith": f"{k} is inside arithmetic ({d})",
        "row": f"{k} is compared in a row comparison ({d}), which does not prune",
        "like": f"{k} is matched with a pattern ({d}), which does not prune",
        "ne": f"{k} is compared with <> ({d}): {ne}"
        if level.strategy == "h"
        else (f"{k} is compared with <> ({d}), {ne}"),
        "hash_range": f"{k} is a hash key compared with a range ({d}): hash partitions "
        "are chosen by equality only",
        "array_param": f"{k} is compared with an array parameter ({d}), {generic}",
        "optional": f"{k} is compared inside an optional-parameter OR ({d}), {generic}",
        "or": f"{k} is compared inside an OR with other columns",
        "join": f"{k} is compared with another table's column ({d}), which prunes only at "
        "run time in a nested loop, and this plan joins the tables otherwise",
        "subquery": f"{k} is compared with the rows of a subquery, planned as a join that "
        "reads every partition",
        "other_type": f"{k} is compared with a value of another type, so PostgreSQL casts the key",
    }[use.kind]


def fix_for(level: Level, use: Use) -> str:
    k, kind, strategy = level.key, use.kind, level.strategy
    values = {
        "r": f"{k} >= … AND {k} < …",
        "l": f"{k} = … or {k} IN (…)",
        "h": f"{k} = … or {k} IN (…)",
    }[strategy if strategy in "rlh" else "r"]
    if kind == "not_filtered":
        return f"add a condition on {k} (e.g. {values}) so only the partitions it names are read"
    if kind == "indirect":
        return (
            f"filter {k} where the view or function reads the table, or compare {k} as it "
            "is in the statement, if the view passes it through"
        )
    if kind == "spans":
        return (
            f"narrow the condition on {k} to the partitions the statement needs (a statement "
            "that must read everything can be left as it is)"
        )
    if kind == "function":
        return _function_fix(level, use, values)
    if kind == "cast":
        if strategy == "r" and use.detail in ("date", "pg_catalog.date"):
            return (
                f"compare {k} directly and cast the value instead: instead of {k}::date = d, "
                f"write {k} >= d AND {k} < d + 1"
            )
        if strategy == "r":
            return f"compare {k} directly and cast the value instead ({values})"
        return f"compare {k} with a value of its own type ({values}): cast the value, not {k}"
    if kind == "arith":
        rewritten = _arith_rewrite(use.node, k)
        if rewritten:
            return f"move the arithmetic to the other side: {rewritten}"
        return f"compare {k} itself and put the arithmetic on the value's side"
    if kind == "row":
        bound = _row_bound(use.node, k)
        return (
            f"bound {k} on its own beside the row comparison: {bound} AND {use.detail}"
            if bound
            else f"bound {k} on its own beside the row comparison ({values})"
        )
    if kind == "like":
        prefix = _like_prefix(use.node)
        if prefix and strategy != "h":
            low, high = (string_literal(p) for p in prefix)
            return (
                f"compare {k} with the prefix's range: {k} >= {low} AND {k} < {high} (the "
                "same rows in the C collation's order; in another, keep the LIKE beside it), "
                f"or name the values: {k} IN (…)"
            )
        return f"name the values wanted: {k} IN (…)"
    if kind in ("ne", "hash_range"):
        return f"name the values wanted: {k} IN (…)"
    if kind == "array_param":
        return (
            f"pass the values as parameters of their own ({k} IN ($1, $2, …)), or plan the "
            "statement for its values (SET plan_cache_mode = force_custom_plan)"
        )
    if kind == "optional":
        return (
            f"send one statement without the condition when the parameter is NULL and one "
            f"that compares {k} when it is not, or plan the statement for its values (SET "
            "plan_cache_mode = force_custom_plan)"
        )
    if kind == "or":
        return f"split the OR into a UNION ALL of statements that each compare {k}"
    if kind in ("join", "subquery"):
        return (
            f"add a condition on {k} itself with constants or parameters ({values}: the "
            "range the joined rows fall in)"
        )
    return f"compare {k} with a value of its own type (cast the value, not the column)"


def _function_fix(level: Level, use: Use, values: str) -> str:
    k, name = level.key, use.detail
    if name == "to_timestamp":  # an epoch column
        return (
            f"compare {k} itself with the time as a number: instead of to_timestamp({k}) "
            f">= x, write {k} >= extract(epoch FROM x) (times 1000 for milliseconds, "
            "1000000 for microseconds)"
        )
    if name == "AT TIME ZONE":
        return (
            f"convert the value instead of {k}: instead of {k} AT TIME ZONE z >= x, write "
            f"{k} >= x AT TIME ZONE z"
        )
    if name == "coalesce":
        return (
            f"compare {k} itself ({values}): a partition key that is never NULL needs no coalesce"
        )
    if level.strategy != "r":
        return f"compare {k} itself with the values as they are stored ({values})"
    if name == "date_trunc":
        unit = _date_trunc_unit(use.node)
        step = f"interval '1 {unit}'" if unit else "one unit"
        return (
            f"compare {k} itself: instead of date_trunc(…, {k}) = x, write {k} >= x AND "
            f"{k} < x + {step}"
        )
    if name in ("extract", "date_part"):
        return (
            f"compare {k} with the range the value stands for: instead of "
            f"extract(year FROM {k}) = 2026, write {k} >= '2026-01-01' AND {k} < '2027-01-01'"
        )
    return f"compare {k} itself: instead of {name}({k}) = x, write {k} >= x AND {k} < the next x"


def _date_trunc_unit(node: Any) -> str | None:
    for n in (node.lexpr, node.rexpr) if isinstance(node, ast.A_Expr) else ():
        if isinstance(n, ast.FuncCall) and n.funcname[-1].sval == "date_trunc" and n.args:
            first = n.args[0]
            if isinstance(first, ast.A_Const) and isinstance(first.val, ast.String):
                return first.val.sval
    return None


def _arith_rewrite(node: Any, key: str) -> str | None:
    found = _arith_node(node, key, "")
    return deparse(found) if found is not None else None


def _arith_node(node: Any, key: str, key_type: str) -> Any | None:
    """``key ± a OP b`` as ``key OP b ∓ a`` (and ``a ± key OP b`` alike); an untyped
    literal on the value's side takes the key's type, as it did beside the key."""
    if not isinstance(node, ast.A_Expr) or node.kind != enums.A_Expr_Kind.AEXPR_OP:
        return None
    op, left, right = _op(node), node.lexpr, node.rexpr
    if op not in FLIP:
        return None
    if not _arith_with_key(left, key):
        left, right, op = right, left, FLIP[op]
    if not _arith_with_key(left, key):
        return None
    right = _typed(right, key_type)
    inner = _op(left)
    if _bare_key(left.lexpr, key):
        # key + a OP b  ->  key OP b - a ;  key - a OP b  ->  key OP b + a
        value = _binary("-" if inner == "+" else "+", right, left.rexpr)
    elif inner == "+":  # a + key OP b  ->  key OP b - a
        value = _binary("-", right, left.lexpr)
    else:  # a - key OP b  ->  key FLIP(OP) a - b
        value, op = _binary("-", left.lexpr, right), FLIP[op]
    column = left.lexpr if _bare_key(left.lexpr, key) else left.rexpr
    return _binary(op, column, value)


def _arith_moved(node: Any, key: str) -> Any | None:
    """The operand :func:`_arith_node` moves to the other side."""
    if not isinstance(node, ast.A_Expr):
        return None
    left, right = node.lexpr, node.rexpr
    if not _arith_with_key(left, key):
        left, right = right, left
    if not _arith_with_key(left, key):
        return None
    if _bare_key(left.lexpr, key):
        return left.rexpr
    return left.lexpr if _op(left) == "+" else right


#: Units of a fixed length: moving such an interval across a comparison keeps its rows (a
#: day, a month or a year is a calendar step, whose length depends on where it starts).
_FIXED_UNITS = re.compile(
    r"^\s*([+-]?\d+(\.\d+)?\s*(microseconds?|milliseconds?|ms|us|seconds?|secs?|s|"
    r"minutes?|mins?|m|hours?|hrs?|h)\s*)+$",
    re.IGNORECASE,
)
_NUMERIC_TYPES = ("smallint", "integer", "bigint", "numeric", "real", "double precision")


def _exact_shift(moved: Any, key_type: str) -> bool:
    """Moving ``moved`` across the comparison keeps the same rows: a number beside a
    numeric key, or an interval of hours, minutes or seconds."""
    if isinstance(moved, ast.A_Const):
        return isinstance(moved.val, (ast.Integer, ast.Float)) and key_type.startswith(
            _NUMERIC_TYPES
        )
    if isinstance(moved, ast.TypeCast) and isinstance(moved.arg, ast.A_Const):
        names = [n.sval for n in moved.typeName.names if isinstance(n, ast.String)]
        text = moved.arg.val.sval if isinstance(moved.arg.val, ast.String) else ""
        return names[-1:] == ["interval"] and bool(_FIXED_UNITS.match(text))
    return False


def _arith_with_key(node: Any, key: str) -> bool:
    return (
        isinstance(node, ast.A_Expr)
        and _op(node) in ("+", "-")
        and (_bare_key(node.lexpr, key) or _bare_key(node.rexpr, key))
    )


def _bare_key(node: Any, key: str) -> bool:
    if not isinstance(node, ast.ColumnRef):
        return False
    names = [f.sval for f in node.fields if isinstance(f, ast.String)]
    return bool(names) and names[-1] == key


def _binary(op: str, left: Any, right: Any) -> Any:
    return ast.A_Expr(
        kind=enums.A_Expr_Kind.AEXPR_OP, name=(ast.String(sval=op),), lexpr=left, rexpr=right
    )


def _row_bound(node: Any, key: str) -> str | None:
    found = _row_bound_node(node, key)
    return deparse(found) if found is not None else None


def _like_prefix(node: Any) -> tuple[str, str] | None:
    """``'de%'`` as ``de`` and ``df``: a prefix with no other wildcard."""
    pattern = getattr(node, "rexpr", None)
    if not isinstance(pattern, ast.A_Const) or not isinstance(pattern.val, ast.String):
        return None
    text = pattern.val.sval
    if node.kind != enums.A_Expr_Kind.AEXPR_LIKE or _op(node) != "~~" or not text.endswith("%"):
        return None  # NOT LIKE (!~~) asks for the rows outside the range
    prefix = text[:-1]
    if not prefix or any(c in prefix for c in "%_\\"):
        return None
    last = ord(prefix[-1]) + 1
    if last > 0x10FFFF or 0xD800 <= last <= 0xDFFF:  # no next character, or a surrogate
        return None
    high = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return prefix, high


def replacement(level: Level, use: Use) -> Any | None:
    """The condition ``use.node`` written so that it prunes, where that is mechanical; the
    caller plans the statement with it before offering it."""
    k, node = level.key, use.node
    if use.kind == "arith":  # only where moving it keeps the same rows
        moved = _arith_moved(node, k)
        return _arith_node(node, k, level.type) if _exact_shift(moved, level.type) else None
    if use.kind == "row":
        bound = _row_bound_node(node, k)
        return _and(bound, node) if bound is not None else None
    plain = isinstance(node, ast.A_Expr) and node.kind == enums.A_Expr_Kind.AEXPR_OP
    if not plain or _op(node) != "=" or level.strategy != "r":
        return None  # (= ANY, IN, <> … and coalesce, which would drop rows with no key)
    wrapped, value = node.lexpr, node.rexpr
    if not _wraps_key(wrapped, k):
        wrapped, value = value, wrapped
    if use.kind == "cast" and isinstance(wrapped, ast.TypeCast) and use.detail in ("date",):
        column = wrapped.arg
        day = ast.TypeCast(arg=value, typeName=wrapped.typeName)
        # the range is implied by the condition, which stays: the same rows, pruned
        lower, upper = _binary(">=", column, day), _binary("<", column, _binary("+", day, _int(1)))
        return _and(lower, upper, node)
    if use.kind == "function" and use.detail == "date_trunc" and isinstance(wrapped, ast.FuncCall):
        unit = _date_trunc_unit(node)
        if unit is None or len(wrapped.args) < 2:
            return None
        column = wrapped.args[1]
        step = ast.TypeCast(
            arg=ast.A_Const(val=ast.String(sval=f"1 {unit}")),
            typeName=ast.TypeName(names=(ast.String(sval="interval"),), typemod=-1),
        )
        start = _typed(value, level.type or "timestamp with time zone")
        lower, upper = _binary(">=", column, start), _binary("<", column, _binary("+", start, step))
        return _and(lower, upper, node)  # implied by the condition, which stays
    return None


def _wraps_key(node: Any, key: str) -> bool:
    if isinstance(node, ast.TypeCast):
        return _bare_key(node.arg, key)
    if isinstance(node, ast.FuncCall):
        return any(_bare_key(a, key) for a in node.args or ())
    return False


def _row_bound_node(node: Any, key: str) -> Any | None:
    if not isinstance(node, ast.A_Expr) or _op(node) not in ("<", "<=", ">", ">="):
        return None
    left, right = node.lexpr, node.rexpr
    if not isinstance(left, ast.RowExpr) or not isinstance(right, ast.RowExpr):
        return None
    if not left.args or not _bare_key(left.args[0], key) or not right.args:
        return None
    return _binary("<=" if _op(node) in ("<", "<=") else ">=", left.args[0], right.args[0])


def _and(*args: Any) -> Any:
    return ast.BoolExpr(boolop=enums.BoolExprType.AND_EXPR, args=args)


def _int(value: int) -> Any:
    return ast.A_Const(val=ast.Integer(ival=value))


def _typed(value: Any, type_name: str) -> Any:
    """An untyped literal or a parameter cast to ``type_name`` (a type the catalog named);
    anything else as it is."""
    literal = isinstance(value, ast.A_Const) and isinstance(value.val, ast.String)
    if not type_name or not (literal or isinstance(value, ast.ParamRef)):
        return value
    node = type_name_node(type_name)
    return value if node is None else ast.TypeCast(arg=value, typeName=node)
