"""A snapshot of the live database's partitioning, read in a constant number of queries.

The snapshot is plain data: the planner compares it with the policies without touching
the database again.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import CatalogError, PolicyError
from .periods import KeyValue
from .specs import Range, TablePolicy, policy_from_dict
from .sql import CATALOG_QUERY, POLICY_QUERY, catalog_query

#: Runs one query without parameters and returns its rows.
Query = Callable[[str], Sequence[Sequence[Any]]]

_STRATEGIES = {"r": "range", "h": "hash", "l": "list"}


def key_type_of(pg_type: str | None) -> str:
    """Map ``format_type`` output to the key types the planner knows."""
    t = (pg_type or "").lower()
    if t.startswith("timestamp") and "with time zone" in t and "without" not in t:
        return "timestamptz"
    if t.startswith("timestamp"):
        return "timestamp"
    if t == "date":
        return "date"
    if t in ("integer", "bigint", "smallint"):
        return "integer"
    return t


_RANGE_BOUND = re.compile(r"^FOR VALUES FROM \((?P<lo>.+)\) TO \((?P<hi>.+)\)$", re.S)
_HASH_BOUND = re.compile(r"^FOR VALUES WITH \(modulus (\d+), remainder (\d+)\)$", re.I)
_TS = re.compile(
    r"^(\d{4})-(\d\d)-(\d\d)(?: (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?)?"
    r"(?:([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?)?$"
)


@functools.lru_cache(maxsize=4096)
def parse_key_value(text: str, key_type: str) -> KeyValue | None:
    """One bound value as PostgreSQL prints it (ISO DateStyle); ``None`` for MIN/MAXVALUE."""
    text = text.strip()
    if text.upper() in ("MINVALUE", "MAXVALUE"):
        return None
    if text.startswith("'") and text.endswith("'"):
        text = text[1:-1]
    if key_type == "integer":
        return int(text)
    m = _TS.match(text)
    if not m:
        raise CatalogError(f"cannot read partition bound {text!r}")
    y, mo, d, hh, mi, ss, frac, sign, oh, om, os_ = m.groups()
    if key_type == "date":
        return dt.date(int(y), int(mo), int(d))
    micro = int((frac or "0").ljust(6, "0"))
    value = dt.datetime(int(y), int(mo), int(d), int(hh or 0), int(mi or 0), int(ss or 0), micro)
    if key_type == "timestamptz":
        if sign is None:
            raise CatalogError(f"timestamptz bound without offset: {text!r}")
        offset = dt.timedelta(hours=int(oh), minutes=int(om or 0), seconds=int(os_ or 0))
        value = value.replace(tzinfo=dt.timezone(offset if sign == "+" else -offset))
    return value


@dataclass(slots=True)
class Child:
    """One partition; built by the thousand, hence plain slots."""

    name: str
    schema: str
    bound: str
    is_default: bool = False
    lower: KeyValue | None = None
    upper: KeyValue | None = None
    modulus: int | None = None
    remainder: int | None = None
    detach_pending: bool = False
    is_partitioned: bool = False


@dataclass(frozen=True)
class Parent:
    schema: str
    name: str
    strategy: str
    key_columns: tuple[str, ...]
    key_type: str
    children: tuple[Child, ...] = ()
    policy: TablePolicy | None = None
    #: ``(schema, name)`` of partitions of its partitions (a range of hashes).
    sub_partitions: tuple[tuple[str, str], ...] = ()

    @property
    def default(self) -> Child | None:
        return next((c for c in self.children if c.is_default), None)

    def ranges(self) -> list[Child]:
        """Non-default range children in bound order (MINVALUE first)."""
        out = [
            c for c in self.children if not c.is_default and c.bound.startswith("FOR VALUES FROM")
        ]
        return sorted(out, key=lambda c: (c.lower is not None, c.lower))  # type: ignore[arg-type,return-value]


@dataclass
class Snapshot:
    parents: dict[tuple[str, str], Parent] = field(default_factory=dict)
    has_policy_table: bool = False
    #: A standby, or a session that may not write.
    read_only: bool = False
    #: The Citus extension is installed: hash tables become distributed tables.
    has_citus: bool = False
    #: Recorded policies, including those whose table no longer exists.
    policies: dict[tuple[str, str], TablePolicy] = field(default_factory=dict)

    def get(
        self, table: str, schema: str | None = None, default_schema: str = "public"
    ) -> Parent | None:
        return self.parents.get((schema or default_schema, table))

    def partition_names(self) -> set[tuple[str, str]]:
        names = {(c.schema, c.name) for p in self.parents.values() for c in p.children}
        names.update(sub for p in self.parents.values() for sub in p.sub_partitions)
        return names


def _child(
    name: str, schema: str, bound: str | None, kind: str, pending: bool, key_type: str, bounds: bool
) -> Child:
    bound = bound or ""
    common = {
        "name": name,
        "schema": schema,
        "bound": bound,
        "detach_pending": bool(pending),
        "is_partitioned": kind == "p",
    }
    if bound == "DEFAULT":
        return Child(is_default=True, **common)
    if not bounds:
        return Child(**common)
    m = _RANGE_BOUND.match(bound)
    if m and ("," not in m.group("lo") or "," not in _strip_quoted(m.group("lo"))):
        return Child(
            lower=parse_key_value(m.group("lo"), key_type),
            upper=parse_key_value(m.group("hi"), key_type),
            **common,
        )
    h = _HASH_BOUND.match(bound)
    if h:
        return Child(modulus=int(h.group(1)), remainder=int(h.group(2)), **common)
    return Child(**common)


def _strip_quoted(text: str) -> str:
    return re.sub(r"'(?:[^']|'')*'", "''", text)


def parse_catalog(rows: Sequence[Sequence[Any]], bounds: bool = True) -> Snapshot:
    """The catalog query's rows as a snapshot, without the recorded policies."""
    snap = Snapshot()
    parent_rows = []
    for row in rows:
        snap.has_policy_table = bool(row[10])
        snap.read_only = bool(row[12])
        snap.has_citus = bool(row[15])
        if not str(row[11]).upper().startswith("ISO"):
            raise CatalogError(
                f"DateStyle is {row[11]!r}; sqla-partition reads partition bounds in ISO style. "
                "Set DateStyle to 'ISO, MDY' for this role or connection"
            )
        if row[0] is not None:
            parent_rows.append(row)
    for (
        schema,
        name,
        strategy,
        keys,
        pg_type,
        names,
        schemas,
        bnds,
        kinds,
        pending,
        _has_policy_table,
        _datestyle,
        _read_only,
        sub_names,
        sub_schemas,
        *_,
    ) in parent_rows:
        key_type = key_type_of(pg_type)
        children = tuple(
            _child(*fields, key_type, bounds)
            for fields in zip(
                names or (), schemas or (), bnds or (), kinds or (), pending or (), strict=True
            )
        )
        snap.parents[(schema, name)] = Parent(
            schema=schema,
            name=name,
            strategy=_STRATEGIES.get(strategy, strategy),
            key_columns=tuple((keys or "").split(",")),
            key_type=key_type,
            children=children,
            sub_partitions=tuple(zip(sub_schemas or (), sub_names or (), strict=True)),
        )
    return snap


def read_snapshot(
    query: Query, *, bounds: bool = True, table: tuple[str, str] | None = None
) -> Snapshot:
    """Read every partitioned parent, its children and the recorded policies.

    Two queries whatever the number of tables: the catalog, then the policy rows when the
    policy table exists. ``bounds=False`` skips parsing partition bounds, for callers that
    only need names.
    """
    snap = parse_catalog(query(catalog_query(*table) if table else CATALOG_QUERY), bounds)
    records = query(POLICY_QUERY) if snap.has_policy_table else []
    for schema, name, policy_text, key_type in records:
        try:
            policy = policy_from_dict(json.loads(policy_text))
            bound = TablePolicy(name, policy, key_type, schema)
        except (PolicyError, ValueError, TypeError) as exc:
            raise CatalogError(f"{schema}.{name}: recorded policy is unreadable: {exc}") from exc
        snap.policies[(schema, name)] = bound
        parent = snap.parents.get((schema, name))
        if parent is not None:
            snap.parents[(schema, name)] = _with_policy(parent, bound)
    return snap


def _with_policy(parent: Parent, policy: TablePolicy) -> Parent:
    return Parent(
        schema=parent.schema,
        name=parent.name,
        strategy=parent.strategy,
        key_columns=parent.key_columns,
        key_type=parent.key_type,
        children=parent.children,
        policy=policy,
        sub_partitions=parent.sub_partitions,
    )


def managed_range_parents(snap: Snapshot) -> list[Parent]:
    """Range parents with a recorded range policy: the only tables ``roll`` may touch."""
    return [
        p
        for p in snap.parents.values()
        if p.policy is not None and isinstance(p.policy.policy, Range) and p.strategy == "range"
    ]
