"""The audit trail: its functions and triggers, and the query that finds audited tables."""

from __future__ import annotations

from .audit_actor import ACTOR_TRIGGER
from .audit_columns import (
    AUDIT_TRIGGER,
    GUARD_TRIGGERS,
    MOVE_END_TRIGGER,
    MOVE_TRIGGER,
    MOVED_FUNCTION,
    function_text,
)
from .names import digest as name_digest
from .plpgsql import do_block, dollar_quote
from .policy import tool_schema
from .quoting import ident, qualified, regclass, string_literal
from .statement import Statement

AUDIT_TRAIL_FUNCTION = "sqla_partition_audit_trail"
TRAIL_TABLE = "sqla_partition_audit_trail"
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
      FROM (SELECT to_jsonb(x) AS j FROM new_rows AS x OFFSET 0) AS r;  -- converted once
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
      FROM (SELECT to_jsonb(x) AS j FROM old_rows AS x OFFSET 0) AS r;  -- converted once
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
_TRAIL_FAST = """  IF (SELECT count(*) FROM pg_attribute WHERE attrelid = TG_RELID AND attnum > 0
       AND NOT attisdropped AND attname = ANY (ARRAY[@names@]::name[])) = @count@ THEN
    -- inserts and deletes: each row whole, its key read from its columns (removing the
    -- others from the whole row cost the row's conversion twice)
@whole_rows@    IF (SELECT count(*) FROM old_rows) = (SELECT count(*) FROM new_rows) THEN
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

#: An insert's new rows, a delete's old ones, each recorded whole.
_TRAIL_WHOLE_ROWS = """    IF TG_OP = '@op@' THEN
      INSERT INTO @trail@ (table_schema, table_name, operation, actor, row_key, diff)
      SELECT TG_TABLE_SCHEMA, TG_TABLE_NAME, '@op@', actor, jsonb_build_object(@xkey@),
             to_jsonb(x)
        FROM @rows@ AS x;
      RETURN NULL;
    END IF;
"""
_TRAIL_FAST = _TRAIL_FAST.replace(
    "@whole_rows@",
    "".join(
        _TRAIL_WHOLE_ROWS.replace("@op@", op).replace("@rows@", rows)
        for op, rows in (("INSERT", "new_rows"), ("DELETE", "old_rows"))
    ),
)

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


def trail_function_name(table: str, schema: str | None) -> str:
    digest = name_digest(qualified(table, schema), 12)
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
    trail = qualified(TRAIL_TABLE, tool_schema())
    noise = "ARRAY[" + ", ".join(string_literal(c) for c in AUDIT_NOISE) + "]"
    function = qualified(trail_function_name(table, schema), tool_schema())
    key = ", ".join(f"{string_literal(c)}, (p.o).{ident(c)}" for c in primary_key)
    xkey = ", ".join(f"{string_literal(c)}, x.{ident(c)}" for c in primary_key)
    body = (_TRAIL_DECLARE + "BEGIN\n" + _TRAIL_FAST + _TRAIL_GENERIC + "END").replace(
        "@trail@", trail
    )
    body = body.replace("@noise@", noise).replace("@key@", key).replace("@xkey@", xkey)
    template = function_text(
        trail_function_name(table, schema),
        body,
        " SECURITY DEFINER SET search_path = pg_catalog, pg_temp",
        make_schema=False,  # the trail's own table is in that schema already
    )
    outer = dollar_quote(template, "template")
    query = _TRAIL_DIFF_QUERY.replace("@noise@", noise)
    build = (
        f"  SELECT format('%I.%I', ns.nspname, c.relname) INTO rowtype FROM pg_class AS c\n"
        "    JOIN pg_namespace AS ns ON ns.oid = c.relnamespace WHERE c.oid = target;\n"
        f"  {query};\n"
        f"  EXECUTE replace(replace(replace(replace({outer}\n{template}\n{outer},\n"
        "    '@rowtype@', rowtype), '@diff@', diff), '@names@', names), '@count@', n::text);\n"
    )
    declare = (
        f"  target regclass := {regclass(table, schema)};\n"
        "  rowtype text;\n  diff text;\n  names text;\n  n bigint;\n"
    )
    return [
        Statement(
            do_block(build, declare),
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
        f"DROP FUNCTION IF EXISTS {qualified(trail_function_name(table, schema), tool_schema())}()",
        "no table lock",
        "the table's own trail function, unused once its triggers are gone",
        squawk_ignore=("ban-drop-function",),
    )


def create_trail_triggers(table: str, schema: str | None, args: list[str]) -> list[Statement]:
    target = qualified(table, schema)
    arguments = ", ".join(string_literal(a) for a in args)
    call = f"{qualified(trail_function_name(table, schema), tool_schema())}({arguments})"
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


def _drop_triggers(table: str, schema: str | None, names: list[str]) -> list[Statement]:
    return [
        Statement(
            f"DROP TRIGGER IF EXISTS {ident(name)} ON {qualified(table, schema)}",
            f"ACCESS EXCLUSIVE on {table} and its partitions",
            "brief, bounded by lock_timeout; the audit columns keep their values",
        )
        for name in names
    ]


def drop_trail_triggers(table: str, schema: str | None) -> list[Statement]:
    return _drop_triggers(table, schema, [n for n, _ in TRAIL_TRIGGERS.values()])


def drop_audit_triggers(table: str, schema: str | None, *, trail: bool) -> list[Statement]:
    stmts = _drop_triggers(
        table,
        schema,
        [AUDIT_TRIGGER, ACTOR_TRIGGER, *GUARD_TRIGGERS, MOVE_TRIGGER, MOVE_END_TRIGGER],
    )
    return stmts + (drop_trail_triggers(table, schema) if trail else [])


#: Every audited table with its recorded settings (the comment on its audit trigger),
#: whether it has the trail triggers, and whether its triggers and the functions they call
#: are this version's (the columns trigger is skipped where it has nothing to do, and its
#: function sets no search_path for each row; a table whose database owns the audit
#: columns and is partitioned has the trigger that ends a move's digest; the check is
#: bound to the table).
AUDIT_QUERY = f"""
SELECT n.nspname, c.relname, obj_description(t.oid, 'pg_trigger'),
       EXISTS (SELECT 1 FROM pg_trigger u WHERE u.tgrelid = t.tgrelid
                AND u.tgname = {string_literal(TRAIL_TRIGGERS["UPDATE"][0])}),
       t.tgqual IS NOT NULL AND NOT EXISTS (
           SELECT 1 FROM pg_proc AS f WHERE f.oid = t.tgfoid AND f.proconfig IS NOT NULL)
       AND (
       NOT EXISTS (SELECT 1 FROM pg_trigger u WHERE u.tgrelid = t.tgrelid
                    AND u.tgname = {string_literal(GUARD_TRIGGERS[0])})
       OR EXISTS (SELECT 1 FROM pg_proc AS f
                   WHERE f.proname = {string_literal(MOVED_FUNCTION)} AND f.pronargs = 4)
          AND (c.relkind <> 'p' OR EXISTS (
               SELECT 1 FROM pg_trigger u WHERE u.tgrelid = t.tgrelid
                  AND u.tgname = {string_literal(MOVE_END_TRIGGER)})))
  FROM pg_trigger t
  JOIN pg_class c ON c.oid = t.tgrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE t.tgname = {string_literal(AUDIT_TRIGGER)} AND NOT t.tgisinternal AND t.tgparentid = 0
"""
