"""A snapshot of the live database's partitioning, read in a constant number of queries.

The snapshot is plain data: the planner compares it with the policies without touching
the database again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import sql
from ..declaration.periods import KeyValue
from ..declaration.policies import Range, TablePolicy, policy_from_dict
from ..errors import CatalogError, PolicyError
from ..sql import catalog_query, policy_query
from ..sql.policy import DEFAULT_TOOL_SCHEMA, tool_schema, tool_schema_pinned, use_tool_schema

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
    #: It has foreign keys, which its partitions inherit (and keep when detached).
    has_foreign_keys: bool = True
    owner: str | None = None
    #: The owner, when the session is another role: what the tool makes, it makes as the
    #: owner (``SET ROLE``).
    act_as: str | None = None
    #: Its DEFAULT partition has no pages at all, so no rows (a DEFAULT that had rows keeps
    #: its pages until VACUUM: then it is read).
    default_empty: bool = False
    #: The columns rows move by, by name: all but stored generated ones (which an INSERT
    #: may not give); ``None``: unknown, all of them in order.
    insert_columns: tuple[str, ...] | None = None
    #: Its owner is a superuser (its code then gains nothing in a superuser's session).
    owner_super: bool = True
    #: Another session holds (or waits for) its DEFAULT exclusively, as a run moving rows
    #: does: reading the DEFAULT would wait, so it is read only under the table's lock.
    default_locked: bool = False
    #: What Citus makes of it (``distributed``, ``reference``, ``single-shard`` in a
    #: distributed schema, ``local`` added to Citus's metadata), read from Citus's own
    #: catalog; ``None``: not a Citus table. Citus refuses DETACH … CONCURRENTLY on all.
    citus: str | None = None

    @property
    def default(self) -> Child | None:
        return next((c for c in self.children if c.is_default), None)

    def ranges(self) -> list[Child]:
        """Non-default range children in bound order (MINVALUE first)."""
        return list(self._ranges)

    @functools.cached_property
    def _ranges(self) -> tuple[Child, ...]:
        # sorted once per parent: a run asks several times, for thousands of parents
        out = [
            c for c in self.children if not c.is_default and c.bound.startswith("FOR VALUES FROM")
        ]
        return tuple(sorted(out, key=lambda c: (c.lower is not None, c.lower)))  # type: ignore[arg-type,return-value]


@dataclass(frozen=True)
class CitusTable:
    """How Citus spreads a table: ``kind`` is ``distributed`` or ``reference``."""

    kind: str
    column: str | None
    colocation_id: int
    shard_count: int


@dataclass
class Snapshot:
    parents: dict[tuple[str, str], Parent] = field(default_factory=dict)
    has_policy_table: bool = False
    #: The schemas holding a table named like the policy table.
    policy_schemas: list[str] = field(default_factory=list)
    #: A standby, or a session that may not write.
    read_only: bool = False
    #: The Citus extension is installed: hash tables become distributed tables.
    has_citus: bool = False
    #: Citus's tables on this node, by ``(schema, name)`` (distributed and reference).
    citus_tables: dict[tuple[str, str], CitusTable] = field(default_factory=dict)
    #: This node is a Citus worker: the policies are recorded on the coordinator.
    citus_worker: bool = False
    #: Archives in the record of partitions (read by autogenerate only).
    archives: set[tuple[str, str]] = field(default_factory=set)
    #: Plain tables an autogenerated migration partitions (until the next snapshot).
    converted: set[tuple[str, str]] = field(default_factory=set)
    #: Recorded policies, including those whose table no longer exists.
    policies: dict[tuple[str, str], TablePolicy] = field(default_factory=dict)
    #: The schemas holding a table named like the record of partitions.
    record_schemas: list[str] = field(default_factory=list)
    #: The schemas the session's search_path names, in order (those that exist).
    search_path: list[str] = field(default_factory=list)
    #: Some foreign key is a clone PostgreSQL made (``conparentid``): partitions exist.
    has_foreign_key_clones: bool = True
    #: Some table has the audit trigger.
    has_audit: bool = True
    #: The session's role is a superuser.
    superuser: bool = False
    _names: tuple[tuple[int, int], frozenset[tuple[str, str]]] | None = field(
        default=None, repr=False, compare=False
    )

    def get(
        self, table: str, schema: str | None = None, default_schema: str = "public"
    ) -> Parent | None:
        return self.parents.get((schema or default_schema, table))

    def partition_names(self) -> frozenset[tuple[str, str]]:
        """Every partition's ``(schema, name)``; made once per set of parents (autogenerate
        asks several times, of thousands of partitions)."""
        key = (id(self.parents), len(self.parents))
        if self._names is None or self._names[0] != key:
            names = {(c.schema, c.name) for p in self.parents.values() for c in p.children}
            names.update(sub for p in self.parents.values() for sub in p.sub_partitions)
            self._names = (key, frozenset(names))
        return self._names[1]


@functools.lru_cache(maxsize=8192)
def _bound_fields(bound: str, key_type: str) -> dict[str, Any]:
    """What a bound says, parsed once per distinct bound (tables share their months)."""
    if bound == "DEFAULT":
        return {"is_default": True}
    m = _RANGE_BOUND.match(bound)
    if m and ("," not in m.group("lo") or "," not in _strip_quoted(m.group("lo"))):
        return {
            "lower": parse_key_value(m.group("lo"), key_type),
            "upper": parse_key_value(m.group("hi"), key_type),
        }
    h = _HASH_BOUND.match(bound)
    if h:
        return {"modulus": int(h.group(1)), "remainder": int(h.group(2))}
    return {}


def parse_range_bound(bound: str, key_type: str) -> tuple[Any, Any] | None:
    """``(lower, upper)`` of a range bound as ``pg_get_expr`` prints it; ``None`` for any
    other bound (DEFAULT, MINVALUE …)."""
    fields = _bound_fields(bound, key_type)
    lower, upper = fields.get("lower"), fields.get("upper")
    return (lower, upper) if lower is not None and upper is not None else None


def _child(
    name: str, schema: str, bound: str | None, kind: str, pending: bool, key_type: str, bounds: bool
) -> Child:
    bound = bound or ""
    if not bounds and bound != "DEFAULT":
        fields: dict[str, Any] = {}
    else:
        fields = _bound_fields(bound, key_type)
    return Child(
        name=name,
        schema=schema,
        bound=bound,
        detach_pending=bool(pending),
        is_partitioned=kind == "p",
        **fields,
    )


def _strip_quoted(text: str) -> str:
    return re.sub(r"'(?:[^']|'')*'", "''", text)


def parse_catalog(rows: Sequence[Sequence[Any]], bounds: bool = True) -> Snapshot:
    """The catalog query's rows as a snapshot, without the recorded policies."""
    snap = Snapshot()
    parent_rows = []
    for row in rows:
        snap.policy_schemas = list(row[10] or [])
        snap.read_only = bool(row[12])
        snap.has_citus = bool(row[15])
        if len(row) > 24:
            snap.record_schemas = list(row[21] or [])
            snap.search_path = list(row[22] or [])
            snap.has_foreign_key_clones = bool(row[23])
            snap.has_audit = bool(row[24])
        if len(row) > 25:
            snap.superuser = bool(row[25])
        if not str(row[11]).upper().startswith("ISO"):
            raise CatalogError(
                f"DateStyle is {row[11]!r}; sqla-partition reads partition bounds in ISO style. "
                "Set DateStyle to 'ISO, MDY' for this role or connection"
            )
        if row[0] is not None:
            parent_rows.append(row)
    # in name order (sorted here: the server sorted wide rows on disk at a thousand tables);
    # str order is code point order, as PostgreSQL's "C" order of names
    parent_rows.sort(key=lambda row: (row[0], row[1]))
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
        _has_citus,
        *rest,
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
            has_foreign_keys=bool(rest[0]) if rest else True,
            owner=rest[1] if len(rest) > 1 else None,
            act_as=rest[1] if len(rest) > 2 and rest[1] != rest[2] else None,
            default_empty=len(rest) > 3 and rest[3] == 0,
            insert_columns=tuple(rest[4]) if len(rest) > 4 and rest[4] else None,
            owner_super=bool(rest[10]) if len(rest) > 10 else True,
            default_locked=bool(rest[11]) if len(rest) > 11 else False,
        )
    return snap


def find_tool_schema(found: Sequence[str]) -> None:
    """Use the schema the policy table is in (``SQLA_PARTITION_SCHEMA`` set: that one): the
    cron job needs to be told nothing. Policy tables in several schemas need the setting."""
    if tool_schema_pinned():
        return
    if not found:
        use_tool_schema(DEFAULT_TOOL_SCHEMA)
    elif len(found) == 1:
        use_tool_schema(found[0])
    elif tool_schema() not in found:
        raise CatalogError(
            f"sqla_partition_policy is in several schemas ({', '.join(found)}): set "
            "SQLA_PARTITION_SCHEMA to the one sqla-partition should use"
        )


def read_snapshot(
    query: Query,
    *,
    bounds: bool = True,
    table: tuple[str, str] | None = None,
    only: tuple[Sequence[int], Sequence[tuple[str, str]]] | None = None,
) -> Snapshot:
    """Read every partitioned parent, its children and the recorded policies.

    Two queries whatever the number of tables: the catalog, then the policy rows when the
    policy table exists. ``bounds=False`` reads no partition bounds (the DEFAULT is still
    known), for callers that only need names; :func:`with_bounds` reads one table's.
    ``only``: the parents of these oids, and the policies of these tables (schema, name).
    """
    if only is not None:
        text = catalog_query(bounds=bounds, oids=only[0])
    elif table:
        text = catalog_query(*table, bounds=bounds)
    else:
        text = catalog_query(bounds=bounds)
    snap = parse_catalog(query(text), bounds)
    find_tool_schema(snap.policy_schemas)
    snap.has_policy_table = tool_schema() in snap.policy_schemas
    if snap.has_citus:
        for schema, name, kind, column, colocation, shards, worker in query(sql.CITUS_TABLES_QUERY):
            snap.citus_worker = bool(worker)
            parent = snap.parents.get((schema, name))
            if parent is not None:
                snap.parents[(schema, name)] = dataclasses.replace(parent, citus=kind)
            if name is not None and kind in ("distributed", "reference"):
                snap.citus_tables[(schema, name)] = CitusTable(
                    kind=kind,
                    column=column,
                    colocation_id=int(colocation),
                    shard_count=int(shards or 0),
                )
    wanted = None if only is None else only[1]
    records = (
        query(policy_query(wanted)) if snap.has_policy_table and (wanted is None or wanted) else []
    )
    for schema, name, policy_text, key_type in records:
        try:
            bound = TablePolicy(name, _recorded_policy(policy_text), key_type, schema)
        except (PolicyError, ValueError, TypeError) as exc:
            raise CatalogError(f"{schema}.{name}: recorded policy is unreadable: {exc}") from exc
        snap.policies[(schema, name)] = bound
        parent = snap.parents.get((schema, name))
        if parent is not None:
            snap.parents[(schema, name)] = _with_policy(parent, bound)
    return snap


@functools.lru_cache(maxsize=1024)
def _recorded_policy(text: str) -> Any:
    """A recorded policy, read once per distinct text: tenants' tables share theirs, and
    a policy is an immutable value."""
    return policy_from_dict(json.loads(text))


def with_bounds(query: Query, parent: Parent) -> Parent:
    """``parent`` with its children's bounds, read again when the snapshot was read
    without them (one query, for the rare table whose changed policy needs them)."""
    fresh = parse_catalog(query(catalog_query(parent.schema, parent.name)))
    again = fresh.parents.get((parent.schema, parent.name))
    return parent if again is None else dataclasses.replace(parent, children=again.children)


def _with_policy(parent: Parent, policy: TablePolicy) -> Parent:
    return dataclasses.replace(parent, policy=policy)


def managed_range_parents(snap: Snapshot) -> list[Parent]:
    """Range parents with a recorded range policy: the only tables ``roll`` may touch."""
    return [
        p
        for p in snap.parents.values()
        if p.policy is not None and isinstance(p.policy.policy, Range) and p.strategy == "range"
    ]
