"""What ``roll`` runs besides partitions: its advisory lock, rows rescued from the DEFAULT
partition, archives, and the record of when each table was rolled."""

from __future__ import annotations

from collections.abc import Sequence

from .plpgsql import do_block
from .policy import POLICY_TABLE, policy_table
from .quoting import KeyValue, ident, qualified, string_literal, typed_literal
from .statement import Statement, inert

#: First key of the two-key advisory lock: 'sqlp' as an int, so our locks are recognisable.
ADVISORY_CLASS = 0x73716C70


def try_advisory_lock(table: str, schema: str) -> str:
    """Session-level, per table: a second concurrent roll skips what this one holds."""
    return (
        f"SELECT pg_try_advisory_lock({ADVISORY_CLASS}, "
        f"hashtext({string_literal(qualified(table, schema))}))"
    )


def advisory_lock(table: str, schema: str) -> str:
    """The same lock, waited for: bounded by the session's ``lock_timeout``."""
    return (
        f"SELECT pg_advisory_lock({ADVISORY_CLASS}, "
        f"hashtext({string_literal(qualified(table, schema))}))"
    )


def advisory_holder_query(table: str, schema: str) -> str:
    """Who holds a table's lock: pid, seconds its statement has run, its state."""
    key = f"hashtext({string_literal(qualified(table, schema))})"
    return (
        "SELECT a.pid, round(extract(epoch FROM now() - a.query_start)), a.state "
        "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        f"WHERE l.locktype = 'advisory' AND l.granted AND l.classid = {ADVISORY_CLASS}::oid "
        f"AND l.objid = {key}::oid AND l.objsubid = 2 LIMIT 1"
    )


def advisory_unlock(table: str, schema: str) -> str:
    return (
        f"SELECT pg_advisory_unlock({ADVISORY_CLASS}, "
        f"hashtext({string_literal(qualified(table, schema))}))"
    )


#: The server's deadlock_timeout in milliseconds: roll waits for a lock at most half as long.
DEADLOCK_TIMEOUT_QUERY = (
    "SELECT (extract(epoch FROM current_setting('deadlock_timeout')::interval) * 1000)::int"
)

#: A standby, or a session that may not write: roll then changes nothing.
READ_ONLY_QUERY = "SELECT pg_is_in_recovery() OR current_setting('transaction_read_only')::boolean"


def max_key_query(partitions: Sequence[str], column: str, schema: str) -> str:
    """The largest key in ``partitions`` (newest first), never in the DEFAULT partition: a
    stray row there must not move an integer key's position (and with it retention).

    Each partition's ``max`` is an InitPlan, evaluated only when COALESCE reaches it, so
    the query reads the newest partitions down to the first that holds a row."""
    col = ident(column)
    if not partitions:
        return "SELECT NULL"
    terms = ", ".join(f"(SELECT max({col}) FROM {qualified(p, schema)})" for p in partitions)
    return f"SELECT COALESCE({terms})" if len(partitions) > 1 else terms[1:-1]


#: The comment on a partition ``roll --place-default`` made for rows of the DEFAULT.
PLACED_MARK = "sqla-partition: placed by roll --place-default for rows that were in the DEFAULT"


def mark_placed(partition: str, schema: str | None) -> Statement:
    return Statement(
        f"COMMENT ON TABLE {qualified(partition, schema)} IS {string_literal(PLACED_MARK)}",
        f"SHARE UPDATE EXCLUSIVE on {partition} (new in this transaction)",
        "marks a partition made for outliers: an integer key's position never counts it",
    )


def placed_partitions_query(parent: str, schema: str) -> str:
    """The partitions of ``parent`` that ``--place-default`` made (see :func:`mark_placed`)."""
    return (
        "SELECT c.relname FROM pg_catalog.pg_inherits AS i "
        "JOIN pg_catalog.pg_class AS c ON c.oid = i.inhrelid "
        "JOIN pg_catalog.pg_description AS d ON d.objoid = c.oid "
        "AND d.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objsubid = 0 "
        f"WHERE i.inhparent = {string_literal(qualified(parent, schema))}::pg_catalog.regclass "
        f"AND d.description OPERATOR(pg_catalog.=) {string_literal(PLACED_MARK)}"
    )


def in_range(column: str, lower: KeyValue, upper: KeyValue, key_type: str) -> str:
    col = ident(column)
    return f"{col} >= {typed_literal(lower, key_type)} AND {col} < {typed_literal(upper, key_type)}"


def count_in_range_query(
    table: str, column: str, lower: KeyValue, upper: KeyValue, key_type: str, schema: str
) -> str:
    return (
        f"SELECT count(*) FROM {qualified(table, schema)} "
        f"WHERE {in_range(column, lower, upper, key_type)}"
    )


def default_rows_query(default: str, schema: str) -> str:
    return f"SELECT count(*) FROM {qualified(default, schema)}"


def lock_default(default: str, schema: str | None, *, moving: bool = True) -> Statement:
    why = "ATTACH below needs it anyway; taken first, after the parent's lock"
    if moving:
        why = (
            "ATTACH below needs it anyway; taken first so no row of the new range slips in "
            "between the move and the ATTACH"
        )
    return Statement(
        f"LOCK TABLE {qualified(default, schema)} IN ACCESS EXCLUSIVE MODE",
        f"ACCESS EXCLUSIVE on {default}",
        why,
    )


def insert_moved(target: str, schema: str | None, columns: tuple[str, ...] | None) -> str:
    """``INSERT`` of the rows a ``moved`` CTE returns, by the names of ``columns`` when
    they are known: the source (a DEFAULT attached by hand) may order its columns otherwise,
    and stored generated columns may not be given."""
    if not columns:
        return f"INSERT INTO {qualified(target, schema)} SELECT * FROM moved"
    names = ", ".join(ident(c) for c in columns)
    return f"INSERT INTO {qualified(target, schema)} ({names}) SELECT {names} FROM moved"


def insertable_columns(reg: str) -> str:
    """PL/pgSQL that reads into ``cols`` the quoted names of the columns of ``reg`` (a
    regclass expression) an INSERT may give: not dropped, not stored generated ones. Every
    name is pg_catalog's, as it runs in a migration's session too."""
    return (
        "  SELECT pg_catalog.string_agg(pg_catalog.quote_ident(attname), ', ' ORDER BY "
        f"attnum) INTO cols\n    FROM pg_catalog.pg_attribute WHERE attrelid OPERATOR("
        f"pg_catalog.=) {reg} AND attnum > 0\n     AND NOT attisdropped AND attgenerated = '';\n"
    )


def insert_by_name(head: str, target: str, schema: str | None, source: str = "moved") -> str:
    """A DO block: ``head`` (a ``WITH moved AS (...)``, or nothing), then the INSERT of
    ``source``'s rows into ``target`` by the names of its columns that are not stored
    generated ones, read when it runs (a migration is written before the table's columns
    are known to it; an INSERT may not give a generated column, and gives an identity
    column ``GENERATED ALWAYS`` only overriding it)."""
    reg = string_literal(qualified(target, schema))
    body = insertable_columns(f"{reg}::pg_catalog.regclass") + (
        "  EXECUTE pg_catalog.format('%s INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s "
        f"FROM {source}', {string_literal(head)}, {reg}::pg_catalog.regclass, cols, cols);\n"
    )
    return do_block(body, "  cols text;\n")


def move_rows(
    source: str,
    target: str,
    column: str,
    lower: KeyValue,
    upper: KeyValue,
    key_type: str,
    schema: str | None,
    columns: tuple[str, ...] | None = None,
    *,
    by_name: bool = False,
) -> Statement:
    """Move the rows of a range from the DEFAULT partition into the new partition, in the
    transaction that attaches it: they are never out of sight of the parent's readers.
    ``by_name``: the columns are read when it runs (a migration)."""
    where = in_range(column, lower, upper, key_type)
    head = f"WITH moved AS (DELETE FROM {qualified(source, schema)} WHERE {where} RETURNING *)"
    return Statement(
        insert_by_name(head, target, schema)
        if by_name
        else f"{head} {insert_moved(target, schema, columns)}",
        f"ROW EXCLUSIVE on {source} and {target}",
        "moves rows of the new range out of the DEFAULT partition, atomically; writes to the "
        "parent wait meanwhile (roll's --max-move-rows bounds how many rows that is)",
        moves_rows=True,
    )


def create_schema(schema: str) -> Statement:
    """The archive schema, made by the table's owner; one that another role (not a
    superuser) owns is refused: its owner could drop the archives moved into it."""
    name = string_literal(schema)
    body = (
        f"  CREATE SCHEMA IF NOT EXISTS {ident(schema)};\n"
        "  SELECT pg_get_userbyid(n.nspowner), r.rolsuper INTO owner, super FROM pg_namespace n "
        f"JOIN pg_roles r ON r.oid = n.nspowner WHERE n.nspname = {name};\n"
        "  IF owner <> current_user AND NOT super THEN\n"
        "    RAISE EXCEPTION 'sqla-partition: the archive schema % belongs to %, not to the "
        f"table''s owner %: archives are never moved where another role could drop them', "
        f"{name}, owner, current_user\n"
        "      USING ERRCODE = 'insufficient_privilege';\n"
        "  END IF;\n"
    )
    return Statement(
        do_block(body, "  owner text;\n  super boolean;\n"),
        "no table lock",
        "the archive schema for detached partitions, owned by the table's owner",
    )


#: Why an archive may move back beside its table (``reattach``).
BACK_BESIDE_TABLE = (
    "the archive is not a partition, the application does not read it; it goes back "
    "beside its table to be attached"
)


def set_schema(
    table: str,
    schema: str | None,
    new_schema: str,
    *,
    why: str = "the table is detached, the application no longer reads it; the policy's "
    "archive_schema asks for it to move there",
) -> Statement:
    return Statement(
        f"ALTER TABLE {qualified(table, schema)} SET SCHEMA {ident(new_schema)}",
        f"ACCESS EXCLUSIVE on {table}",
        why,
        squawk_ignore=("ban-set-schema",),
    )


def mark_rolled(table: str, schema: str) -> Statement:
    return mark_rolled_many([(schema, table)])


def mark_rolled_many(tables: list[tuple[str, str]]) -> Statement:
    """One statement for every table a run rolled, whatever their number: joined to a
    VALUES list (hashed), not ``IN`` a list of rows, which compares every policy row with
    every listed table (0.15 s at a thousand tables)."""
    keys = ", ".join(f"({string_literal(s)}, {string_literal(t)})" for s, t in tables)
    return Statement(
        f"UPDATE {policy_table()} AS p SET rolled_at = pg_catalog.now() "
        f"FROM (VALUES {keys}) AS v (schema_name, table_name) "
        "WHERE p.schema_name OPERATOR(pg_catalog.=) v.schema_name "
        "AND p.table_name OPERATOR(pg_catalog.=) v.table_name",
        f"ROW EXCLUSIVE on {POLICY_TABLE}",
        "records when these tables were last rolled, for `sqla-partition check`",
    )


def rolled_at_query() -> str:
    return f"SELECT schema_name, table_name, rolled_at FROM {policy_table()}"


def default_fact(parent: str, default: str, *, empty: bool = False) -> str:
    """A comment stating a fact ``sqla-partition lint`` needs but the SQL does not show."""
    note = ", empty when planned" if empty else ""
    # names as SQL identifiers, so that lint reads one with a space as one name
    return (
        f"-- sqla-partition: {inert(ident(parent))} has DEFAULT partition "
        f"{inert(ident(default))}{note}"
    )


def next_key_query(table: str, column: str, at_least: KeyValue, key_type: str, schema: str) -> str:
    """The smallest key from ``at_least`` on: walks a DEFAULT partition period by period."""
    col = ident(column)
    return (
        f"SELECT min({col}) FROM {qualified(table, schema)} "
        f"WHERE {col} >= {typed_literal(at_least, key_type)}"
    )


def count_before_query(
    table: str, column: str, before: KeyValue, key_type: str, schema: str
) -> str:
    return (
        f"SELECT count(*) FROM {qualified(table, schema)} WHERE {_before(column, before, key_type)}"
    )


def _before(column: str, before: KeyValue, key_type: str) -> str:
    return f"{ident(column)} < {typed_literal(before, key_type)}"


def delete_before(
    default: str, column: str, before: KeyValue, key_type: str, schema: str
) -> Statement:
    return Statement(
        f"DELETE FROM {qualified(default, schema)} WHERE {_before(column, before, key_type)}",
        f"ROW EXCLUSIVE on {default}",
        "rows older than retention, deleted because the operator asked (--expired delete); "
        "reads and writes continue",
        moves_rows=True,
    )


def scalar_union(queries: list[str]) -> str:
    """Many one-value queries as one row, in one round trip."""
    return "SELECT " + ", ".join(f"({q})" for q in queries)
