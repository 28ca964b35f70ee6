"""Identifiers quoted the way SQLAlchemy's PostgreSQL preparer quotes them (without
importing SQLAlchemy, so ``roll`` starts fast) and values as typed literals."""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Union

from .names import check_identifier

#: A partition key's value: an instant, a date or an integer.
KeyValue = Union[dt.datetime, dt.date, int]  # noqa: UP007 - a runtime alias on 3.10

# PostgreSQL's reserved words, as SQLAlchemy's PostgreSQL dialect lists them.
RESERVED = frozenset(
    [
        "all",
        "analyse",
        "analyze",
        "and",
        "any",
        "array",
        "as",
        "asc",
        "asymmetric",
        "authorization",
        "between",
        "binary",
        "both",
        "case",
        "cast",
        "check",
        "collate",
        "column",
        "constraint",
        "create",
        "cross",
        "current_catalog",
        "current_date",
        "current_role",
        "current_schema",
        "current_time",
        "current_timestamp",
        "current_user",
        "default",
        "deferrable",
        "desc",
        "distinct",
        "do",
        "else",
        "end",
        "except",
        "false",
        "fetch",
        "for",
        "foreign",
        "freeze",
        "from",
        "full",
        "grant",
        "group",
        "having",
        "ilike",
        "in",
        "initially",
        "inner",
        "intersect",
        "into",
        "is",
        "isnull",
        "join",
        "leading",
        "left",
        "like",
        "limit",
        "localtime",
        "localtimestamp",
        "natural",
        "new",
        "not",
        "notnull",
        "null",
        "of",
        "off",
        "offset",
        "old",
        "on",
        "only",
        "or",
        "order",
        "outer",
        "over",
        "overlaps",
        "placing",
        "primary",
        "references",
        "returning",
        "right",
        "select",
        "session_user",
        "similar",
        "some",
        "symmetric",
        "table",
        "then",
        "to",
        "trailing",
        "true",
        "union",
        "unique",
        "user",
        "using",
        "variadic",
        "verbose",
        "when",
        "where",
        "window",
        "with",
    ]
)
_PLAIN = re.compile(r"^[a-z_][a-z0-9_$]*$")


@functools.lru_cache(maxsize=16384)
def ident(name: str) -> str:
    """A quoted identifier, quoted only where PostgreSQL needs it (cached: a run over a
    thousand tables quotes the same names again and again)."""
    check_identifier(name, "identifier")
    if _PLAIN.match(name) and name not in RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


def qualified(name: str, schema: str | None = None) -> str:
    return f"{ident(schema)}.{ident(name)}" if schema else ident(name)


def string_literal(value: str) -> str:
    if "\x00" in value:
        raise ValueError("NUL bytes cannot appear in SQL literals")
    return "'" + value.replace("'", "''") + "'"


def key_literal(value: KeyValue, key_type: str) -> str:
    """A partition bound as a typed literal; timestamptz bounds carry their UTC offset."""
    if key_type == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"integer bound expected, got {value!r}")
        return str(value)
    if key_type == "timestamptz":
        assert isinstance(value, dt.datetime) and value.utcoffset() is not None
        return string_literal(value.isoformat(sep=" "))
    if key_type == "timestamp":
        assert isinstance(value, dt.datetime) and value.tzinfo is None
        return string_literal(value.isoformat(sep=" "))
    assert isinstance(value, dt.date) and not isinstance(value, dt.datetime)
    return string_literal(value.isoformat())


def typed_literal(value: KeyValue, key_type: str) -> str:
    lit = key_literal(value, key_type)
    return lit if key_type == "integer" else f"{lit}::{key_type}"


def regclass(name: str, schema: str | None) -> str:
    return f"{string_literal(qualified(name, schema))}::regclass"
