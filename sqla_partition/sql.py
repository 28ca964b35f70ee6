"""Every SQL statement the tool can run is built here, and only here.

Identifiers are quoted the way SQLAlchemy's PostgreSQL preparer quotes them (without
importing SQLAlchemy, so ``roll`` starts fast), values are typed literals, and each
statement carries the lock it takes and whether it may run inside a transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from .periods import KeyValue
from .specs import check_identifier

POLICY_TABLE = "sqla_partition_policy"
POLICY_SCHEMA = "public"
BOUND_CHECK = "sqla_partition_bound"

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


def ident(name: str) -> str:
    """A quoted identifier, quoted only where PostgreSQL needs it."""
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


def _cast(value: KeyValue, key_type: str) -> str:
    lit = key_literal(value, key_type)
    return lit if key_type == "integer" else f"{lit}::{key_type}"


@dataclass(frozen=True)
class Statement:
    """One statement, the lock it takes and why that is acceptable."""

    sql: str
    lock: str
    why: str = ""
    transactional: bool = True
    #: Its row count is the number of rows moved (reported by ``roll``).
    moves_rows: bool = False
    #: squawk rules that misjudge this statement; ``why`` says why it is safe.
    squawk_ignore: tuple[str, ...] = ()
    #: Comments stating what the SQL alone does not show, for ``sqla-partition lint``.
    facts: tuple[str, ...] = ()

    def annotated(self) -> str:
        note = f"-- {self.lock}: {self.why}" if self.why else f"-- {self.lock}"
        if self.facts:
            note = "\n".join(self.facts) + "\n" + note
        if self.squawk_ignore:
            note += f"\n-- squawk-ignore {', '.join(self.squawk_ignore)}"
        return f"{note}\n{self.sql}"

    def __str__(self) -> str:
        return self.sql


# -- session settings -----------------------------------------------------------------


def set_lock_timeout(ms: int, *, local: bool = True) -> Statement:
    scope = "LOCAL " if local else ""
    return Statement(
        f"SET {scope}lock_timeout = {int(ms)}",
        "no lock",
        "bounds every lock wait below, so no reader or writer queues behind this DDL for longer",
    )


def reset_lock_timeout() -> Statement:
    return Statement("RESET lock_timeout", "no lock", "back to the role's setting")


def set_statement_timeout(ms: int, *, local: bool = True) -> Statement:
    scope = "LOCAL " if local else ""
    return Statement(
        f"SET {scope}statement_timeout = {int(ms)}",
        "no lock",
        "bounds how long any statement below may run",
    )


def timeouts(lock_ms: int, statement_ms: int, *, local: bool = True) -> list[Statement]:
    """Bounds for the statements that follow: in this transaction, or for the session."""
    return [
        set_lock_timeout(lock_ms, local=local),
        set_statement_timeout(statement_ms, local=local),
    ]


def relaxed_commit(*, local: bool = True) -> Statement:
    """For ``roll`` only: its steps are idempotent, so a commit need not wait for the disk."""
    return Statement(
        f"SET {'LOCAL ' if local else ''}synchronous_commit = off",
        "no lock",
        "a crash right after COMMIT may forget this step; the next roll does it again",
    )


def reset_relaxed_commit() -> Statement:
    return Statement("RESET synchronous_commit", "no lock", "back to the role's setting")


def reset_timeouts(*, local: bool = True) -> list[Statement]:
    """Back to the settings in force before :func:`timeouts`."""
    if local:
        return [
            Statement(f"SET LOCAL {name} TO DEFAULT", "no lock", "back to the session's setting")
            for name in ("lock_timeout", "statement_timeout")
        ]
    return [
        reset_lock_timeout(),
        Statement("RESET statement_timeout", "no lock", "back to the role's setting"),
    ]


# -- partitioned parents and partitions -----------------------------------------------


def partition_by(strategy: str, column: str) -> str:
    """The ``PARTITION BY`` clause body, e.g. ``RANGE (created_at)``."""
    return f"{strategy.upper()} ({ident(column)})"


def range_bounds(lower: KeyValue, upper: KeyValue, key_type: str) -> str:
    return f"FOR VALUES FROM ({key_literal(lower, key_type)}) TO ({key_literal(upper, key_type)})"


def _sub_by(hash_column: str | None) -> str:
    """``PARTITION BY HASH (…)`` for a range partition hash-partitioned in turn."""
    return f" PARTITION BY {partition_by('hash', hash_column)}" if hash_column else ""


def create_partition_of(
    parent: str,
    child: str,
    bounds: str,
    schema: str | None = None,
    *,
    hash_column: str | None = None,
) -> Statement:
    """``PARTITION OF``: only for a parent created in the same transaction."""
    return Statement(
        f"CREATE TABLE IF NOT EXISTS {qualified(child, schema)} "
        f"PARTITION OF {qualified(parent, schema)} {bounds}{_sub_by(hash_column)}",
        f"ACCESS EXCLUSIVE on {parent}",
        "the parent is new in this transaction, nobody else can see it yet",
    )


def create_range_partition_of(
    parent: str,
    child: str,
    lower: KeyValue,
    upper: KeyValue,
    key_type: str,
    schema: str | None,
    *,
    hash_column: str | None = None,
) -> Statement:
    bounds = range_bounds(lower, upper, key_type)
    return create_partition_of(parent, child, bounds, schema, hash_column=hash_column)


def create_default_partition_of(parent: str, child: str, schema: str | None = None) -> Statement:
    return create_partition_of(parent, child, "DEFAULT", schema)


def _hash_bound(modulus: int, remainder: int) -> str:
    return f"FOR VALUES WITH (MODULUS {int(modulus)}, REMAINDER {int(remainder)})"


def create_hash_partition_of(
    parent: str, child: str, modulus: int, remainder: int, schema: str | None = None
) -> Statement:
    return create_partition_of(parent, child, _hash_bound(modulus, remainder), schema)


def create_detached_child(
    parent: str, child: str, schema: str | None = None, *, hash_column: str | None = None
) -> Statement:
    """A table shaped like the parent (hash-partitioned itself with ``hash_column``), to be
    attached once it is ready."""
    return Statement(
        f"CREATE TABLE IF NOT EXISTS {qualified(child, schema)} "
        f"(LIKE {qualified(parent, schema)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
        f"INCLUDING STORAGE INCLUDING COMMENTS INCLUDING GENERATED){_sub_by(hash_column)}",
        f"ACCESS SHARE on {parent}",
        "only reads the parent's definition; reads and writes continue",
    )


def add_bound_check(
    child: str,
    column: str,
    lower: KeyValue,
    upper: KeyValue,
    key_type: str,
    schema: str | None = None,
    *,
    existing: bool = False,
) -> Statement:
    """The CHECK that lets ATTACH skip its scan; ``existing``: on a table that has rows."""
    col = ident(column)
    why = "the new table is not attached yet, nobody uses it; the CHECK spares ATTACH a scan"
    if existing:
        why = (
            "scans the table's rows, but the table is not a partition: the application does "
            "not use it; the CHECK spares ATTACH a scan under the parent's lock"
        )
    return Statement(
        f"ALTER TABLE {qualified(child, schema)} ADD CONSTRAINT {ident(BOUND_CHECK)} "
        f"CHECK ({col} IS NOT NULL AND {col} >= {_cast(lower, key_type)} "
        f"AND {col} < {_cast(upper, key_type)})",
        f"ACCESS EXCLUSIVE on {child}",
        why,
        squawk_ignore=("constraint-missing-not-valid",) if existing else (),
    )


def drop_bound_check(child: str, schema: str | None = None) -> Statement:
    """Before re-attaching a table that was a partition: its old CHECK may not match."""
    return Statement(
        f"ALTER TABLE {qualified(child, schema)} DROP CONSTRAINT IF EXISTS {ident(BOUND_CHECK)}",
        f"ACCESS EXCLUSIVE on {child}",
        "the table is not attached, nobody uses it; the CHECK is added again just below",
        squawk_ignore=("ban-drop-constraint",),
    )


def attach_range_partition(
    parent: str,
    child: str,
    lower: KeyValue,
    upper: KeyValue,
    key_type: str,
    schema: str | None = None,
    default: str | None = None,
    *,
    subpartitioned: bool = False,
) -> Statement:
    lock = f"SHARE UPDATE EXCLUSIVE on {parent}, ACCESS EXCLUSIVE on {child}"
    if subpartitioned:
        lock += " and its hash partitions"
    why = (
        f"reads and writes of {parent} continue; {child} is not in use yet, and its CHECK "
        "spares the scan"
    )
    if default:
        lock += f" and {default}"
        why += f"; {default} is scanned for rows of this range, kept small by moving them out"
    return Statement(
        f"ALTER TABLE {qualified(parent, schema)} ATTACH PARTITION {qualified(child, schema)} "
        f"{range_bounds(lower, upper, key_type)}",
        lock,
        why,
        facts=(default_fact(parent, default),) if default else (),
    )


def attach_default_partition(parent: str, child: str, schema: str | None = None) -> Statement:
    return Statement(
        f"ALTER TABLE {qualified(parent, schema)} ATTACH PARTITION "
        f"{qualified(child, schema)} DEFAULT",
        f"SHARE UPDATE EXCLUSIVE on {parent}, ACCESS EXCLUSIVE on {child}",
        f"reads and writes of {parent} continue; the new DEFAULT partition is empty",
    )


def detach_partition(
    parent: str,
    child: str,
    schema: str | None = None,
    *,
    concurrently: bool = False,
    default: str | None = None,
) -> Statement:
    if concurrently:
        return Statement(
            f"ALTER TABLE {qualified(parent, schema)} DETACH PARTITION "
            f"{qualified(child, schema)} CONCURRENTLY",
            f"SHARE UPDATE EXCLUSIVE on {parent}, ACCESS EXCLUSIVE on {child}",
            f"reads and writes of {parent} continue, {child} (expired) is locked briefly; "
            "PostgreSQL runs it outside a transaction, and a rerun after an interruption "
            "finishes it (DETACH … FINALIZE)",
            transactional=False,
            squawk_ignore=("prefer-robust-stmts",),
        )
    if default:
        return Statement(
            f"ALTER TABLE {qualified(parent, schema)} DETACH PARTITION {qualified(child, schema)}",
            f"ACCESS EXCLUSIVE on {parent} and {child} and {default}",
            f"brief; CONCURRENTLY is refused while {default} (a DEFAULT partition) exists, and "
            "lock_timeout bounds the wait so the queue behind it stays short",
            squawk_ignore=("require-concurrent-partition-detach",),
            facts=(default_fact(parent, default),),
        )
    return Statement(
        f"ALTER TABLE {qualified(parent, schema)} DETACH PARTITION {qualified(child, schema)}",
        f"ACCESS EXCLUSIVE on {parent} and {child}",
        "brief; lock_timeout bounds the wait, so the queue behind it stays short",
    )


def detach_finalize(parent: str, child: str, schema: str | None = None) -> Statement:
    return Statement(
        f"ALTER TABLE {qualified(parent, schema)} DETACH PARTITION {qualified(child, schema)} "
        "FINALIZE",
        f"SHARE UPDATE EXCLUSIVE on {parent}, ACCESS EXCLUSIVE on {child}",
        "finishes a detach that was interrupted; reads and writes continue",
        transactional=False,
        squawk_ignore=("prefer-robust-stmts",),
    )


def drop_table(name: str, schema: str | None = None, *, cascade: bool = False) -> Statement:
    return Statement(
        f"DROP TABLE IF EXISTS {qualified(name, schema)}{' CASCADE' if cascade else ''}",
        f"ACCESS EXCLUSIVE on {name}",
        "the table is no longer a partition and the policy (on_expire='drop') or the "
        "migration asks for its rows to go",
        squawk_ignore=("ban-drop-table",),
    )


def drop_partitioned_table(name: str, schema: str | None = None) -> Statement:
    return Statement(
        f"DROP TABLE IF EXISTS {qualified(name, schema)}",
        f"ACCESS EXCLUSIVE on {name} and every partition",
        "removes the table and all its partitions with their data, as the migration asks",
        squawk_ignore=("ban-drop-table",),
    )


# -- the policy table -------------------------------------------------------------------


def _policy_table() -> str:
    return qualified(POLICY_TABLE, POLICY_SCHEMA)


def create_policy_table() -> Statement:
    return Statement(
        f"CREATE TABLE IF NOT EXISTS {_policy_table()} ("
        "schema_name text NOT NULL, table_name text NOT NULL, policy jsonb NOT NULL, "
        "key_type text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(), "
        "rolled_at timestamptz, "
        "PRIMARY KEY (schema_name, table_name))",
        f"ACCESS EXCLUSIVE on {POLICY_TABLE} (only when it is new)",
        "records each table's policy so that roll needs only a database URL",
    )


def _schema_expr(schema: str | None) -> str:
    return string_literal(schema) if schema else "current_schema()"


def upsert_policy(table: str, schema: str | None, policy_json: str, key_type: str) -> Statement:
    return Statement(
        f"INSERT INTO {_policy_table()} (schema_name, table_name, policy, key_type) "
        f"VALUES ({_schema_expr(schema)}, {string_literal(table)}, "
        f"{string_literal(policy_json)}::jsonb, {string_literal(key_type)}) "
        "ON CONFLICT (schema_name, table_name) DO UPDATE SET policy = EXCLUDED.policy, "
        "key_type = EXCLUDED.key_type, updated_at = now()",
        f"ROW EXCLUSIVE on {POLICY_TABLE}",
        "one row; other tables' policies are untouched",
    )


def delete_policy(table: str, schema: str | None) -> Statement:
    return Statement(
        f"DELETE FROM {_policy_table()} WHERE schema_name = {_schema_expr(schema)} "
        f"AND table_name = {string_literal(table)}",
        f"ROW EXCLUSIVE on {POLICY_TABLE}",
        "one row; the table itself is untouched",
    )


# -- catalog reads ------------------------------------------------------------------------

#: Every partitioned parent (one row each, its children in arrays: far fewer values to
#: convert than a row per child) with the children's bounds, in one round trip, with
#: whether the policy table exists (a second query reads it then: plain SQL cannot name a
#: table that may not exist, and query_to_xml is missing from servers built without libxml).
_CATALOG_QUERY = """
WITH meta AS MATERIALIZED (
    SELECT current_setting('DateStyle') AS datestyle,
           to_regclass({policy_table}) IS NOT NULL AS has_policy_table,
           pg_is_in_recovery() OR current_setting('transaction_read_only')::boolean AS read_only,
           EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS has_citus
), parts AS (
    SELECT pn.nspname AS schema_name,
           pc.relname AS table_name,
           pt.partstrat AS strategy,
           (SELECT string_agg(a.attname, ',' ORDER BY k.ord)
              FROM unnest(pt.partattrs::int2[]) WITH ORDINALITY AS k(attnum, ord)
              JOIN pg_attribute a ON a.attrelid = pc.oid AND a.attnum = k.attnum) AS key_columns,
           (SELECT format_type(a.atttypid, a.atttypmod)
              FROM pg_attribute a
             WHERE a.attrelid = pc.oid AND a.attnum = pt.partattrs[0]) AS key_type,
           ch.child_names,
           ch.child_schemas,
           ch.bounds,
           ch.child_kinds,
           ch.detach_pending,
           sub.sub_names,
           sub.sub_schemas
      FROM pg_partitioned_table pt
      JOIN pg_class pc ON pc.oid = pt.partrelid
      JOIN pg_namespace pn ON pn.oid = pc.relnamespace
      LEFT JOIN LATERAL (
          SELECT array_agg(c.relname) AS child_names,
                 array_agg(c.nspname) AS child_schemas,
                 array_agg(c.bound) AS bounds,
                 array_agg(c.relkind) AS child_kinds,
                 array_agg(c.pending) AS detach_pending
            FROM (
                -- bounds hold constants only: relid 0 spares a relation lookup per partition
                SELECT cc.relname, cn.nspname, pg_get_expr(cc.relpartbound, 0) AS bound,
                       cc.relkind::text AS relkind, i.inhdetachpending AS pending
                  FROM pg_inherits i
                  JOIN pg_class cc ON cc.oid = i.inhrelid
                  JOIN pg_namespace cn ON cn.oid = cc.relnamespace
                 WHERE i.inhparent = pc.oid
                 ORDER BY cc.relname
            ) c
      ) ch ON true
      -- partitions of partitions (range partitions hash-partitioned in turn)
      LEFT JOIN LATERAL (
          SELECT array_agg(g.relname) AS sub_names, array_agg(gn.nspname) AS sub_schemas
            FROM pg_inherits i1
            JOIN pg_class c1 ON c1.oid = i1.inhrelid AND c1.relkind = 'p'
            JOIN pg_inherits i2 ON i2.inhparent = c1.oid
            JOIN pg_class g ON g.oid = i2.inhrelid
            JOIN pg_namespace gn ON gn.oid = g.relnamespace
           WHERE i1.inhparent = pc.oid
      ) sub ON true
     WHERE pn.nspname NOT IN ('pg_catalog', 'information_schema')
       AND NOT pc.relispartition
       {only}
)
SELECT parts.schema_name, parts.table_name, parts.strategy, parts.key_columns,
       parts.key_type, parts.child_names, parts.child_schemas, parts.bounds, parts.child_kinds,
       parts.detach_pending, meta.has_policy_table, meta.datestyle, meta.read_only,
       parts.sub_names, parts.sub_schemas, meta.has_citus
  FROM meta LEFT JOIN parts ON true
 ORDER BY 1, 2
"""


def policy_table_name() -> str:
    return f"{POLICY_SCHEMA}.{POLICY_TABLE}"


CATALOG_QUERY = _CATALOG_QUERY.replace(
    "{policy_table}", string_literal(policy_table_name())
).replace("{only}", "")


def catalog_query(schema: str, table: str) -> str:
    """:data:`CATALOG_QUERY` for one table (read again under its advisory lock)."""
    return _CATALOG_QUERY.replace("{policy_table}", string_literal(policy_table_name())).replace(
        "{only}", f"AND pc.oid = {_regclass(table, schema)}"
    )


POLICY_QUERY = (
    "SELECT schema_name, table_name, policy::text, key_type "
    f"FROM {qualified(POLICY_TABLE, POLICY_SCHEMA)}"
)


def _regclass(name: str, schema: str | None) -> str:
    return f"{string_literal(qualified(name, schema))}::regclass"


def partition_state_query(parent: str, child: str, schema: str | None) -> str:
    """One row (detach pending?) while ``child`` is still a partition of ``parent``."""
    return (
        "SELECT i.inhdetachpending FROM pg_inherits i "
        f"WHERE i.inhparent = {_regclass(parent, schema)} "
        f"AND i.inhrelid = to_regclass({string_literal(qualified(child, schema))})"
    )


# -- roll: locks, rescue from the DEFAULT partition, archive ------------------------------

#: First key of the two-key advisory lock: 'sqlp' as an int, so our locks are recognisable.
ADVISORY_CLASS = 0x73716C70


def try_advisory_lock(table: str, schema: str) -> str:
    """Session-level, per table: a second concurrent roll skips what this one holds."""
    return (
        f"SELECT pg_try_advisory_lock({ADVISORY_CLASS}, "
        f"hashtext({string_literal(qualified(table, schema))}))"
    )


def advisory_unlock(table: str, schema: str) -> str:
    return (
        f"SELECT pg_advisory_unlock({ADVISORY_CLASS}, "
        f"hashtext({string_literal(qualified(table, schema))}))"
    )


#: A standby, or a session that may not write: roll then changes nothing.
READ_ONLY_QUERY = "SELECT pg_is_in_recovery() OR current_setting('transaction_read_only')::boolean"


def max_key_query(table: str, column: str, schema: str) -> str:
    return f"SELECT max({ident(column)}) FROM {qualified(table, schema)}"


def _in_range(column: str, lower: KeyValue, upper: KeyValue, key_type: str) -> str:
    col = ident(column)
    return f"{col} >= {_cast(lower, key_type)} AND {col} < {_cast(upper, key_type)}"


def count_in_range_query(
    table: str, column: str, lower: KeyValue, upper: KeyValue, key_type: str, schema: str
) -> str:
    return (
        f"SELECT count(*) FROM {qualified(table, schema)} "
        f"WHERE {_in_range(column, lower, upper, key_type)}"
    )


def default_rows_query(default: str, schema: str) -> str:
    return f"SELECT count(*) FROM {qualified(default, schema)}"


def lock_default(default: str, schema: str | None) -> Statement:
    return Statement(
        f"LOCK TABLE {qualified(default, schema)} IN ACCESS EXCLUSIVE MODE",
        f"ACCESS EXCLUSIVE on {default}",
        "ATTACH below needs it anyway; taken first so no row of the new range slips in "
        "between the move and the ATTACH",
    )


def move_rows(
    source: str,
    target: str,
    column: str,
    lower: KeyValue,
    upper: KeyValue,
    key_type: str,
    schema: str | None,
    *,
    limit: int | None = None,
) -> Statement:
    """Move the rows of a range from the DEFAULT partition into the new partition."""
    where = _in_range(column, lower, upper, key_type)
    src = qualified(source, schema)
    if limit is not None:
        where = f"ctid = ANY (ARRAY(SELECT ctid FROM {src} WHERE {where} LIMIT {int(limit)}))"
    return Statement(
        f"WITH moved AS (DELETE FROM {src} WHERE {where} RETURNING *) "
        f"INSERT INTO {qualified(target, schema)} SELECT * FROM moved",
        f"ROW EXCLUSIVE on {source} and {target}",
        "moves rows of the new range out of the DEFAULT partition, atomically",
        moves_rows=True,
    )


def create_schema(schema: str) -> Statement:
    return Statement(
        f"CREATE SCHEMA IF NOT EXISTS {ident(schema)}",
        "no table lock",
        "the archive schema for detached partitions",
    )


def set_schema(table: str, schema: str | None, new_schema: str) -> Statement:
    return Statement(
        f"ALTER TABLE {qualified(table, schema)} SET SCHEMA {ident(new_schema)}",
        f"ACCESS EXCLUSIVE on {table}",
        "the table is detached, the application no longer reads it; the policy's "
        "archive_schema asks for it to move there",
        squawk_ignore=("ban-set-schema",),
    )


def mark_rolled(table: str, schema: str) -> Statement:
    return mark_rolled_many([(schema, table)])


def mark_rolled_many(tables: list[tuple[str, str]]) -> Statement:
    """One statement for every table a run rolled, whatever their number."""
    keys = ", ".join(f"({string_literal(s)}, {string_literal(t)})" for s, t in tables)
    return Statement(
        f"UPDATE {_policy_table()} SET rolled_at = now() "
        f"WHERE (schema_name, table_name) IN ({keys})",
        f"ROW EXCLUSIVE on {POLICY_TABLE}",
        "records when these tables were last rolled, for `sqla-partition check`",
    )


ROLLED_AT_QUERY = (
    f"SELECT schema_name, table_name, rolled_at FROM {qualified(POLICY_TABLE, POLICY_SCHEMA)}"
)


def default_fact(parent: str, default: str, *, empty: bool = False) -> str:
    """A comment stating a fact ``sqla-partition lint`` needs but the SQL does not show."""
    note = ", empty when planned" if empty else ""
    return f"-- sqla-partition: {parent} has DEFAULT partition {default}{note}"


# -- resharding: splitting a hash partition online ---------------------------------------

#: The CHECK that proves a split table's rows belong to its new remainder, so ATTACH
#: skips its scan, and the trigger that records the keys written to the old partition.
HASH_CHECK = "sqla_partition_hash"
SPLIT_TRIGGER = "sqla_partition_split"
#: Marks the old partition once the swap has detached it: only a table so marked is dropped.
RETIRED_MARK = "sqla-partition: split and verified"
#: Keys taken from the log per transaction while applying it.
APPLY_BATCH = 10_000


@dataclass(frozen=True)
class SplitTarget:
    remainder: int
    #: The table is built under this name; ``final`` differs only when the old partition
    #: still holds the final name, and the swap renames it.
    build: str
    final: str
    #: Range splits: the rows of this target (``{row}`` before each column name) and its
    #: ``FOR VALUES`` clause; hash splits derive both from the remainder.
    where: str | None = None
    bound: str | None = None


@dataclass(frozen=True)
class HashSplit:
    """Everything the statements splitting one hash partition need."""

    parent: str
    schema: str | None
    column: str
    columns: tuple[str, ...]
    primary_key: tuple[str, ...]
    child: str
    modulus: int
    remainder: int
    new_modulus: int
    targets: tuple[SplitTarget, ...]
    retired: str
    lock_timeout_ms: int = 5000
    retries: int = 5
    batch_blocks: int = 256
    #: ``h``: a hash partition split in its new remainders; ``r``: a range partition (the
    #: legacy partition of a converted table) split in periods.
    strategy: str = "h"

    def q(self, name: str) -> str:
        return qualified(name, self.schema)

    @property
    def log(self) -> str:
        """The trigger function and the key log share this name (different namespaces)."""
        digest = hashlib.sha1(self.q(self.child).encode("utf-8")).hexdigest()[:12]
        return f"{SPLIT_TRIGGER}_{digest}"

    def names(self) -> list[str]:
        return [self.retired, *(t.build for t in self.targets), *(t.final for t in self.targets)]


def _dollar(body: str, tag: str) -> str:
    """Dollar-quote ``body`` with a tag it does not contain (names may contain ``$``)."""
    n = 0
    while f"${tag}{n or ''}$" in body:
        n += 1
    return f"${tag}{n or ''}$"


def _hash_bound_text(modulus: int, remainder: int) -> str:
    """The bound as ``pg_get_expr`` prints it."""
    return f"FOR VALUES WITH (modulus {int(modulus)}, remainder {int(remainder)})"


def _belongs(s: HashSplit, t: SplitTarget, row: str = "") -> str:
    if t.where is not None:
        return t.where.replace("{row}", row)
    return (
        f"satisfies_hash_partition({_regclass(s.parent, s.schema)}, {int(s.new_modulus)}, "
        f"{int(t.remainder)}, {row}{ident(s.column)})"
    )


def _attached(s: HashSplit, bound: str | None, child: str | None = None) -> str:
    """SQL: the parent has a partition with ``bound`` (named ``child``, if given)."""
    named = f"AND c.oid = to_regclass({string_literal(s.q(child))}) " if child else ""
    bounded = f"AND pg_get_expr(c.relpartbound, c.oid) = {string_literal(bound)}" if bound else ""
    return (
        "EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        f"WHERE i.inhparent = {_regclass(s.parent, s.schema)} {named}{bounded})"
    )


def _where_we_stand(s: HashSplit) -> str:
    """Go on while the old partition is attached; stop quietly once the split is done;
    refuse anything else (a renamed partition, a different layout)."""
    if s.strategy == "r":  # by name: range bounds print in the session's time zone
        todo = _attached(s, None, s.child)
        done = " AND ".join(_attached(s, None, t.final) for t in s.targets)
    else:
        todo = _attached(s, _hash_bound_text(s.modulus, s.remainder), s.child)
        done = " AND ".join(
            _attached(s, _hash_bound_text(s.new_modulus, t.remainder)) for t in s.targets
        )
    return (
        f"  IF NOT {todo} THEN\n"
        f"    IF {done} THEN\n      RETURN;  -- split already\n    END IF;\n"
        "    RAISE EXCEPTION 'sqla-partition: % has no partition % for remainder % of % and "
        "none for its split; the table is not as this migration expects, nothing was "
        f"changed', {string_literal(s.q(s.parent))}, {string_literal(s.child)}, "
        f"{int(s.remainder)}, {int(s.modulus)};\n"
        "  END IF;\n"
    )


@dataclass(frozen=True)
class Bounds:
    """How long a step may wait for a lock, and how often it tries again."""

    lock_timeout_ms: int = 5000
    retries: int = 5


def _retrying(s: HashSplit | Bounds, body: str, indent: str = "  ") -> str:
    """Run ``body`` in a subtransaction, again after a lock timeout, up to ``retries`` times;
    ``worst`` keeps the longest attempt, failed ones included (writers queue behind each).
    Waits stop at half of ``deadlock_timeout`` at most: a writer that takes the same locks
    in another order then never waits long enough to be chosen as a deadlock's victim.

    A serialization failure is retried too: reading a row that a concurrent update just
    moved to another partition can raise one, and the next attempt no longer sees it.
    """
    inner = "".join(f"{indent}    {line}\n" for line in body.strip("\n").split("\n"))
    return (
        f"{indent}attempt := 0;\n"
        f"{indent}LOOP\n"
        f"{indent}  started := clock_timestamp();\n"
        f"{indent}  BEGIN\n"
        f"{indent}    PERFORM set_config('lock_timeout', least({int(s.lock_timeout_ms)}, "
        "extract(epoch FROM current_setting('deadlock_timeout')::interval) * 500)::int::text, "
        "true);\n"
        f"{inner}"
        f"{indent}    worst := greatest(worst, clock_timestamp() - started);\n"
        f"{indent}    EXIT;\n"
        f"{indent}  EXCEPTION WHEN lock_not_available OR deadlock_detected OR "
        "serialization_failure THEN\n"
        f"{indent}    worst := greatest(worst, clock_timestamp() - started);\n"
        f"{indent}    attempt := attempt + 1;\n"
        f"{indent}    IF attempt > {int(s.retries)} THEN RAISE; END IF;\n"
        f"{indent}    PERFORM pg_sleep(0.2 * attempt);\n"
        f"{indent}  END;\n"
        f"{indent}END LOOP;\n"
    )


_RETRY_VARS = "  attempt int;\n  started timestamptz;\n  worst interval := interval '0';\n"


def _do(body: str, declare: str = "") -> str:
    tag = _dollar(body, "do")
    head = f"DO {tag}\nDECLARE\n{declare}BEGIN\n" if declare else f"DO {tag}\nBEGIN\n"
    return f"{head}{body}END\n{tag}"


def _cols(names: tuple[str, ...], prefix: str = "") -> str:
    return ", ".join(f"{prefix}{ident(c)}" for c in names)


def _same_key(s: HashSplit, left: str, right: str) -> str:
    return f"({_cols(s.primary_key, left + '.')}) = ({_cols(s.primary_key, right + '.')})"


def split_trigger_function(s: HashSplit) -> Statement:
    """Records the key of every row written to the old partition, whatever the writer's
    isolation level (an insert never conflicts); the log is applied by later steps."""
    log = s.q(s.log)
    body = (
        "BEGIN\n"
        "  IF TG_OP <> 'INSERT' THEN\n"
        f"    INSERT INTO {log} VALUES ({_cols(s.primary_key, 'OLD.')});\n"
        "  END IF;\n"
        "  IF TG_OP <> 'DELETE' THEN\n"
        f"    INSERT INTO {log} VALUES ({_cols(s.primary_key, 'NEW.')});\n"
        "  END IF;\n"
        "  RETURN NULL;\n"
        "END"
    )
    tag = _dollar(body, "fn")
    return Statement(
        f"CREATE OR REPLACE FUNCTION {s.q(s.log)}() RETURNS trigger LANGUAGE plpgsql "
        f"SET search_path FROM CURRENT AS {tag}\n{body}\n{tag}",
        "no table lock",
        f"the trigger below calls it for every write to {s.child} until the swap; it finds "
        "names as this migration does",
    )


def _refuse_drift(s: HashSplit) -> str:
    parent = _regclass(s.parent, s.schema)
    expected = ", ".join(string_literal(c) for c in sorted(s.columns))
    key = ", ".join(string_literal(c) for c in sorted(s.primary_key))
    return (
        "  IF (SELECT array_agg(a.attname::text ORDER BY a.attname::text) FROM pg_attribute a "
        f"WHERE a.attrelid = {parent} AND a.attnum > 0 "
        "AND NOT a.attisdropped AND a.attgenerated = '') "
        f"IS DISTINCT FROM ARRAY[{expected}]::text[]\n"
        "     OR (SELECT array_agg(a.attname::text ORDER BY a.attname::text) FROM pg_index x "
        "JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = ANY (x.indkey) "
        f"WHERE x.indrelid = {parent} AND x.indisprimary) IS DISTINCT FROM ARRAY[{key}]::text[]\n"
        "     OR (SELECT a.attname::text FROM pg_partitioned_table p JOIN pg_attribute a "
        "ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0] "
        f"WHERE p.partrelid = {parent} AND p.partstrat = {string_literal(s.strategy)}) "
        f"IS DISTINCT FROM {string_literal(s.column)} THEN\n"
        "    RAISE EXCEPTION 'sqla-partition: the columns, primary key or hash key of % differ "
        "from the ones this migration expects (%; primary key %; hash key %); nothing was "
        f"changed, generate the migration again', {string_literal(s.q(s.parent))}, "
        f"{string_literal(', '.join(s.columns))}, {string_literal(', '.join(s.primary_key))}, "
        f"{string_literal(s.column)};\n"
        "  END IF;\n"
        "  IF EXISTS (SELECT 1 FROM pg_constraint WHERE contype = 'f' "
        f"AND confrelid = {parent}) THEN\n"
        "    RAISE EXCEPTION 'sqla-partition: % is referenced by a foreign key; a partition "
        "holding referenced rows cannot be detached, so it cannot be split online', "
        f"{string_literal(s.q(s.parent))};\n"
        "  END IF;\n"
    )


def _has_trigger(s: HashSplit) -> str:
    return (
        f"EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = {_regclass(s.child, s.schema)} "
        f"AND tgname = {string_literal(SPLIT_TRIGGER)})"
    )


def split_prepare(s: HashSplit) -> Statement:
    """The split tables with their CHECKs and foreign keys, the key log, and the trigger.

    Foreign keys are added while the tables are empty, so ATTACH finds them valid instead
    of validating them under the parent's lock. Tables of the split's names that exist
    without its trigger are someone else's: refused rather than reused.
    """
    builds = [string_literal(s.q(t.build)) for t in s.targets] + [string_literal(s.q(s.log))]
    lines = [
        f"IF NOT {_has_trigger(s)} AND EXISTS (SELECT 1 FROM unnest(ARRAY[{', '.join(builds)}]) "
        "AS b(name) WHERE to_regclass(b.name) IS NOT NULL) THEN\n"
        "  RAISE EXCEPTION 'sqla-partition: a table named like a split table of % exists "
        f"(one of %) but no split is in progress; rename or drop it', "
        f"{string_literal(s.child)}, {string_literal(', '.join(t.build for t in s.targets))};\n"
        "END IF;\n",
        f"CREATE TABLE IF NOT EXISTS {s.q(s.log)} AS SELECT {_cols(s.primary_key)} "
        f"FROM ONLY {s.q(s.parent)} WITH NO DATA;\n"
        f"GRANT INSERT ON {s.q(s.log)} TO PUBLIC;  -- whoever writes to {s.child}\n",
    ]
    for t in s.targets:
        reg = _regclass(t.build, s.schema)
        lines.append(
            f"CREATE TABLE IF NOT EXISTS {s.q(t.build)} (LIKE {s.q(s.parent)} "
            "INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES INCLUDING STORAGE "
            "INCLUDING COMMENTS INCLUDING GENERATED);\n"
            "IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = "
            f"{reg} AND conname = {string_literal(HASH_CHECK)}) THEN\n"
            f"  ALTER TABLE {s.q(t.build)} ADD CONSTRAINT {ident(HASH_CHECK)} "
            f"CHECK ({_belongs(s, t)});\n"
            "END IF;\n"
            "FOR fk IN SELECT c.conname, pg_get_constraintdef(c.oid) AS def FROM pg_constraint c "
            f"WHERE c.conrelid = {_regclass(s.parent, s.schema)} AND c.contype = 'f' "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint x "
            f"WHERE x.conrelid = {reg} AND x.conname = c.conname) LOOP\n"
            f"  EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', "
            f"{string_literal(s.q(t.build))}, fk.conname, fk.def);\n"
            "END LOOP;\n"
        )
    lines.append(
        f"IF NOT {_has_trigger(s)} THEN\n"
        f"  CREATE TRIGGER {ident(SPLIT_TRIGGER)} AFTER INSERT OR UPDATE OR DELETE ON "
        f"{s.q(s.child)} FOR EACH ROW EXECUTE FUNCTION {s.q(s.log)}();\n"
        "  -- also for writers with session_replication_role = replica (replication, loaders)\n"
        f"  ALTER TABLE {s.q(s.child)} ENABLE ALWAYS TRIGGER {ident(SPLIT_TRIGGER)};\n"
        "END IF;"
    )
    body = _where_we_stand(s) + _refuse_drift(s) + _retrying(s, "".join(lines))
    names = ", ".join(t.build for t in s.targets)
    return Statement(
        _do(body, _RETRY_VARS + "  fk record;\n"),
        f"SHARE ROW EXCLUSIVE on {s.child} (the trigger) and on tables its foreign keys "
        f"reference, ACCESS SHARE on {s.parent}",
        f"{names} are new and unused; creating the trigger waits for writes to {s.child} in "
        "flight and holds writers back for a moment, bounded by lock_timeout and retried",
    )


def split_copy(s: HashSplit) -> Statement:
    """Copy the old partition's rows in batches of blocks, one transaction each."""
    lo, hi = "('(' || lo || ',0)')::tid", f"('(' || (lo + {int(s.batch_blocks)}) || ',0)')::tid"
    inserts = "\n".join(
        f"INSERT INTO {s.q(t.build)} ({_cols(s.columns)}) SELECT {_cols(s.columns)} "
        f"FROM ONLY {s.q(s.child)} WHERE ctid >= {lo} AND ctid < {hi} "
        f"AND {_belongs(s, t)} ON CONFLICT DO NOTHING;"
        for t in s.targets
    )
    body = (
        _where_we_stand(s) + f"  last_block := pg_relation_size({_regclass(s.child, s.schema)}) "
        "/ current_setting('block_size')::bigint;\n"
        "  WHILE lo <= last_block LOOP\n"
        + _retrying(s, inserts, "    ")
        + f"    lo := lo + {int(s.batch_blocks)};\n"
        "    COMMIT;\n  END LOOP;\n"
        "  RAISE NOTICE 'sqla-partition: copied % into %', "
        f"{string_literal(s.child)}, {string_literal(', '.join(t.build for t in s.targets))};\n"
    )
    return Statement(
        _do(body, "  lo bigint := 0;\n  last_block bigint;\n" + _RETRY_VARS),
        f"ACCESS SHARE on {s.child}",
        "reads and writes continue; a row written meanwhile has its key in the log and is "
        "copied again from its latest version below; rows already copied are skipped, so a "
        "rerun resumes",
        transactional=False,
    )


def _apply_log(s: HashSplit, *, commit: bool) -> str:
    """Bring the keys in the log up to date from the old partition (latest committed rows)."""
    keys = "pg_temp.sqla_partition_keys"
    deletes = "".join(
        f"  DELETE FROM {s.q(t.build)} AS t USING {keys} AS k WHERE {_same_key(s, 't', 'k')};\n"
        for t in s.targets
    )
    inserts = "".join(
        f"  INSERT INTO {s.q(t.build)} ({_cols(s.columns)}) SELECT {_cols(s.columns, 'c.')} "
        f"FROM ONLY {s.q(s.child)} AS c JOIN {keys} AS k ON {_same_key(s, 'c', 'k')} "
        f"WHERE {_belongs(s, t, 'c.')};\n"
        for t in s.targets
    )
    return (
        f"CREATE TEMP TABLE IF NOT EXISTS sqla_partition_keys (LIKE {s.q(s.log)});\n"
        "LOOP\n"
        f"  TRUNCATE {keys};\n"
        f"  WITH taken AS (DELETE FROM {s.q(s.log)} WHERE ctid = ANY (ARRAY(SELECT ctid FROM "
        f"{s.q(s.log)} LIMIT {APPLY_BATCH})) RETURNING *)\n"
        f"  INSERT INTO {keys} SELECT DISTINCT * FROM taken;\n"
        "  GET DIAGNOSTICS n = ROW_COUNT;\n"
        "  EXIT WHEN n = 0;\n"
        "  applied := applied + n;\n"
        f"{deletes}{inserts}" + ("  COMMIT;\n" if commit else "") + "END LOOP;\n"
    )


def split_catch_up(s: HashSplit) -> Statement:
    """Apply the log until it is empty, then verify the copy (one snapshot, no lock)."""
    olds = (
        f"FROM ONLY {s.q(s.child)} AS c WHERE NOT EXISTS "
        f"(SELECT 1 FROM {s.q(s.log)} AS k WHERE {_same_key(s, 'c', 'k')})"
    )
    news = [
        f"FROM {s.q(t.build)} AS c WHERE NOT EXISTS "
        f"(SELECT 1 FROM {s.q(s.log)} AS k WHERE {_same_key(s, 'c', 'k')})"
        for t in s.targets
    ]
    digest = f"coalesce(sum(hashtext(ROW({_cols(s.columns, 'c.')})::text)), 0)"
    body = (
        _where_we_stand(s)
        + "".join(f"  {line}\n" for line in _apply_log(s, commit=True).strip("\n").split("\n"))
        + "  -- keys still in the log are written again under the swap's lock; others must match\n"
        f"  SELECT (SELECT count(*) {olds}), "
        + " + ".join(f"(SELECT count(*) {n})" for n in news)
        + f",\n         (SELECT {digest} {olds}), "
        + " + ".join(f"(SELECT {digest} {n})" for n in news)
        + "\n    INTO old_rows, new_rows, old_sum, new_sum;\n"
        "  IF old_rows <> new_rows OR old_sum <> new_sum THEN\n"
        "    RAISE EXCEPTION 'sqla-partition: % holds % rows but its split tables % (or their "
        "contents differ); nothing was swapped. Run the migration again: it copies what is "
        f"missing', {string_literal(s.child)}, old_rows, new_rows;\n"
        "  END IF;\n"
        "  RAISE NOTICE 'sqla-partition: verified % rows of % in %', old_rows, "
        f"{string_literal(s.child)}, {string_literal(', '.join(t.build for t in s.targets))};\n"
    )
    declare = (
        "  n bigint;\n  applied bigint := 0;\n  old_rows bigint;\n  new_rows bigint;\n"
        "  old_sum bigint;\n  new_sum bigint;\n"
    )
    return Statement(
        _do(body, declare),
        f"ROW EXCLUSIVE on {' and '.join([*(t.build for t in s.targets), s.log])}, "
        f"ACCESS SHARE on {s.child}",
        "reads and writes continue; the rows written since the copy are copied again from "
        "their latest version, in short transactions, then counts and a checksum are "
        "compared in one snapshot",
        transactional=False,
    )


def split_swap(s: HashSplit) -> Statement:
    """Detach the old partition, write the last logged keys, attach the split tables."""
    swap = [
        f"ALTER TABLE {s.q(s.parent)} DETACH PARTITION {s.q(s.child)};",
        *_apply_log(s, commit=False).strip("\n").split("\n"),
        f"DROP TRIGGER {ident(SPLIT_TRIGGER)} ON {s.q(s.child)};",
        f"ALTER TABLE {s.q(s.child)} RENAME TO {ident(s.retired)};",
        f"COMMENT ON TABLE {s.q(s.retired)} IS {string_literal(RETIRED_MARK)};",
    ]
    for t in s.targets:
        if t.build != t.final:
            swap.append(f"ALTER TABLE {s.q(t.build)} RENAME TO {ident(t.final)};")
        swap.append(
            f"ALTER TABLE {s.q(s.parent)} ATTACH PARTITION {s.q(t.final)} "
            f"{t.bound or _hash_bound(s.new_modulus, t.remainder)};"
        )
        swap.append(f"ALTER TABLE {s.q(t.final)} DROP CONSTRAINT {ident(HASH_CHECK)};")
    finals = ", ".join(t.final for t in s.targets)
    names = [n for t in s.targets for n in (t.build, t.final)]
    body = (
        _where_we_stand(s)
        + "  -- first catch up once more, outside the lock, so that little is left for it\n"
        + "".join(f"  {line}\n" for line in _apply_log(s, commit=True).strip("\n").split("\n"))
        + _retrying(s, "\n".join(swap))
        + "  RAISE NOTICE 'sqla-partition: split % into %; the swap held writers back for at "
        "most % ms, lock waits included, after % lock timeouts', "
        f"{string_literal(s.child)}, {string_literal(finals)}, "
        "round(extract(epoch FROM worst) * 1000), attempt;\n"
    )
    declare = _RETRY_VARS + "  n bigint;\n  applied bigint := 0;\n"
    return Statement(
        _do(body, declare),
        f"ACCESS EXCLUSIVE on {' and '.join(dict.fromkeys([s.parent, s.child, *names]))} "
        f"and on the tables its foreign keys reference, ROW EXCLUSIVE on {s.log}",
        "brief: the detach, the keys written since the last catch-up, and attaches the CHECKs "
        "make scan-free (ATTACH replaces the split tables' foreign-key triggers on the "
        "referenced tables, hence their lock); each wait is bounded by lock_timeout and half "
        "of deadlock_timeout, and retried",
        transactional=False,
        squawk_ignore=("require-concurrent-partition-detach",),
    )


def split_cleanup(s: HashSplit) -> list[Statement]:
    """Drop the old partition (detached and marked by the swap), the log and the function."""
    retired = s.q(s.retired)
    return [
        Statement(
            _do(
                f"  IF obj_description(to_regclass({string_literal(retired)}), 'pg_class') = "
                f"{string_literal(RETIRED_MARK)} AND NOT EXISTS "
                "(SELECT 1 FROM pg_inherits WHERE inhrelid = "
                f"to_regclass({string_literal(retired)})) THEN\n"
                f"    DROP TABLE {retired};\n"
                "  END IF;\n"
            ),
            f"ACCESS EXCLUSIVE on {s.retired}",
            f"{s.retired} is the old partition: its rows were verified in the split tables, "
            "and only a detached table the swap marked is dropped",
        ),
        Statement(
            f"DROP TABLE IF EXISTS {s.q(s.log)}",
            f"ACCESS EXCLUSIVE on {s.log}",
            "the split's key log, empty since the swap",
            squawk_ignore=("ban-drop-table",),
        ),
        Statement(
            f"DROP FUNCTION IF EXISTS {s.q(s.log)}()",
            "no table lock",
            "the split's own trigger function; its trigger went with the swap",
            squawk_ignore=("ban-drop-function",),
        ),
    ]


def split_finished(parent: str, schema: str | None, modulus: int) -> Statement:
    """Before recording the new count: every partition has the new modulus."""
    return Statement(
        _do(
            "  IF (SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            f"WHERE i.inhparent = {_regclass(parent, schema)} "
            f"AND pg_get_expr(c.relpartbound, c.oid) LIKE "
            f"{string_literal(f'FOR VALUES WITH (modulus {int(modulus)}, %')}) <> {int(modulus)} "
            "THEN\n"
            "    RAISE EXCEPTION 'sqla-partition: % does not have its % hash partitions yet; "
            "its recorded policy is left as it was, run the migration again', "
            f"{string_literal(qualified(parent, schema))}, {int(modulus)};\n"
            "  END IF;\n"
        ),
        "no table lock",
        "the policy below is recorded only once the split is complete",
    )


# -- Citus --------------------------------------------------------------------------------


def create_distributed_table(
    table: str,
    column: str,
    schema: str | None = None,
    *,
    colocate_with: str | None = None,
    shard_count: int | None = None,
) -> Statement:
    args = [string_literal(qualified(table, schema)), string_literal(column)]
    if colocate_with is not None:
        args.append(f"colocate_with => {string_literal(colocate_with)}")
    if shard_count is not None:
        args.append(f"shard_count => {int(shard_count)}")
    return Statement(
        f"SELECT create_distributed_table({', '.join(args)})",
        f"ACCESS EXCLUSIVE on {table} (Citus)",
        "Citus creates the shards on the workers; the table is new in this migration, so "
        "there are no rows to copy and nobody waits",
    )


def create_reference_table(table: str, schema: str | None = None) -> Statement:
    return Statement(
        f"SELECT create_reference_table({string_literal(qualified(table, schema))})",
        f"ACCESS EXCLUSIVE on {table} (Citus)",
        "Citus copies the table to every node; a reference table is small by declaration",
    )


def undistribute_table(table: str, schema: str | None = None) -> Statement:
    return Statement(
        f"SELECT undistribute_table({string_literal(qualified(table, schema))})",
        f"ACCESS EXCLUSIVE on {table} (Citus)",
        "Citus copies every row back to the coordinator: the table is blocked for that time, "
        "as the downgrade asks",
    )


# -- audit columns and trail ----------------------------------------------------------------

AUDIT_SCHEMA = "public"
AUDIT_COLUMNS_FUNCTION = "sqla_partition_audit_columns"
AUDIT_TRAIL_FUNCTION = "sqla_partition_audit_trail"
TRAIL_TABLE = "sqla_partition_audit_trail"
AUDIT_TRIGGER = "sqla_partition_audit"
TRAIL_TRIGGERS = {
    "INSERT": ("sqla_partition_audit_insert", "REFERENCING NEW TABLE AS new_rows"),
    "UPDATE": (
        "sqla_partition_audit_update",
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    ),
    "DELETE": ("sqla_partition_audit_delete", "REFERENCING OLD TABLE AS old_rows"),
}
#: Columns that change with every update: not part of the trail's diff.
AUDIT_NOISE = ("updated_at", "updated_by")

_AUDIT_COLUMNS_BODY = """DECLARE
  actor text := nullif(current_setting(TG_ARGV[0], true), '');
BEGIN
  IF TG_ARGV[2] = 'who' AND actor IS NOT NULL THEN
    IF TG_ARGV[1] = 'bigint' AND (actor !~ '^[+-]?[0-9]{1,19}$'
        OR length(actor) > 18
           AND actor::numeric NOT BETWEEN -9223372036854775808 AND 9223372036854775807) THEN
      RAISE EXCEPTION 'sqla-partition: % must be an integer user id, got %', TG_ARGV[0], actor
        USING ERRCODE = 'invalid_parameter_value',
              HINT = 'set it per transaction: SELECT set_config(''' || TG_ARGV[0]
                     || ''', ''42'', true)';
    END IF;
    IF TG_ARGV[1] = 'uuid'
       AND actor !~* '^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$' THEN
      RAISE EXCEPTION 'sqla-partition: % must be a uuid, got %', TG_ARGV[0], actor
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END IF;
  IF TG_OP = 'INSERT' THEN
    -- values the insert gives stay: imports, and rows an update moves to another
    -- partition (their update already set updated_*; created_* are theirs)
    NEW.created_at := coalesce(NEW.created_at, now());
    NEW.updated_at := coalesce(NEW.updated_at, NEW.created_at);
    IF TG_ARGV[2] = 'who' THEN
      NEW.created_by := coalesce(NEW.created_by::text, actor);
      NEW.updated_by := coalesce(NEW.updated_by::text, actor, NEW.created_by::text);
    END IF;
  ELSE
    NEW.updated_at := now();
    IF TG_ARGV[2] = 'who' THEN
      NEW.updated_by := actor;
    END IF;
  END IF;
  RETURN NEW;
END"""


def _function(name: str, body: str, extra: str = "") -> str:
    tag = _dollar(body, "fn")
    return (
        f"CREATE OR REPLACE FUNCTION {qualified(name, AUDIT_SCHEMA)}() RETURNS trigger "
        f"LANGUAGE plpgsql{extra} AS {tag}\n{body}\n{tag}"
    )


_TRAIL_DECLARE = """DECLARE
  actor text := nullif(current_setting(TG_ARGV[0], true), '');
  keys text[] := TG_ARGV[1:array_upper(TG_ARGV, 1)];
  others text[];  -- the columns that are not the key: removed from a row, it is its key
  unpaired boolean := false;
"""

#: The generic trail: works on any table, comparing rows as jsonb; the per-table function
#: falls back to it when the table no longer has the columns it was written for.
_TRAIL_GENERIC = """  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(k) INTO others
      FROM jsonb_object_keys((SELECT to_jsonb(x) FROM new_rows AS x LIMIT 1)) AS k
     WHERE k <> ALL (keys);
    INSERT INTO @trail@ (table_schema, table_name, operation, actor, row_key, diff)
    SELECT TG_TABLE_SCHEMA, TG_TABLE_NAME, 'INSERT', actor, r.j - others, r.j
      FROM (SELECT to_jsonb(x) AS j FROM new_rows AS x) AS r;
    RETURN NULL;
  END IF;
  SELECT array_agg(k) INTO others
    FROM jsonb_object_keys((SELECT to_jsonb(x) FROM old_rows AS x LIMIT 1)) AS k
   WHERE k <> ALL (keys);
  IF TG_OP = 'UPDATE' THEN
    unpaired := (SELECT count(*) FROM old_rows) <> (SELECT count(*) FROM new_rows);
  END IF;
  IF TG_OP = 'DELETE' OR unpaired THEN
    -- deletes; and updates whose images do not pair up (a BEFORE INSERT trigger of the
    -- partition a row moved to dropped it): each old row as it was
    INSERT INTO @trail@ (table_schema, table_name, operation, actor, row_key, diff)
    SELECT TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP, actor, r.j - others, r.j
      FROM (SELECT to_jsonb(x) AS j FROM old_rows AS x) AS r;
    RETURN NULL;
  END IF;
  -- the old and new images of the statement's rows are stored pairwise, in the same
  -- order, also for rows the update moved to another partition: one event per row.
  -- unnest() pairs them by position without a join, whatever the plan cache expects.
  INSERT INTO @trail@ (table_schema, table_name, operation, actor, row_key, diff)
  SELECT TG_TABLE_SCHEMA, TG_TABLE_NAME, 'UPDATE', actor, p.o - others, d.diff
    FROM unnest(ARRAY(SELECT to_jsonb(x) FROM old_rows AS x),
                ARRAY(SELECT to_jsonb(x) FROM new_rows AS x)) AS p(o, n)
   CROSS JOIN LATERAL (
         SELECT jsonb_object_agg(e.key, jsonb_build_array(p.o -> e.key, e.value)) AS diff
           FROM jsonb_each(p.n) AS e
          WHERE e.value IS DISTINCT FROM p.o -> e.key AND e.key <> ALL (@noise@)) AS d
   WHERE d.diff IS NOT NULL;
  RETURN NULL;
"""

#: The fast path for updates, filled in from the live catalog when the migration runs:
#: the table's columns compared by name (as text where a type has no equality).
_TRAIL_FAST = """  IF TG_OP = 'UPDATE' THEN
    IF (SELECT count(*) FROM pg_attribute WHERE attrelid = TG_RELID AND attnum > 0
         AND NOT attisdropped AND attname = ANY (ARRAY[@names@]::name[])) = @count@
       AND (SELECT count(*) FROM old_rows) = (SELECT count(*) FROM new_rows) THEN
      -- old and new images side by side, by position, as PostgreSQL stores them
      INSERT INTO @trail@ (table_schema, table_name, operation, actor, row_key, diff)
      SELECT TG_TABLE_SCHEMA, TG_TABLE_NAME, 'UPDATE', actor, jsonb_build_object(@key@), d.diff
        FROM (SELECT unnest(ARRAY(SELECT x::@rowtype@ FROM old_rows AS x)) AS o,
                     unnest(ARRAY(SELECT x::@rowtype@ FROM new_rows AS x)) AS n) AS p
       CROSS JOIN LATERAL (SELECT @diff@ AS diff) AS d
       WHERE d.diff <> '{}';
      RETURN NULL;
    END IF;
  END IF;
"""

#: Builds the fast path's column comparisons from pg_attribute (in the DO block below).
_TRAIL_DIFF_QUERY = """SELECT string_agg(format(
           'CASE WHEN (p.o).%1$I%2$s IS DISTINCT FROM (p.n).%1$I%2$s '
           'THEN jsonb_build_object(%3$L, jsonb_build_array((p.o).%1$I, (p.n).%1$I)) '
           'ELSE ''{}''::jsonb END', a.attname,
           CASE WHEN coalesce(nullif(t.typbasetype, 0), t.oid)::regtype::text IN
                ('json', 'xml', 'point', 'line', 'lseg', 'box', 'path', 'polygon', 'circle')
                THEN '::text' ELSE '' END,
           a.attname), E'\\n             || ' ORDER BY a.attnum),
         string_agg(quote_literal(a.attname), ', ' ORDER BY a.attnum),
         count(*)
    INTO diff, names, n
    FROM pg_attribute AS a JOIN pg_type AS t ON t.oid = a.atttypid
   WHERE a.attrelid = target AND a.attnum > 0 AND NOT a.attisdropped
     AND a.attname <> ALL (@noise@)"""


def create_audit_functions() -> list[Statement]:
    """The trigger function every audited table shares (its arguments differ)."""
    return [
        Statement(
            _function(AUDIT_COLUMNS_FUNCTION, _AUDIT_COLUMNS_BODY),
            "no table lock",
            "sets the audit columns of each written row, so writes that bypass the ORM are "
            "covered too",
        )
    ]


def create_audit_trigger(
    table: str, schema: str | None, audit_json: str, args: list[str]
) -> list[Statement]:
    target = qualified(table, schema)
    return [
        Statement(
            f"CREATE OR REPLACE TRIGGER {ident(AUDIT_TRIGGER)} BEFORE INSERT OR UPDATE ON {target} "
            f"FOR EACH ROW EXECUTE FUNCTION {qualified(AUDIT_COLUMNS_FUNCTION, AUDIT_SCHEMA)}"
            f"({', '.join(string_literal(a) for a in args)})",
            f"SHARE ROW EXCLUSIVE on {table} and its partitions",
            "brief; writes wait for it, bounded by lock_timeout; a partitioned table's "
            "partitions, later ones included, get the trigger too",
        ),
        Statement(
            f"COMMENT ON TRIGGER {ident(AUDIT_TRIGGER)} ON {target} "
            f"IS {string_literal(audit_json)}",
            f"SHARE UPDATE EXCLUSIVE on {table}",
            "records the audit settings, for autogenerate to compare with the model",
        ),
    ]


def trail_function_name(table: str, schema: str | None) -> str:
    digest = hashlib.sha1(qualified(table, schema).encode("utf-8")).hexdigest()[:12]
    return f"{AUDIT_TRAIL_FUNCTION}_{digest}"


def create_trail_function(
    table: str, schema: str | None, primary_key: list[str] | tuple[str, ...]
) -> list[Statement]:
    """The trail function of one table, written when the migration runs from the table's
    columns as they are then: updates compare them by name, the fast way.

    Each statement first checks that the table still has those columns; should one have
    been dropped or renamed by hand since, it records the statement the generic way
    (whole rows as jsonb) rather than failing the write. Only the table's owner may use
    the function: it writes the trail with its owner's rights.
    """
    trail = qualified(TRAIL_TABLE, AUDIT_SCHEMA)
    noise = "ARRAY[" + ", ".join(string_literal(c) for c in AUDIT_NOISE) + "]"
    function = qualified(trail_function_name(table, schema), AUDIT_SCHEMA)
    key = ", ".join(f"{string_literal(c)}, (p.o).{ident(c)}" for c in primary_key)
    body = (_TRAIL_DECLARE + "BEGIN\n" + _TRAIL_FAST + _TRAIL_GENERIC + "END").replace(
        "@trail@", trail
    )
    body = body.replace("@noise@", noise).replace("@key@", key)
    template = _function(
        trail_function_name(table, schema),
        body,
        " SECURITY DEFINER SET search_path = pg_catalog, pg_temp",
    )
    outer = _dollar(template, "template")
    query = _TRAIL_DIFF_QUERY.replace("@noise@", noise)
    build = (
        f"  SELECT format('%I.%I', ns.nspname, c.relname) INTO rowtype FROM pg_class AS c\n"
        "    JOIN pg_namespace AS ns ON ns.oid = c.relnamespace WHERE c.oid = target;\n"
        f"  {query};\n"
        f"  EXECUTE replace(replace(replace(replace({outer}\n{template}\n{outer},\n"
        "    '@rowtype@', rowtype), '@diff@', diff), '@names@', names), '@count@', n::text);\n"
    )
    declare = (
        f"  target regclass := {_regclass(table, schema)};\n"
        "  rowtype text;\n  diff text;\n  names text;\n  n bigint;\n"
    )
    return [
        Statement(
            _do(build, declare),
            "no table lock",
            f"writes {table}'s trail function from its columns as they are now; it runs as "
            "its owner, so the application needs no right on the trail",
        ),
        Statement(
            f"REVOKE ALL ON FUNCTION {function}() FROM PUBLIC",
            "no table lock",
            "nobody else may attach the function to a table of theirs and write the trail",
        ),
    ]


def drop_trail_function(table: str, schema: str | None) -> Statement:
    return Statement(
        f"DROP FUNCTION IF EXISTS {qualified(trail_function_name(table, schema), AUDIT_SCHEMA)}()",
        "no table lock",
        "the table's own trail function, unused once its triggers are gone",
        squawk_ignore=("ban-drop-function",),
    )


def create_trail_triggers(table: str, schema: str | None, args: list[str]) -> list[Statement]:
    target = qualified(table, schema)
    arguments = ", ".join(string_literal(a) for a in args)
    call = f"{qualified(trail_function_name(table, schema), AUDIT_SCHEMA)}({arguments})"
    return [
        Statement(
            f"CREATE OR REPLACE TRIGGER {ident(name)} AFTER {event} ON {target} {referencing} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {call}",
            f"SHARE ROW EXCLUSIVE on {table}",
            "brief; statement-level, on the table itself: each statement's rows are recorded "
            "in one insert, under the table's name",
        )
        for event, (name, referencing) in TRAIL_TRIGGERS.items()
    ]


def drop_audit_triggers(table: str, schema: str | None, *, trail: bool) -> list[Statement]:
    names = [AUDIT_TRIGGER, *([n for n, _ in TRAIL_TRIGGERS.values()] if trail else [])]
    return [
        Statement(
            f"DROP TRIGGER IF EXISTS {ident(name)} ON {qualified(table, schema)}",
            f"ACCESS EXCLUSIVE on {table} and its partitions",
            "brief, bounded by lock_timeout; the audit columns keep their values",
        )
        for name in names
    ]


#: Every audited table with its recorded settings (the comment on its audit trigger) and
#: whether it has the trail triggers.
AUDIT_QUERY = f"""
SELECT n.nspname, c.relname, obj_description(t.oid, 'pg_trigger'),
       EXISTS (SELECT 1 FROM pg_trigger u WHERE u.tgrelid = t.tgrelid
                AND u.tgname = {string_literal(TRAIL_TRIGGERS["UPDATE"][0])})
  FROM pg_trigger t
  JOIN pg_class c ON c.oid = t.tgrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE t.tgname = {string_literal(AUDIT_TRIGGER)} AND NOT t.tgisinternal AND t.tgparentid = 0
"""


# -- indexes on partitioned tables, built without blocking writes ---------------------------


def partition_index_name(index: str, partition: str, columns: list[str] | tuple[str, ...]) -> str:
    """``events_p2026_11_account_id_idx``, or a digest when that would pass 63 bytes."""
    name = f"{partition}_{'_'.join(columns)}_idx"
    if len(name.encode("utf-8")) > 63:
        digest = hashlib.sha1(f"{index}/{partition}".encode()).hexdigest()[:10]
        name = f"{partition[:40]}_{digest}_idx"
    return check_identifier(name, "index name")


def suggested_index_name(kind: str, table: str, columns: Iterable[str]) -> str:
    """``sqlp_<kind>_<table>_<columns>``: the prefix marks indexes proposed by the tool."""
    name = f"sqlp_{kind}_{table}_{'_'.join(columns)}"
    if len(name.encode("utf-8")) > 63:
        name = f"sqlp_{kind}_{hashlib.sha1(name.encode()).hexdigest()[:16]}"
    return check_identifier(name, "recommended index name")


def _index_columns(columns: list[str] | tuple[str, ...]) -> str:
    return ", ".join(ident(c) for c in columns)


def create_index_on_only(
    index: str,
    table: str,
    columns: list[str] | tuple[str, ...],
    schema: str | None = None,
    *,
    unique: bool = False,
    using: str | None = None,
) -> Statement:
    method = f" USING {ident(using)}" if using else ""
    return Statement(
        f"CREATE {'UNIQUE ' if unique else ''}INDEX IF NOT EXISTS {ident(index)} "
        f"ON ONLY {qualified(table, schema)}{method} ({_index_columns(columns)})",
        f"SHARE on {table}",
        "brief: ON ONLY builds nothing (a partitioned table has no rows of its own); the "
        "index stays invalid until every partition's index is attached below",
        squawk_ignore=("require-concurrent-index-creation",),
    )


def create_index_concurrently(
    index: str,
    table: str,
    columns: list[str] | tuple[str, ...],
    schema: str | None = None,
    *,
    unique: bool = False,
    using: str | None = None,
) -> Statement:
    method = f" USING {ident(using)}" if using else ""
    return Statement(
        f"CREATE {'UNIQUE ' if unique else ''}INDEX CONCURRENTLY IF NOT EXISTS {ident(index)} "
        f"ON {qualified(table, schema)}{method} ({_index_columns(columns)})",
        f"SHARE UPDATE EXCLUSIVE on {table}",
        "reads and writes continue while the index is built; PostgreSQL runs it outside a "
        "transaction",
        transactional=False,
    )


def drop_invalid_index(index: str, schema: str | None = None) -> Statement:
    return Statement(
        f"DROP INDEX CONCURRENTLY IF EXISTS {qualified(index, schema)}",
        "SHARE UPDATE EXCLUSIVE on its table",
        "an earlier build of this index was interrupted and left it invalid; it is built again",
        transactional=False,
    )


def attach_index(
    parent_index: str, index: str, schema: str | None, tables: tuple[str, str]
) -> Statement:
    """Attach, unless an earlier run did: a rerun finishes a half-built index."""
    return Statement(
        _do(
            "  IF NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhparent = "
            f"{_regclass(parent_index, schema)} AND inhrelid = {_regclass(index, schema)}) THEN\n"
            f"    ALTER INDEX {qualified(parent_index, schema)} ATTACH PARTITION "
            f"{qualified(index, schema)};\n"
            "  END IF;\n"
        ),
        f"ACCESS SHARE on {tables[0]} and {tables[1]}, ACCESS EXCLUSIVE on {index} (an index)",
        "catalog work only, the index is built: reads and writes continue; queries that would "
        "use the new index wait for a moment, bounded by lock_timeout",
    )


def index_valid_check(index: str, schema: str | None = None) -> Statement:
    """Stop with the partitions still missing their index, rather than leave it invalid."""
    reg = _regclass(index, schema)
    return Statement(
        _do(
            f"  IF NOT (SELECT indisvalid FROM pg_index WHERE indexrelid = {reg}) THEN\n"
            "    RAISE EXCEPTION 'sqla-partition: index % is not valid yet: partitions % have "
            "no index attached; run the migration again to build them', "
            f"{string_literal(index)}, (\n"
            "      SELECT string_agg(c.relname, ', ') FROM pg_inherits i\n"
            "        JOIN pg_class c ON c.oid = i.inhrelid\n"
            "       WHERE i.inhparent = (SELECT indrelid FROM pg_index "
            f"WHERE indexrelid = {reg})\n"
            "         AND NOT EXISTS (SELECT 1 FROM pg_inherits x JOIN pg_index p "
            "ON p.indexrelid = x.inhrelid\n"
            f"                          WHERE x.inhparent = {reg} AND p.indrelid = c.oid));\n"
            "  END IF;\n"
        ),
        "no table lock",
        "the index is valid once every partition's index is attached",
    )


#: Online: every partition of a table at any depth, whether it is partitioned itself, and
#: its parent (bind parameter: the table as ``schema.name`` text).
PARTITION_TREE_QUERY = """
SELECT c.relname, c.relkind = 'p', p.relname
  FROM pg_partition_tree(%(table)s::regclass) t
  JOIN pg_class c ON c.oid = t.relid
  JOIN pg_class p ON p.oid = t.parentrelid
 WHERE t.level > 0
 ORDER BY t.level, c.relname
"""

#: Online: which of the named indexes (in a schema) exist, and whether they are valid.
INDEX_STATE_QUERY = """
SELECT c.relname, x.indisvalid
  FROM pg_class c JOIN pg_index x ON x.indexrelid = c.oid
 WHERE c.relnamespace = %(schema)s::regnamespace AND c.relname = ANY (%(names)s)
"""


# -- index recommendations --------------------------------------------------------------

#: Every index of every table that is not a partition (a partition's cloned indexes count
#: once, on its parent), and invalid ones on partitions too: schema, table, index, key
#: columns (plain ones; NULL for an expression), unique, primary, valid, access method,
#: whether it has an expression or a predicate, whether its table is partitioned, and
#: whether its table is a partition.
INDEX_CATALOG_QUERY = """
SELECT n.nspname, t.relname, i.relname,
       ARRAY(SELECT a.attname::text
               FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
               LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
              WHERE k.ord <= x.indnkeyatts ORDER BY k.ord),
       x.indisunique, x.indisprimary, x.indisvalid, am.amname,
       x.indexprs IS NOT NULL OR x.indpred IS NOT NULL,
       t.relkind = 'p', t.relispartition
  FROM pg_index x
  JOIN pg_class i ON i.oid = x.indexrelid
  JOIN pg_class t ON t.oid = x.indrelid
  JOIN pg_namespace n ON n.oid = t.relnamespace
  JOIN pg_am am ON am.oid = i.relam
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
   AND (NOT t.relispartition OR NOT x.indisvalid)
 ORDER BY 1, 2, 3
"""


def reindex_concurrently(index: str, schema: str | None = None) -> Statement:
    return Statement(
        f"REINDEX INDEX CONCURRENTLY {qualified(index, schema)}",
        "SHARE UPDATE EXCLUSIVE on its table",
        "rebuilds an index an interrupted build left invalid; reads and writes continue",
        transactional=False,
    )


# -- workload advice (hypopg) ----------------------------------------------------------------

ADVICE_PREPARED = "sqla_partition_advice"

#: hypopg installed, hypopg available on the server, pg_stat_statements readable, and
#: whether this role sees other roles' statements.
ADVICE_READY_QUERY = """
SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'hypopg'),
       EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg'),
       to_regclass('pg_stat_statements') IS NOT NULL,
       pg_has_role(current_user, 'pg_read_all_stats', 'USAGE')
         OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
"""

#: Tables that are not partitions, with their columns and whether they are partitioned.
ADVICE_TABLES_QUERY = """
SELECT n.nspname, c.relname, array_agg(a.attname::text ORDER BY a.attnum), c.relkind = 'p'
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
 GROUP BY 1, 2, 4
"""

#: The leaf partitions of a table (bind parameter: the table as ``schema.name`` text).
LEAF_PARTITIONS_QUERY = """
SELECT n.nspname, c.relname
  FROM pg_partition_tree(%(table)s::regclass) t
  JOIN pg_class c ON c.oid = t.relid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE t.isleaf
"""

HYPOPG_RESET = "SELECT hypopg_reset()"
#: Plans of normalized statements do not depend on the parameters' values.
GENERIC_PLANS = "SET LOCAL plan_cache_mode = force_generic_plan"
DEALLOCATE_ADVICE = f"DEALLOCATE {ADVICE_PREPARED}"


def workload_query(min_calls: int, limit: int) -> str:
    """This database's most expensive statements that an index could serve."""
    return (
        "SELECT query, calls FROM pg_stat_statements "
        "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        f"AND calls >= {int(min_calls)} "
        "AND query ~* '^[[:space:]]*(select|update|delete|with)[[:space:]]' "
        f"ORDER BY total_exec_time DESC LIMIT {int(limit)}"
    )


def explain(statement: str) -> str:
    """The plan of a workload statement (EXPLAIN only plans it: nothing runs)."""
    return f"EXPLAIN (FORMAT JSON) {statement}"


def prepare_statement(statement: str) -> str:
    return f"PREPARE {ADVICE_PREPARED} AS {statement}"


def explain_prepared(parameters: int) -> str:
    """The generic plan of a normalized statement: the values do not matter to it."""
    values = ", ".join(["NULL"] * int(parameters))
    return f"EXPLAIN (FORMAT JSON) EXECUTE {ADVICE_PREPARED}({values})"


def hypothetical_index(schema: str, table: str, columns: tuple[str, ...]) -> str:
    ddl = f"CREATE INDEX ON {qualified(table, schema)} ({', '.join(ident(c) for c in columns)})"
    return f"SELECT * FROM hypopg_create_index({string_literal(ddl)})"


# -- adopting pg_partman sets ---------------------------------------------------------------

PARTMAN_SCHEMA_QUERY = """
SELECT n.nspname, e.extversion
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE e.extname = 'pg_partman'
"""


def partman_config_query(schema: str) -> str:
    """pg_partman's settings for one set (bind parameter: ``schema.table`` text)."""
    return f"SELECT * FROM {ident(schema)}.part_config WHERE parent_table = %(parent)s"


# -- converting a live table into a partitioned one ----------------------------------------

LEGACY_SUFFIX = "_legacy"


def _legacy_guard(table: str, schema: str | None, column: str) -> str:
    """DO-block lines: stop quietly once converted; refuse what cannot be carried over."""
    reg = string_literal(qualified(table, schema))
    legacy = string_literal(qualified(table + LEGACY_SUFFIX, schema))
    return (
        f"  IF (SELECT relkind FROM pg_class WHERE oid = to_regclass({reg})) = 'p'\n"
        f"     AND to_regclass({legacy}) IS NOT NULL THEN\n"
        "    RETURN;  -- converted already\n"
        "  END IF;\n"
        f"  IF (SELECT relkind FROM pg_class WHERE oid = to_regclass({reg})) IS DISTINCT FROM 'r' "
        "THEN\n"
        f"    RAISE EXCEPTION 'sqla-partition: % is not a plain table', {reg};\n"
        "  END IF;\n"
        "  IF EXISTS (SELECT 1 FROM pg_index x\n"
        f"              WHERE x.indrelid = {reg}::regclass AND x.indisunique\n"
        "                AND NOT EXISTS (SELECT 1 FROM pg_attribute a\n"
        "                      WHERE a.attrelid = x.indrelid AND a.attnum = ANY (x.indkey)\n"
        f"                        AND a.attname = {string_literal(column)})) THEN\n"
        "    RAISE EXCEPTION 'sqla-partition: the primary key or a unique index of % does not "
        "include %: PostgreSQL enforces uniqueness per partition only; add % to them first', "
        f"{reg}, {string_literal(column)}, {string_literal(column)};\n"
        "  END IF;\n"
        "  IF EXISTS (SELECT 1 FROM pg_constraint WHERE contype = 'f'\n"
        f"              AND confrelid = {reg}::regclass) THEN\n"
        "    RAISE EXCEPTION 'sqla-partition: % is referenced by a foreign key; a foreign key to "
        f"a partitioned table needs its whole key; drop or change it first', {reg};\n"
        "  END IF;\n"
        "  IF EXISTS (SELECT 1 FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid\n"
        f"             WHERE d.refobjid = {reg}::regclass AND r.ev_class <> {reg}::regclass) THEN\n"
        "    RAISE EXCEPTION 'sqla-partition: views depend on %; they would keep reading the "
        f"old table only: drop them first and create them again after', {reg};\n"
        "  END IF;\n"
        "  IF EXISTS (SELECT 1 FROM pg_trigger\n"
        f"              WHERE tgrelid = {reg}::regclass AND NOT tgisinternal) THEN\n"
        "    RAISE EXCEPTION 'sqla-partition: % has triggers of its own; move them to the new "
        f"table by hand after the conversion, or drop them first', {reg};\n"
        "  END IF;\n"
        "  IF EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = "
        f"{reg}::regclass\n"
        f"              AND (contype = 'x' OR (NOT convalidated AND conname <> "
        f"{string_literal(BOUND_CHECK)})))\n"
        f"     OR EXISTS (SELECT 1 FROM pg_index WHERE indrelid = {reg}::regclass "
        "AND NOT indisvalid) THEN\n"
        "    RAISE EXCEPTION 'sqla-partition: % has an exclusion constraint, a NOT VALID "
        "constraint or an invalid index, which a partitioned table cannot take over as it "
        f"is: validate, rebuild or drop it first', {reg};\n"
        "  END IF;\n"
        f"  IF (SELECT relrowsecurity FROM pg_class WHERE oid = {reg}::regclass) THEN\n"
        "    RAISE EXCEPTION 'sqla-partition: % uses row-level security; its policies would "
        f"not follow: convert it by hand', {reg};\n"
        "  END IF;\n"
        "  IF EXISTS (SELECT 1 FROM pg_publication_tables p JOIN pg_class c "
        "ON c.relname = p.tablename\n"
        "              JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = p.schemaname\n"
        f"              WHERE c.oid = {reg}::regclass) THEN\n"
        "    RAISE EXCEPTION 'sqla-partition: % is published for logical replication; take it "
        f"out of the publication first and add the new table after', {reg};\n"
        "  END IF;\n"
        f"  IF EXISTS (SELECT 1 FROM pg_inherits WHERE inhparent = {reg}::regclass "
        f"OR inhrelid = {reg}::regclass) THEN\n"
        f"    RAISE EXCEPTION 'sqla-partition: % takes part in table inheritance', {reg};\n"
        "  END IF;\n"
    )


def legacy_bound_check(
    table: str, schema: str | None, column: str, upper: KeyValue, key_type: str
) -> list[Statement]:
    """The CHECK that proves every row is older than the first new period, added without
    a scan, then validated while writes go on."""
    target = qualified(table, schema)
    col = ident(column)
    check = f"{col} IS NOT NULL AND {col} < {_cast(upper, key_type)}"
    reg = string_literal(target)
    late = (
        f"  IF now() >= {_cast(upper, key_type)} - interval '1 hour' THEN\n"
        "    RAISE EXCEPTION 'sqla-partition: this migration converts % with its first new "
        "partition starting at %, which is past or less than an hour away (rows of that "
        "period would be refused until the conversion ends); generate the migration again', "
        f"{reg}, {string_literal(str(upper))};\n"
        "  END IF;\n"
        if key_type in ("timestamptz", "timestamp", "date")
        else ""
    )
    add = _do(
        _legacy_guard(table, schema, column)
        + late
        + "  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = "
        f"{reg}::regclass AND conname = {string_literal(BOUND_CHECK)}) THEN\n"
        f"    ALTER TABLE {target} ADD CONSTRAINT {ident(BOUND_CHECK)} CHECK ({check}) NOT VALID;\n"
        "  END IF;\n"
    )
    validate = _do(
        f"  IF (SELECT relkind FROM pg_class WHERE oid = to_regclass({reg})) = 'r' THEN\n"
        "    BEGIN\n"
        f"      ALTER TABLE {target} VALIDATE CONSTRAINT {ident(BOUND_CHECK)};\n"
        "    EXCEPTION WHEN check_violation THEN\n"
        "      -- never leave the CHECK behind: it would refuse every later row\n"
        f"      ALTER TABLE {target} DROP CONSTRAINT {ident(BOUND_CHECK)};\n"
        "      RAISE EXCEPTION 'sqla-partition: % has rows at or past %, or without a value for "
        "the partition key; the first new partition must start later than every row, and "
        "every row needs a key', "
        f"{reg}, {string_literal(str(upper))};\n"
        "    END;\n"
        "  END IF;\n"
    )
    return [
        Statement(
            add,
            f"ACCESS EXCLUSIVE on {table}",
            "brief: NOT VALID checks only the rows written from now on, so nothing is scanned; "
            "the bound is the start of the first new period, later than any row written now",
        ),
        Statement(
            validate,
            f"SHARE UPDATE EXCLUSIVE on {table}",
            "scans the table for the CHECK while reads and writes go on",
        ),
    ]


def convert_to_partitioned(
    table: str,
    schema: str | None,
    column: str,
    upper: KeyValue,
    key_type: str,
    children: list[Statement],
    *,
    lock_timeout_ms: int,
    retries: int,
) -> Statement:
    """The swap: the table becomes the legacy partition of a new parent of its name."""
    target = qualified(table, schema)
    legacy_name = check_identifier(table + LEGACY_SUFFIX, "legacy partition name")
    legacy = qualified(legacy_name, schema)
    reg = string_literal(legacy)
    bounds = Bounds(lock_timeout_ms, retries)
    children_sql = "\n".join(c.sql + ";" for c in children)
    body = "\n".join(
        [
            "-- the indexes and key constraints as they are: the new table gets them by name",
            "indexes := ARRAY(SELECT CASE WHEN k.conname IS NULL "
            "THEN pg_get_indexdef(x.indexrelid) ELSE format('ALTER TABLE %s ADD CONSTRAINT %I %s', "
            f"{string_literal(target)}, k.conname, pg_get_constraintdef(k.oid)) END "
            "FROM pg_index x LEFT JOIN pg_constraint k ON k.conindid = x.indexrelid "
            f"AND k.conrelid = x.indrelid WHERE x.indrelid = {string_literal(target)}::regclass);",
            f"ALTER TABLE {target} RENAME TO {ident(legacy_name)};",
            "-- the old indexes make way for the new table's: their names are schema-wide",
            "FOR ix IN SELECT x.indexrelid::regclass::text AS idx, CASE WHEN length(c.relname) "
            "<= 56 THEN c.relname || '_legacy' ELSE left(c.relname, 40) || '_' || "
            "left(md5(c.relname), 8) || '_legacy' END AS new_name FROM pg_index x "
            f"JOIN pg_class c ON c.oid = x.indexrelid WHERE x.indrelid = {reg}::regclass LOOP",
            "  EXECUTE format('ALTER INDEX %s RENAME TO %I', ix.idx, ix.new_name);",
            "END LOOP;",
            f"CREATE TABLE {target} (LIKE {legacy} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
            "INCLUDING STORAGE INCLUDING COMMENTS INCLUDING GENERATED INCLUDING IDENTITY "
            f"INCLUDING STATISTICS) PARTITION BY RANGE ({ident(column)});",
            "-- the bound CHECK belongs to the legacy table only",
            f"ALTER TABLE {target} DROP CONSTRAINT {ident(BOUND_CHECK)};",
            "EXECUTE format('ALTER TABLE %s OWNER TO %I', "
            f"{string_literal(target)}, (SELECT pg_get_userbyid(relowner) FROM pg_class "
            f"WHERE oid = {reg}::regclass));",
            "-- sequences of serial columns go with the new table (dropping the legacy",
            "-- partition one day must not take them along)",
            "FOR sq IN SELECT d.objid::regclass::text AS seq, a.attname FROM pg_depend d",
            "  JOIN pg_class q ON q.oid = d.objid AND q.relkind = 'S'",
            "  JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid",
            f" WHERE d.refobjid = {reg}::regclass AND d.classid = 'pg_class'::regclass",
            "   AND d.deptype = 'a' LOOP",
            "  EXECUTE format('ALTER SEQUENCE %s OWNED BY %s.%I', sq.seq, "
            f"{string_literal(target)}, sq.attname);",
            "END LOOP;",
            "FOREACH definition IN ARRAY indexes LOOP",
            "  EXECUTE definition;  -- no partition yet: nothing to build",
            "END LOOP;",
            "-- identity columns go on from where the old table's sequence was",
            "FOR col IN SELECT a.attname FROM pg_attribute a WHERE a.attrelid = "
            f"{reg}::regclass AND a.attidentity <> '' LOOP",
            "  EXECUTE format('ALTER TABLE %s ALTER COLUMN %I RESTART WITH %s', "
            f"{string_literal(target)}, col.attname, "
            f"nextval(pg_get_serial_sequence({reg}, col.attname)));",
            "  EXECUTE format('ALTER TABLE %s ALTER COLUMN %I DROP IDENTITY', "
            f"{reg}, col.attname);",
            "END LOOP;",
            f"ALTER TABLE {target} ATTACH PARTITION {legacy} FOR VALUES FROM (MINVALUE) "
            f"TO ({key_literal(upper, key_type)});",
            f"ALTER TABLE {legacy} DROP CONSTRAINT {ident(BOUND_CHECK)};",
            "-- foreign keys: the legacy partition's own, validated, are adopted, not re-checked",
            "FOR fk IN SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint "
            f"WHERE conrelid = {reg}::regclass AND contype = 'f' LOOP",
            f"  EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', {string_literal(target)}, "
            "fk.conname, fk.def);",
            "END LOOP;",
            "-- grants, on the table and on its columns, with their grant options",
            "FOR g IN SELECT a.privilege_type, NULL::name AS col, a.is_grantable, "
            "CASE WHEN a.grantee = 0 THEN 'PUBLIC' "
            "ELSE quote_ident(pg_get_userbyid(a.grantee)) END AS who FROM pg_class c, "
            f"aclexplode(c.relacl) a WHERE c.oid = {reg}::regclass",
            "          UNION ALL SELECT a.privilege_type, t.attname, a.is_grantable, "
            "CASE WHEN a.grantee = 0 THEN 'PUBLIC' "
            "ELSE quote_ident(pg_get_userbyid(a.grantee)) END FROM pg_attribute t, "
            f"aclexplode(t.attacl) a WHERE t.attrelid = {reg}::regclass AND t.attacl IS NOT NULL "
            "LOOP",
            "  EXECUTE format('GRANT %s%s ON %s TO %s%s', g.privilege_type, "
            "CASE WHEN g.col IS NULL THEN '' ELSE format(' (%I)', g.col) END, "
            f"{string_literal(target)}, g.who, "
            "CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);",
            "END LOOP;",
            "EXECUTE format('COMMENT ON TABLE %s IS %L', "
            f"{string_literal(target)}, obj_description({reg}::regclass, 'pg_class'));",
            children_sql,
        ]
    )
    text = _do(
        _legacy_guard(table, schema, column).replace(
            f"(SELECT relkind FROM pg_class WHERE oid = to_regclass({string_literal(target)})) "
            "IS DISTINCT FROM 'r'",
            "false",
        )
        + _retrying(bounds, body)
        + "  RAISE NOTICE 'sqla-partition: partitioned %, its rows kept in %; the swap held "
        "writers back for at most % ms, lock waits included, after % lock timeouts', "
        f"{string_literal(target)}, {string_literal(legacy_name)}, "
        "round(extract(epoch FROM worst) * 1000), attempt;\n",
        _RETRY_VARS
        + "  ix record;\n  col record;\n  fk record;\n  g record;\n  sq record;\n"
        + "  indexes text[];\n  definition text;\n",
    )
    return Statement(
        text,
        f"ACCESS EXCLUSIVE on {table}, and on the tables its foreign keys reference",
        "brief: renames, a new empty parent, and an ATTACH the validated CHECK makes "
        "scan-free; lock_timeout bounds each wait, retried",
    )


def legacy_bound_cleanup(table: str, schema: str | None) -> list[Statement]:
    """After the swap: if the table is still plain (the swap failed), its bound CHECK goes
    (it would refuse every row of the new periods), then the failure is reported."""
    target = qualified(table, schema)
    reg = string_literal(target)
    plain = f"(SELECT relkind FROM pg_class WHERE oid = to_regclass({reg})) = 'r'"
    return [
        Statement(
            _do(
                f"  IF {plain} THEN\n"
                f"    ALTER TABLE {target} DROP CONSTRAINT IF EXISTS {ident(BOUND_CHECK)};\n"
                "  END IF;\n"
            ),
            f"ACCESS EXCLUSIVE on {table}, only if it was not converted",
            "a CHECK left behind would refuse every row of the new periods",
        ),
        Statement(
            _do(
                f"  IF {plain} THEN\n"
                "    RAISE EXCEPTION 'sqla-partition: % was not converted (see the error above); "
                "nothing is left changed: run the migration again', "
                f"{reg};\n"
                "  END IF;\n"
            ),
            "no table lock",
            "stops a script run by psql here when the conversion did not happen",
        ),
        Statement(
            f"ANALYZE {target}",
            f"SHARE UPDATE EXCLUSIVE on {table}",
            "the new partitioned table has no statistics yet (autovacuum does not analyze "
            "partitioned tables); reads and writes continue",
        ),
    ]


# -- splitting the legacy partition ----------------------------------------------------------

#: A table's columns in order: name, part of the primary key, generated (bind parameter:
#: the table as ``schema.name`` text).
TABLE_KEYS_QUERY = """
SELECT a.attname,
       EXISTS (SELECT 1 FROM pg_index x WHERE x.indrelid = a.attrelid AND x.indisprimary
                  AND a.attnum = ANY (x.indkey)),
       a.attgenerated <> ''
  FROM pg_attribute a
 WHERE a.attrelid = %(table)s::regclass AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attnum
"""


def min_key_query(table: str, column: str, schema: str) -> str:
    return f"SELECT min({ident(column)}) FROM {qualified(table, schema)}"


def range_condition(column: str, lower: KeyValue | None, upper: KeyValue, key_type: str) -> str:
    """Rows of ``[lower, upper)``, ``{row}`` standing for a row prefix such as ``c.``."""
    col = "{row}" + ident(column)
    upper_sql = f"{col} < {_cast(upper, key_type)}"
    if lower is None:
        return f"{col} IS NOT NULL AND {upper_sql}"
    return f"{col} >= {_cast(lower, key_type)} AND {upper_sql}"
