"""A converted table made plain again (the downgrade of ``partition_existing_table``).

The conversion made the old table the legacy partition of a new parent of its name. The
way back, in one statement holding the parent: the legacy partition is detached, the rows
written since (in the newer partitions) are copied into it, the parent goes, and the old
table takes back its name, its indexes' names, its identity columns and its sequences.
"""

from __future__ import annotations

from .conversion import LEGACY_SUFFIX
from .names import check_identifier
from .plpgsql import do_block
from .quoting import qualified, string_literal
from .roll import insertable_columns
from .statement import Statement


def unpartition(table: str, schema: str | None) -> Statement:
    legacy_name = check_identifier(table + LEGACY_SUFFIX, "legacy partition name")
    target = string_literal(qualified(table, schema))
    legacy = string_literal(qualified(legacy_name, schema))
    body = "\n".join(
        [
            f"  parent := {target}::pg_catalog.regclass;",
            f"  old := pg_catalog.to_regclass({legacy});",
            "  IF old IS NULL OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits "
            "WHERE inhrelid = old AND inhparent = parent) THEN",
            "    RAISE EXCEPTION 'sqla-partition: % has no legacy partition % any more (split-"
            "legacy moved its rows into their months): it is not made plain again; leave it "
            f"partitioned, or move its rows into a new table by hand', {target}, {legacy};",
            "  END IF;",
            "  IF EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE contype = 'f' "
            "AND confrelid = parent) THEN",
            "    RAISE EXCEPTION 'sqla-partition: % is referenced by a foreign key: its legacy "
            f"partition cannot be detached to become the table again', {target};",
            "  END IF;",
            "  EXECUTE pg_catalog.format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', parent);",
            "  -- the legacy partition's indexes take back the names of the table's",
            "  SELECT coalesce(array_agg(i.inhrelid::pg_catalog.regclass::text), '{}'), "
            "coalesce(array_agg(p.relname::text), '{}') INTO idx, names",
            "    FROM pg_catalog.pg_inherits i",
            "    JOIN pg_catalog.pg_index x ON x.indexrelid = i.inhrelid",
            "    JOIN pg_catalog.pg_class p ON p.oid = i.inhparent",
            "   WHERE x.indrelid = old;",
            "  -- identity columns go on from where the table's sequences are",
            "  SELECT coalesce(array_agg(a.attname::text ORDER BY a.attnum), '{}'), "
            "coalesce(array_agg(CASE a.attidentity WHEN 'a' THEN 'ALWAYS' ELSE 'BY DEFAULT' "
            "END ORDER BY a.attnum), '{}'), coalesce(array_agg(pg_catalog.nextval("
            "pg_catalog.pg_get_serial_sequence(parent::text, a.attname)) ORDER BY a.attnum), "
            "'{}') INTO ids, kinds, starts",
            "    FROM pg_catalog.pg_attribute a WHERE a.attrelid = parent AND a.attidentity <> '';",
            "  -- sequences of serial columns go back to the old table before the parent goes",
            "  FOR sq IN SELECT d.objid::pg_catalog.regclass::text AS seq, a.attname "
            "FROM pg_catalog.pg_depend d",
            "      JOIN pg_catalog.pg_class q ON q.oid = d.objid AND q.relkind = 'S'",
            "      JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid "
            "AND a.attnum = d.refobjsubid",
            "     WHERE d.refobjid = parent AND d.classid = 'pg_catalog.pg_class'::"
            "pg_catalog.regclass AND d.deptype = 'a' AND a.attidentity = '' LOOP",
            "    EXECUTE pg_catalog.format('ALTER SEQUENCE %s OWNED BY %s.%I', sq.seq, old, "
            "sq.attname);",
            "  END LOOP;",
            "  EXECUTE pg_catalog.format('ALTER TABLE %s DETACH PARTITION %s', parent, old);",
            "  -- the rows written since the conversion, into the old table",
            insertable_columns("old").rstrip("\n"),
            "  EXECUTE pg_catalog.format('INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE "
            "SELECT %s FROM %s', old, cols, cols, parent);",
            "  GET DIAGNOSTICS moved = ROW_COUNT;",
            "  RAISE NOTICE 'sqla-partition: % rows written since the conversion moved into %',"
            " moved, old;",
            "  EXECUTE pg_catalog.format('DROP TABLE %s', parent);",
            "  FOR i IN 1 .. coalesce(array_length(ids, 1), 0) LOOP",
            "    EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I ADD GENERATED %s AS "
            "IDENTITY (START WITH %s)', old, ids[i], kinds[i], starts[i]);",
            "  END LOOP;",
            "  FOR i IN 1 .. coalesce(array_length(idx, 1), 0) LOOP",
            "    EXECUTE pg_catalog.format('ALTER INDEX %s RENAME TO %I', idx[i], names[i]);",
            "  END LOOP;",
            "  EXECUTE pg_catalog.format('ALTER TABLE %s RENAME TO %I', old, "
            f"{string_literal(table)});",
        ]
    )
    declare = (
        "  parent pg_catalog.regclass;\n  old pg_catalog.regclass;\n  idx text[];\n"
        "  names text[];\n  ids text[];\n  kinds text[];\n  starts bigint[];\n"
        "  sq record;\n  cols text;\n  moved bigint;\n"
    )
    return Statement(
        do_block(body + "\n", declare),
        f"ACCESS EXCLUSIVE on {table} while the rows written since the conversion are "
        "copied into the old table",
        "the conversion undone: the old table, its rows and the newer ones, under its own "
        "name again; refused before anything changes when the legacy partition is gone or "
        "another table refers to this one",
    )
