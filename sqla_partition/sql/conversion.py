"""Converting a live table into a partitioned one, and splitting its legacy partition."""

from __future__ import annotations

from .names import check_identifier
from .partitions import BOUND_CHECK
from .plpgsql import RETRY_VARS, Bounds, do_block, retrying
from .quoting import KeyValue, ident, key_literal, qualified, string_literal, typed_literal
from .statement import Statement

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
    a scan, then validated while writes go on. One an interrupted run left is dropped first,
    in a statement of its own, so no refusal after it leaves writes failing."""
    target = qualified(table, schema)
    col = ident(column)
    check = f"{col} IS NOT NULL AND {col} < {typed_literal(upper, key_type)}"
    reg = string_literal(target)
    late = (
        f"  IF now() >= {typed_literal(upper, key_type)} - interval '1 hour' THEN\n"
        "    RAISE EXCEPTION 'sqla-partition: this migration converts % with its first new "
        "partition starting at %, which is past or less than an hour away (rows of that "
        "period would be refused until the conversion ends); generate the migration again', "
        f"{reg}, {string_literal(str(upper))};\n"
        "  END IF;\n"
        if key_type in ("timestamptz", "timestamp", "date")
        else ""
    )
    # what an interrupted run left that refuses writes goes first, in a statement of its
    # own (committed before anything below may refuse), whatever this run decides
    leftover = do_block(
        f"  IF (SELECT relkind FROM pg_class WHERE oid = to_regclass({reg})) = 'r'\n"
        f"     AND EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = {reg}::regclass\n"
        f"                   AND conname = {string_literal(BOUND_CHECK)}) THEN\n"
        f"    ALTER TABLE {target} DROP CONSTRAINT {ident(BOUND_CHECK)};\n"
        "  END IF;\n"
    )
    add = do_block(
        _legacy_guard(table, schema, column)
        + late
        + "  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = "
        f"{reg}::regclass AND conname = {string_literal(BOUND_CHECK)}) THEN\n"
        f"    ALTER TABLE {target} ADD CONSTRAINT {ident(BOUND_CHECK)} CHECK ({check}) NOT VALID;\n"
        "  END IF;\n"
    )
    validate = do_block(
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
            leftover,
            f"ACCESS EXCLUSIVE on {table}, only if an interrupted run left its CHECK",
            "brief; a CHECK left behind would refuse every row of the new periods",
        ),
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
    text = do_block(
        _legacy_guard(table, schema, column).replace(
            f"(SELECT relkind FROM pg_class WHERE oid = to_regclass({string_literal(target)})) "
            "IS DISTINCT FROM 'r'",
            "false",
        )
        + retrying(bounds, body)
        + "  RAISE NOTICE 'sqla-partition: partitioned %, its rows kept in %; the swap held "
        "writers back for at most % ms, lock waits included, after % lock timeouts', "
        f"{string_literal(target)}, {string_literal(legacy_name)}, "
        "round(extract(epoch FROM worst) * 1000), attempt;\n",
        RETRY_VARS
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
            do_block(
                f"  IF {plain} THEN\n"
                f"    ALTER TABLE {target} DROP CONSTRAINT IF EXISTS {ident(BOUND_CHECK)};\n"
                "  END IF;\n"
            ),
            f"ACCESS EXCLUSIVE on {table}, only if it was not converted",
            "a CHECK left behind would refuse every row of the new periods",
        ),
        Statement(
            do_block(
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
    upper_sql = f"{col} < {typed_literal(upper, key_type)}"
    if lower is None:
        return f"{col} IS NOT NULL AND {upper_sql}"
    return f"{col} >= {typed_literal(lower, key_type)} AND {upper_sql}"


def split_leftovers_query(retired: str, log: str, schema: str | None) -> str:
    """What a split-legacy that was stopped after its swap left: the old legacy table, the
    key log, the trigger function (each true when it exists)."""
    return (
        f"SELECT to_regclass({string_literal(qualified(retired, schema))}) IS NOT NULL, "
        f"to_regclass({string_literal(qualified(log, schema))}) IS NOT NULL, "
        f"to_regprocedure({string_literal(qualified(log, schema) + '()')}) IS NOT NULL"
    )
