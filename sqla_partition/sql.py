"""Every SQL statement the tool can run is built here, and only here.

Identifiers are quoted the way SQLAlchemy's PostgreSQL preparer quotes them (without
importing SQLAlchemy, so ``roll`` starts fast), values are typed literals, and each
statement carries the lock it takes and whether it may run inside a transaction.
"""

from __future__ import annotations

import datetime as dt
import re
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


def create_partition_of(
    parent: str,
    child: str,
    bounds: str,
    schema: str | None = None,
) -> Statement:
    """``PARTITION OF``: only for a parent created in the same transaction."""
    return Statement(
        f"CREATE TABLE IF NOT EXISTS {qualified(child, schema)} "
        f"PARTITION OF {qualified(parent, schema)} {bounds}",
        f"ACCESS EXCLUSIVE on {parent}",
        "the parent is new in this transaction, nobody else can see it yet",
    )


def create_range_partition_of(
    parent: str, child: str, lower: KeyValue, upper: KeyValue, key_type: str, schema: str | None
) -> Statement:
    return create_partition_of(parent, child, range_bounds(lower, upper, key_type), schema)


def create_default_partition_of(parent: str, child: str, schema: str | None = None) -> Statement:
    return create_partition_of(parent, child, "DEFAULT", schema)


def create_hash_partition_of(
    parent: str, child: str, modulus: int, remainder: int, schema: str | None = None
) -> Statement:
    bounds = f"FOR VALUES WITH (MODULUS {int(modulus)}, REMAINDER {int(remainder)})"
    return create_partition_of(parent, child, bounds, schema)


def create_detached_child(parent: str, child: str, schema: str | None = None) -> Statement:
    """A plain table shaped like the parent, to be attached after its CHECK is in place."""
    return Statement(
        f"CREATE TABLE IF NOT EXISTS {qualified(child, schema)} "
        f"(LIKE {qualified(parent, schema)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
        "INCLUDING STORAGE INCLUDING COMMENTS INCLUDING GENERATED)",
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
) -> Statement:
    lock = f"SHARE UPDATE EXCLUSIVE on {parent}, ACCESS EXCLUSIVE on {child}"
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
           pg_is_in_recovery() OR current_setting('transaction_read_only')::boolean AS read_only
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
           ch.detach_pending
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
     WHERE pn.nspname NOT IN ('pg_catalog', 'information_schema')
       AND NOT pc.relispartition
       {only}
)
SELECT parts.*, meta.has_policy_table, meta.datestyle, meta.read_only
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
