"""Indexes on partitioned tables built without blocking writes, and the catalog read
behind index recommendations."""

from __future__ import annotations

from collections.abc import Iterable

from .names import check_identifier
from .names import digest as name_digest
from .plpgsql import do_block
from .quoting import ident, qualified, regclass, string_literal
from .statement import Statement


def partition_index_name(index: str, partition: str, columns: list[str] | tuple[str, ...]) -> str:
    """``events_p2026_11_account_id_idx``, or a digest when that would pass 63 bytes."""
    name = f"{partition}_{'_'.join(columns)}_idx"
    if len(name.encode("utf-8")) > 63:
        digest = name_digest(f"{index}/{partition}", 10)
        name = f"{partition[:40]}_{digest}_idx"
    return check_identifier(name, "index name")


def suggested_index_name(kind: str, table: str, columns: Iterable[str]) -> str:
    """``sqlp_<kind>_<table>_<columns>``: the prefix marks indexes proposed by the tool."""
    name = f"sqlp_{kind}_{table}_{'_'.join(columns)}"
    if len(name.encode("utf-8")) > 63:
        name = f"sqlp_{kind}_{name_digest(name, 16)}"
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
        do_block(
            "  IF NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhparent = "
            f"{regclass(parent_index, schema)} AND inhrelid = {regclass(index, schema)}) THEN\n"
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
    reg = regclass(index, schema)
    return Statement(
        do_block(
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


#: Online: index builds other sessions run on the given tables (bind parameter: the tables
#: as ``schema.name`` texts) — the server process of a killed migration keeps building.
INDEX_BUILDS_QUERY = """
SELECT p.pid, c.relname
  FROM pg_stat_progress_create_index p
  JOIN pg_class c ON c.oid = p.relid
 WHERE p.relid = ANY (%(tables)s::regclass[]) AND p.pid <> pg_backend_pid()
"""
