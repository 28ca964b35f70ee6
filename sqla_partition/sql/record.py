"""The record of partitions: which tables sqla-partition made for a parent, over their life.

A table is trusted as a partition, or as an archive to put back, only when the record says
the tool made it: a name proves nothing (anyone with CREATE on the schema can take it).
Each change of a partition's life writes its row in the same transaction as the change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from .plpgsql import do_block
from .policy import DEFAULT_TOOL_SCHEMA, POLICY_TABLE, in_own_schema, policy_table, tool_schema
from .quoting import KeyValue, ident, qualified, regclass, string_literal, typed_literal
from .roll_lock import keys_table
from .roll_state import STATE_TABLE
from .statement import Statement

RECORD_TABLE = "sqla_partition_partitions"

#: A recorded partition is ``attached`` (made and attached) or ``detached`` (an archive:
#: detached by retention, or by a migration); dropped ones leave the record.


def record_table() -> str:
    return qualified(RECORD_TABLE, tool_schema())


def create_record_table() -> Statement:
    return Statement(
        in_own_schema(
            f"CREATE TABLE IF NOT EXISTS {record_table()} ("
            "partition_schema text NOT NULL, partition_name text NOT NULL, "
            "schema_name text NOT NULL, table_name text NOT NULL, "
            "lower_bound text, upper_bound text, "
            "state text NOT NULL CHECK (state IN ('attached', 'detached')), "
            "created_at timestamptz NOT NULL DEFAULT now(), detached_at timestamptz, "
            "PRIMARY KEY (partition_schema, partition_name))"
        ),
        f"ACCESS EXCLUSIVE on {RECORD_TABLE} (only when it is new)",
        "records the partitions sqla-partition made, so that it never trusts a table for "
        "its name alone",
    )


def bound_text(value: KeyValue | None) -> str:
    """A bound as the record keeps it: ISO text, read back with the catalog's parser."""
    if value is None:
        return "NULL"
    if isinstance(value, (dt.date, dt.datetime)):
        text = value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
        return string_literal(text)
    return string_literal(str(int(value)))


def _schema_expr(schema: str | None) -> str:
    return string_literal(schema) if schema else "current_schema()"


def _upsert(
    parent: str,
    schema: str | None,
    child: str,
    lower: KeyValue | None,
    upper: KeyValue | None,
    state: str,
) -> tuple[str, str, str]:
    """The upsert as head, one row, and tail: rows of one transaction merge into one."""
    detached = "now()" if state == "detached" else "NULL"
    head = (
        f"INSERT INTO {record_table()} (partition_schema, partition_name, schema_name, "
        "table_name, lower_bound, upper_bound, state, detached_at) VALUES "
    )
    row = (
        f"({_schema_expr(schema)}, {string_literal(child)}, {_schema_expr(schema)}, "
        f"{string_literal(parent)}, {bound_text(lower)}, {bound_text(upper)}, "
        f"{string_literal(state)}, {detached})"
    )
    tail = (
        " ON CONFLICT (partition_schema, partition_name) DO UPDATE SET "
        "schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name, "
        "lower_bound = EXCLUDED.lower_bound, upper_bound = EXCLUDED.upper_bound, "
        "state = EXCLUDED.state, detached_at = EXCLUDED.detached_at"
        + (", created_at = now()" if state == "attached" else "")
    )
    return head, row, tail


_WHY = {
    "attached": "one row, in the same transaction as the partition it records",
    "detached": "one row: the partition becomes an archive that only an explicit reattach "
    "puts back",
}


def record_partition(
    state: str,
    parent: str,
    child: str,
    lower: KeyValue | None,
    upper: KeyValue | None,
    schema: str | None = None,
) -> Statement:
    """``state``: ``attached`` (made and attached) or ``detached`` (now an archive)."""
    head, row, tail = _upsert(parent, schema, child, lower, upper, state)
    return Statement(
        head + row + tail,
        f"ROW EXCLUSIVE on {RECORD_TABLE}",
        _WHY[state],
        rows=(head, row, tail),
    )


def merge_rows(statements: Sequence[Statement]) -> list[Statement]:
    """The statements of one transaction with its record rows in one INSERT per kind of
    row, at the end (one statement for a dozen partitions instead of a dozen)."""
    out: list[Statement] = []
    merged: dict[tuple[str, str], list[Statement]] = {}
    for stmt in statements:
        if stmt.rows:
            merged.setdefault((stmt.rows[0], stmt.rows[2]), []).append(stmt)
        else:
            out.append(stmt)
    for (head, tail), group in merged.items():
        if len(group) == 1:
            out.append(group[0])
            continue
        rows = list(dict.fromkeys(stmt.rows[1] for stmt in group))
        why = f"{len(rows)} rows, in the same transaction as the partitions they record"
        out.append(Statement(head + ", ".join(rows) + tail, group[0].lock, why))
    return out


def record_moved(child: str, schema: str | None, to_schema: str) -> Statement:
    return Statement(
        f"UPDATE {record_table()} SET partition_schema = {string_literal(to_schema)} "
        f"WHERE partition_schema = {_schema_expr(schema)} "
        f"AND partition_name = {string_literal(child)}",
        f"ROW EXCLUSIVE on {RECORD_TABLE}",
        "one row: the archive is found where it was moved",
    )


def record_dropped(child: str, schema: str | None = None) -> Statement:
    return Statement(
        f"DELETE FROM {record_table()} WHERE partition_schema = {_schema_expr(schema)} "
        f"AND partition_name = {string_literal(child)}",
        f"ROW EXCLUSIVE on {RECORD_TABLE}",
        "one row: the table it recorded is gone",
    )


#: Every recorded partition with whether its table exists and whether it is a partition now
#: (the catalog decides; the record only proves who made the table).
def record_query() -> str:
    return f"""
WITH busy AS MATERIALIZED (
    SELECT ARRAY(SELECT l.relation FROM pg_catalog.pg_locks AS l
                  WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock'
                    AND l.pid <> pg_catalog.pg_backend_pid()) AS held
)
SELECT r.schema_name, r.table_name, r.partition_schema, r.partition_name,
       r.lower_bound, r.upper_bound, r.state, r.created_at, r.detached_at,
       c.oid IS NOT NULL AS present, coalesce(c.relispartition, false) AS attached,
       CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint END AS estimate,
       -- sizes of archives only, never of one another session holds exclusively: the
       -- size needs the table's lock, and a busy table must not stall the whole read
       CASE WHEN c.oid IS NULL OR r.state <> 'detached' OR c.oid = ANY (busy.held) THEN 0
            ELSE pg_catalog.pg_total_relation_size(c.oid) END AS bytes
  FROM busy, {record_table()} AS r
  LEFT JOIN pg_namespace AS n ON n.nspname = r.partition_schema
  LEFT JOIN pg_class AS c ON c.relnamespace = n.oid AND c.relname = r.partition_name
 ORDER BY r.schema_name, r.table_name, r.lower_bound, r.partition_name
"""


def recorded_names_query(tables: Sequence[tuple[str, str]] | None = None) -> str:
    """Every partition in the record, with its state: only those ``attached`` (the tool
    made and attached them) may expire; ``tables``: only the partitions of these."""
    if tables is None:
        return f"SELECT partition_schema, partition_name, state FROM {record_table()}"
    keys = ", ".join(f"({string_literal(s)}, {string_literal(t)})" for s, t in tables)
    return (
        f"SELECT r.partition_schema, r.partition_name, r.state FROM {record_table()} AS r "
        f"JOIN (VALUES {keys}) AS v (s, t) ON v.s OPERATOR(pg_catalog.=) r.schema_name "
        "AND v.t OPERATOR(pg_catalog.=) r.table_name"
    )


def record_detached(partitions: Sequence[tuple[str | None, str]]) -> Statement:
    """Record as detached those of ``partitions`` (recorded as attached) that exist and are
    no longer a partition: detached by a run stopped before it could say so."""
    keys = ", ".join(f"({_schema_expr(s)}, {string_literal(n)})" for s, n in partitions)
    return Statement(
        f"UPDATE {record_table()} AS r SET state = 'detached', detached_at = pg_catalog.now() "
        f"FROM (VALUES {keys}) AS v (partition_schema, partition_name) "
        "WHERE r.partition_schema OPERATOR(pg_catalog.=) v.partition_schema "
        "AND r.partition_name OPERATOR(pg_catalog.=) v.partition_name "
        "AND r.state OPERATOR(pg_catalog.=) 'attached' "
        "AND EXISTS (SELECT FROM pg_catalog.pg_class AS c "
        "JOIN pg_catalog.pg_namespace AS n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
        "WHERE n.nspname OPERATOR(pg_catalog.=) r.partition_schema "
        "AND c.relname OPERATOR(pg_catalog.=) r.partition_name "
        "AND c.relkind IN ('r', 'p', 'f') AND NOT c.relispartition)",
        f"ROW EXCLUSIVE on {RECORD_TABLE}",
        "the record says what happened: partitions detached by a run that stopped before "
        "recording it are archives",
    )


def _children_rows(where: str, on_conflict: str = "DO NOTHING") -> str:
    """Record rows (as attached, bounds unknown) of the partitions ``where`` selects, over
    ``pg_inherits AS i`` joined to the child ``cc``/``cn`` and the parent ``pc``/``pn``."""
    return (
        f"INSERT INTO {record_table()} (partition_schema, partition_name, schema_name, "
        "table_name, lower_bound, upper_bound, state, detached_at) "
        "SELECT cn.nspname, cc.relname, pn.nspname, pc.relname, NULL, NULL, 'attached', NULL "
        "FROM pg_catalog.pg_inherits AS i "
        "JOIN pg_catalog.pg_class AS cc ON cc.oid = i.inhrelid "
        "JOIN pg_catalog.pg_namespace AS cn ON cn.oid = cc.relnamespace "
        "JOIN pg_catalog.pg_class AS pc ON pc.oid = i.inhparent "
        "JOIN pg_catalog.pg_namespace AS pn ON pn.oid = pc.relnamespace "
        f"WHERE {where} ON CONFLICT (partition_schema, partition_name) {on_conflict}"
    )


def backfill_record(parents: Sequence[tuple[str, str]]) -> Statement:
    """The partitions a database migrated by an earlier version holds without a record row,
    recorded where the catalog proves the tool made them: created in the transaction that
    made their parent partitioned (``create_partitioned_table``, a conversion), so their
    catalog row's xmin is that of the parent's ``pg_partitioned_table`` row. A partition
    attached later by anyone else, or whose proof a later ALTER erased, stays unrecorded:
    retention leaves it alone and ``check`` names it."""
    targets = ", ".join(f"{regclass(t, s)}" for s, t in parents) or "NULL"
    where = (
        f"i.inhparent IN ({targets}) AND cc.xmin OPERATOR(pg_catalog.=) ("
        "SELECT pt.xmin FROM pg_catalog.pg_partitioned_table AS pt "
        "WHERE pt.partrelid = i.inhparent)"
    )
    return Statement(
        _children_rows(where),
        f"ROW EXCLUSIVE on {RECORD_TABLE}",
        "records the partitions made with their tables before the record kept every one",
    )


def record_existing_partitions(parent: str, schema: str | None) -> Statement:
    """A set adopted by its first policy: every partition it holds then is the tool's from
    now on (the migration that records the policy is the owner's decision)."""
    where = (
        f"i.inhparent = {regclass(parent, schema)} AND NOT EXISTS (SELECT 1 FROM "
        f"{policy_table()} AS p WHERE p.schema_name = {_schema_expr(schema)} "
        f"AND p.table_name = {string_literal(parent)})"
    )
    return Statement(
        _children_rows(where),
        f"ROW EXCLUSIVE on {RECORD_TABLE}",
        "a table's first policy adopts the partitions it has (nothing when a policy exists)",
    )


def record_adopted(parent: str, schema: str, children: Sequence[str]) -> Statement:
    """Partitions an operator names as the tool's (``sqla-partition adopt --partition``)."""
    names = ", ".join(string_literal(c) for c in children)
    where = (
        f"i.inhparent = {regclass(parent, schema)} "
        f"AND cc.relname OPERATOR(pg_catalog.=) ANY (ARRAY[{names}]::pg_catalog.name[])"
    )
    return Statement(
        _children_rows(where, "DO UPDATE SET state = 'attached'"),
        f"ROW EXCLUSIVE on {RECORD_TABLE}",
        "the partitions named become the tool's: retention may expire them",
    )


def archive_names_query() -> str:
    """The archives the record knows: tables autogenerate must never offer to drop."""
    return f"SELECT partition_schema, partition_name FROM {record_table()} WHERE state = 'detached'"


def record_exists_query() -> str:
    return (
        f"SELECT to_regclass({string_literal(record_table())}) IS NOT NULL, "
        f"to_regclass({string_literal(policy_table())}) IS NOT NULL"
    )


def _of_table(parent: str, schema: str | None, alias: str = "") -> str:
    """Record rows of ``parent`` and of its partitions (list partitions range-partitioned in
    turn are rolled, and their archives recorded, under their own names)."""
    a = f"{alias}." if alias else ""
    return (
        f"({a}schema_name, {a}table_name) IN (SELECT {_schema_expr(schema)}, "
        f"{string_literal(parent)} UNION ALL SELECT cn.nspname::text, cc.relname::text "
        "FROM pg_inherits AS ci JOIN pg_class AS cc ON cc.oid = ci.inhrelid "
        "JOIN pg_namespace AS cn ON cn.oid = cc.relnamespace WHERE ci.inhparent = "
        f"to_regclass({string_literal(qualified(parent, schema))}))"
    )


def _archives_of(parent: str, schema: str | None) -> str:
    """The loop over a parent's recorded archives that exist (plpgsql ``FOR … IN``)."""
    return (
        f"SELECT r.partition_schema, r.partition_name FROM {record_table()} AS r "
        "JOIN pg_namespace AS n ON n.nspname = r.partition_schema "
        "JOIN pg_class AS c ON c.relnamespace = n.oid AND c.relname = r.partition_name "
        f"WHERE {_of_table(parent, schema, 'r')} AND NOT c.relispartition "
        "ORDER BY r.lower_bound"
    )


def refuse_archives(parent: str, schema: str | None = None) -> Statement:
    """Stops a drop before it changes anything when the table has archives."""
    body = (
        f"  IF to_regclass({string_literal(record_table())}) IS NULL THEN\n"
        "    RETURN;\n  END IF;\n"
        f"  FOR arch IN {_archives_of(parent, schema)} LOOP\n"
        "    names := names || format('%I.%I', arch.partition_schema, arch.partition_name);\n"
        "  END LOOP;\n"
        "  IF array_length(names, 1) > 0 THEN\n"
        "    RAISE EXCEPTION 'sqla-partition: % has % archived partition(s): %', "
        f"{string_literal(parent)}, array_length(names, 1), array_to_string(names, ', ')\n"
        "      USING HINT = 'drop_partitioned_table(..., archives=''drop'') drops them too; "
        "archives=''keep'' leaves them as plain tables',\n"
        "        ERRCODE = 'dependent_objects_still_exist';\n"
        "  END IF;\n"
    )
    return Statement(
        do_block(body, "  arch record;\n  names text[] := '{}';\n"),
        f"ACCESS SHARE on {RECORD_TABLE}",
        "reads the record only: the drop stops here, before anything changes, if the table "
        "has archives",
    )


def drop_archives(parent: str, schema: str | None = None) -> Statement:
    body = (
        f"  IF to_regclass({string_literal(record_table())}) IS NULL THEN\n"
        "    RETURN;\n  END IF;\n"
        f"  FOR arch IN {_archives_of(parent, schema)} LOOP\n"
        "    EXECUTE format('DROP TABLE IF EXISTS %I.%I', arch.partition_schema, "
        "arch.partition_name);\n"
        "  END LOOP;\n"
        f"  DELETE FROM {record_table()} WHERE {_of_table(parent, schema)};\n"
    )
    return Statement(
        do_block(body, "  arch record;\n"),
        f"ACCESS EXCLUSIVE on each archive of {parent}",
        "the migration asks for the table's archived partitions to go with it "
        "(archives='drop'); nobody queries an archive through the table",
        squawk_ignore=("ban-drop-table",),
    )


def forget_partitions(parent: str, schema: str | None = None) -> Statement:
    """The table is gone (its archives kept as plain tables, or dropped): its rows go."""
    body = (
        f"  IF to_regclass({string_literal(record_table())}) IS NOT NULL THEN\n"
        f"    DELETE FROM {record_table()} WHERE {_of_table(parent, schema)};\n"
        "  END IF;\n"
    )
    return Statement(
        do_block(body),
        f"ROW EXCLUSIVE on {RECORD_TABLE}",
        "the table's rows of the record; kept archives become plain tables",
    )


def _drop_own_schema() -> str:
    """The schema sqla-partition made for its objects goes too, once empty (one named by
    ``SQLA_PARTITION_SCHEMA`` may be someone else's: it stays)."""
    if tool_schema() != DEFAULT_TOOL_SCHEMA:
        return ""
    return (
        "    BEGIN\n"
        f"      DROP SCHEMA IF EXISTS {ident(DEFAULT_TOOL_SCHEMA)};\n"
        "    EXCEPTION WHEN dependent_objects_still_exist THEN\n"
        "      NULL;  -- something else lives there: the schema stays\n"
        "    WHEN internal_error THEN\n"
        "      NULL;  -- Citus: no schema command after this transaction's parallel drops\n"
        "    END;\n"
    )


def drop_own_tables_if_unused() -> Statement:
    """After the last managed table goes, the policy table and the record go too."""
    body = (
        f"  IF to_regclass({string_literal(policy_table())}) IS NOT NULL\n"
        f"     AND NOT EXISTS (SELECT 1 FROM {policy_table()}) THEN\n"
        f"    DROP TABLE {policy_table()};\n"
        f"    IF to_regclass({string_literal(record_table())}) IS NOT NULL\n"
        f"       AND NOT EXISTS (SELECT 1 FROM {record_table()}) THEN\n"
        f"      DROP TABLE {record_table()};\n"
        "    END IF;\n"
        f"    DROP TABLE IF EXISTS {keys_table()};\n"
        f"    DROP TABLE IF EXISTS {qualified(STATE_TABLE, tool_schema())};\n"
        f"{_drop_own_schema()}"
        "  END IF;\n"
    )
    return Statement(
        do_block(body),
        f"ACCESS EXCLUSIVE on {POLICY_TABLE} and {RECORD_TABLE}, only when no table uses them",
        "nothing of sqla-partition stays behind once no table is managed",
        squawk_ignore=("ban-drop-table",),
    )


def columns_query(table: str, schema: str) -> str:
    """A table's columns as ATTACH compares them: name, type, NOT NULL."""
    return (
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull "
        "FROM pg_attribute AS a "
        f"WHERE a.attrelid = {regclass(table, schema)} AND a.attnum > 0 "
        "AND NOT a.attisdropped ORDER BY a.attnum"
    )


def count_outside_range_query(
    table: str, column: str, lower: KeyValue, upper: KeyValue, key_type: str, schema: str
) -> str:
    """Rows an ATTACH with these bounds would refuse (NULL keys included)."""
    col = ident(column)
    return (
        f"SELECT count(*) FROM {qualified(table, schema)} WHERE {col} IS NULL "
        f"OR {col} < {typed_literal(lower, key_type)} OR {col} >= {typed_literal(upper, key_type)}"
    )


def relation_exists_query(name: str, schema: str) -> str:
    return f"SELECT to_regclass({string_literal(qualified(name, schema))}) IS NOT NULL"


def owner_query(name: str, schema: str) -> str:
    return f"SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = {regclass(name, schema)}"
