"""Catalog reads: every partitioned parent with its children in one round trip."""

from __future__ import annotations

from collections.abc import Sequence

from .audit_columns import AUDIT_TRIGGER
from .names import digest as name_digest
from .policy import (
    DEFAULT_TOOL_SCHEMA,
    POLICY_TABLE,
    policy_table,
    tool_schema,
    tool_schema_pinned,
)
from .quoting import qualified, regclass, string_literal
from .record import RECORD_TABLE

#: Every partitioned parent (one row each, its children in arrays: far fewer values to
#: convert than a row per child) with the children's bounds, in one round trip, with
#: whether the policy table exists (a second query reads it then: plain SQL cannot name a
#: table that may not exist, and query_to_xml is missing from servers built without libxml).
#: Every relation and function it names is named with its schema, and every operator has
#: an exact match in pg_catalog: autogenerate runs it in the application's session, whose
#: search_path may show another role's closer match (one query, unpinned, so that a
#: database with nothing partitioned costs autogenerate one round trip).
_CATALOG_QUERY = """
WITH meta AS MATERIALIZED (
    SELECT pg_catalog.current_setting('DateStyle') AS datestyle,
           ARRAY(SELECT n.nspname::text FROM pg_catalog.pg_class c
                   JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                  WHERE c.relname = {policy_table_name} AND c.relkind = 'r'
                    AND c.relpersistence <> 't'  -- another session's TEMP table is no one's
                    AND {trusted_place}
                  ORDER BY 1) AS policy_schemas,
           pg_catalog.pg_is_in_recovery()
             OR pg_catalog.current_setting('transaction_read_only')::boolean AS read_only,
           EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus') AS has_citus,
           current_user AS me,
           -- what autogenerate would otherwise ask in round trips of their own, so that a
           -- database with nothing partitioned costs it one query
           ARRAY(SELECT n.nspname::text FROM pg_catalog.pg_class c
                   JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                  WHERE c.relname = {record_table_name} AND c.relkind = 'r'
                    AND c.relpersistence <> 't' AND {trusted_place}
                  ORDER BY 1) AS record_schemas,
           pg_catalog.current_schemas(false)::text[] AS search_path,
           {foreign_key_clones} AS has_foreign_key_clones,
           EXISTS (SELECT 1 FROM pg_catalog.pg_trigger
                    WHERE tgname = {audit_trigger_name} AND NOT tgisinternal) AS has_audit,
           (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) AS me_super,
           ARRAY(SELECT l.relation FROM pg_catalog.pg_locks l
                  WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock'
                    AND l.pid <> pg_catalog.pg_backend_pid()
                    AND l.database = (SELECT oid FROM pg_catalog.pg_database
                                       WHERE datname = pg_catalog.current_database()))
             AS exclusive
), parts AS (
    SELECT pc.nspname AS schema_name,
           pc.relname AS table_name,
           pt.partstrat AS strategy,
           (SELECT pg_catalog.string_agg(a.attname, ',' ORDER BY k.ord)
              FROM pg_catalog.unnest(pt.partattrs::int2[]) WITH ORDINALITY AS k(attnum, ord)
              JOIN pg_catalog.pg_attribute a ON a.attrelid = pc.oid AND a.attnum = k.attnum)
             AS key_columns,
           (SELECT pg_catalog.format_type(a.atttypid, a.atttypmod)
              FROM pg_catalog.pg_attribute a
             WHERE a.attrelid = pc.oid AND a.attnum = pt.partattrs[0]) AS key_type,
           ch.child_names,
           ch.child_schemas,
           ch.bounds,
           ch.child_kinds,
           ch.detach_pending,
           sub.sub_names,
           sub.sub_schemas,
           EXISTS (SELECT 1 FROM pg_catalog.pg_constraint fk
                    WHERE fk.conrelid = pc.oid AND fk.contype = 'f') AS has_foreign_keys,
           pg_catalog.pg_get_userbyid(pc.relowner) AS owner,
           (SELECT rolsuper FROM pg_catalog.pg_roles WHERE oid = pc.relowner) AS owner_super,
           -- an empty DEFAULT has no pages: a run need not look for rows in it (its
           -- size needs its lock: not asked while another session holds or waits for it
           -- exclusively, so that one busy DEFAULT never stalls the read of every table)
           (SELECT pg_catalog.pg_relation_size(d.oid) FROM pg_catalog.pg_class d
             WHERE d.oid = pt.partdefid AND d.relkind = 'r'
               AND d.oid <> ALL (meta.exclusive)) AS default_bytes,
           pt.partdefid = ANY (meta.exclusive) AS default_locked,
           -- rows move by name (a DEFAULT attached by hand may order its columns otherwise),
           -- and not by stored generated columns, which an INSERT may not give
           ARRAY(SELECT g.attname::text FROM pg_catalog.pg_attribute g
                  WHERE g.attrelid = pc.oid AND g.attnum > 0 AND NOT g.attisdropped
                    AND g.attgenerated = '' ORDER BY g.attnum) AS insert_columns
      FROM meta, pg_catalog.pg_partitioned_table pt
      -- each parent's row and its schema's by their oids (joins the planner would hash
      -- over every relation, and over every schema once per parent)
      JOIN LATERAL (SELECT c0.*, (SELECT n0.nspname FROM pg_catalog.pg_namespace n0
                                   WHERE n0.oid = c0.relnamespace) AS nspname
                      FROM pg_catalog.pg_class c0 WHERE c0.oid = pt.partrelid OFFSET 0) pc
        ON true
      LEFT JOIN LATERAL (
          SELECT pg_catalog.array_agg(c.relname) AS child_names,
                 pg_catalog.array_agg(c.nspname) AS child_schemas,
                 pg_catalog.array_agg(c.bound) AS bounds,
                 pg_catalog.array_agg(c.relkind) AS child_kinds,
                 pg_catalog.array_agg(c.pending) AS detach_pending
            FROM (
                -- bounds hold constants only: relid 0 spares a relation lookup per partition
                SELECT cc.relname, cn.nspname,
                       {bound} AS bound,
                       cc.relkind::text AS relkind, i.inhdetachpending AS pending
                  FROM pg_catalog.pg_inherits i
                  JOIN pg_catalog.pg_class cc ON cc.oid = i.inhrelid
                  JOIN pg_catalog.pg_namespace cn ON cn.oid = cc.relnamespace
                 WHERE i.inhparent = pc.oid
                 ORDER BY cc.relname
            ) c
      ) ch ON true
      -- partitions of partitions (range partitions hash-partitioned in turn)
      -- (only for tables that have some: a one-time filter skips the others, and each
      -- partitioned partition is probed by index, never by a scan of pg_inherits)
      LEFT JOIN LATERAL (
          SELECT pg_catalog.array_agg(g.relname) AS sub_names,
                 pg_catalog.array_agg(gn.nspname) AS sub_schemas
            FROM pg_catalog.pg_inherits i1
            JOIN pg_catalog.pg_class c1 ON c1.oid = i1.inhrelid AND c1.relkind = 'p'
            JOIN LATERAL (SELECT i2.inhrelid FROM pg_catalog.pg_inherits i2
                           WHERE i2.inhparent = c1.oid OFFSET 0) i2 ON true
            JOIN pg_catalog.pg_class g ON g.oid = i2.inhrelid
            JOIN pg_catalog.pg_namespace gn ON gn.oid = g.relnamespace
           WHERE i1.inhparent = pc.oid AND 'p' = ANY (ch.child_kinds)
      ) sub ON true
     WHERE pc.nspname NOT IN ('pg_catalog', 'information_schema')
       -- a parent, or a list or range partition range-partitioned in turn (rolled as a
       -- table of its own)
       AND (NOT pc.relispartition OR EXISTS (
            SELECT 1 FROM pg_catalog.pg_inherits pi
              JOIN pg_catalog.pg_partitioned_table ppt ON ppt.partrelid = pi.inhparent
             WHERE pi.inhrelid = pc.oid
               AND (ppt.partstrat = 'l' OR ppt.partstrat = 'r' AND pt.partstrat = 'r')))
       {only}
)
SELECT parts.schema_name, parts.table_name, parts.strategy, parts.key_columns,
       parts.key_type, parts.child_names, parts.child_schemas, parts.bounds, parts.child_kinds,
       parts.detach_pending, meta.policy_schemas, meta.datestyle, meta.read_only,
       parts.sub_names, parts.sub_schemas, meta.has_citus, parts.has_foreign_keys,
       parts.owner, meta.me, parts.default_bytes, parts.insert_columns,
       meta.record_schemas, meta.search_path, meta.has_foreign_key_clones, meta.has_audit,
       meta.me_super, parts.owner_super, parts.default_locked
  FROM meta LEFT JOIN parts ON true
"""


_FOREIGN_KEY_CLONES = """EXISTS (SELECT 1 FROM pg_catalog.pg_constraint
                    WHERE contype = 'f' AND conparentid <> 0::pg_catalog.oid)"""
#: A partition's bound as text; without bounds, only whether it is the DEFAULT (what
#: autogenerate needs: deparsing thousands of bounds is most of the query's work).
_BOUND = "pg_catalog.pg_get_expr(cc.relpartbound, 0)"
_DEFAULT_ONLY = "CASE WHEN cc.oid = pt.partdefid THEN 'DEFAULT' END"


def catalog_query(
    schema: str | None = None,
    table: str | None = None,
    *,
    bounds: bool = True,
    oids: Sequence[int] | None = None,
) -> str:
    """Every partitioned table, or one (read again under its advisory lock), or those of
    ``oids``; ``bounds`` off: each partition's bound is left out, the DEFAULT still
    marked."""
    # on the base table, so that the one parent is found by its oid before anything else
    if oids is not None:
        listed = ",".join(str(int(o)) for o in oids)
        return _catalog_text(f"ANY ('{{{listed}}}'::pg_catalog.oid[])", bounds, many=True)
    return _catalog_text(regclass(table, schema) if table else None, bounds)


def one_table_statement() -> tuple[str, str]:
    """:func:`catalog_query` of one table, prepared once per session, and the name it is
    prepared under: a run over thousands of tables plans it once (planning took three times
    as long as running it). Named on the server, not by the driver, which deallocates its
    own after every ALTER; named after its text, which another schema changes."""
    text = _catalog_text("$1::pg_catalog.regclass", bounds=True)
    name = "sqla_partition_one_table_" + name_digest(text, 12)
    return f"PREPARE {name}(text) AS {text}", name


def execute_one_table(name: str, table: str, schema: str | None) -> str:
    return f"EXECUTE {name}({string_literal(qualified(table, schema))})"


def _catalog_text(parent: str | None, bounds: bool, *, many: bool = False) -> str:
    return (
        _CATALOG_QUERY.replace("{bound}", _BOUND if bounds else _DEFAULT_ONLY)
        .replace("{policy_table_name}", string_literal(POLICY_TABLE))
        .replace("{record_table_name}", string_literal(RECORD_TABLE))
        .replace("{trusted_place}", trusted_place())
        .replace("{audit_trigger_name}", string_literal(AUDIT_TRIGGER))
        .replace("{only}", f"AND pt.partrelid OPERATOR(pg_catalog.=) {parent}" if parent else "")
        # a scan of every constraint, which only autogenerate's read of every table uses
        .replace("{foreign_key_clones}", "true" if parent or many else _FOREIGN_KEY_CLONES)
    )


def policy_query(tables: Sequence[tuple[str, str]] | None = None) -> str:
    """Every recorded policy, or those of ``tables`` (schema, name)."""
    where = ""
    if tables is not None:
        keys = ", ".join(f"({string_literal(s)}, {string_literal(t)})" for s, t in tables)
        where = (
            f"JOIN (VALUES {keys}) AS v (s, t) ON v.s OPERATOR(pg_catalog.=) p.schema_name "
            "AND v.t OPERATOR(pg_catalog.=) p.table_name "
        )
    return (  # in a stable order: autogenerate writes its operations in this order
        f"SELECT p.schema_name, p.table_name, p.policy::text, p.key_type "
        f"FROM {policy_table()} AS p {where}ORDER BY p.schema_name, p.table_name"
    )


def partition_state_query(parent: str, child: str, schema: str | None) -> str:
    """One row (detach pending?) while ``child`` is still a partition of ``parent``."""
    return (
        "SELECT i.inhdetachpending FROM pg_inherits i "
        f"WHERE i.inhparent = {regclass(parent, schema)} "
        f"AND i.inhrelid = to_regclass({string_literal(qualified(child, schema))})"
    )


def trusted_place() -> str:
    """Where a table named like the tool's may be the tool's (``n``: its schema, ``c``: it):
    the tool's own schema, ``public`` (where earlier versions kept them), the schema
    ``SQLA_PARTITION_SCHEMA`` names, or a table of a role this session acts as; never a
    table another role made in a schema of its own, which a first migration would write
    its policies into."""
    places = {DEFAULT_TOOL_SCHEMA, "public"}
    if tool_schema_pinned():
        places.add(tool_schema())
    listed = ", ".join(string_literal(p) for p in sorted(places))
    return f"(n.nspname IN ({listed}) OR pg_catalog.pg_has_role(c.relowner, 'MEMBER'))"


def policy_schemas_query() -> str:
    """The schemas holding a table named like the policy table (where the tool's objects
    are), among the trusted places."""
    return (
        "SELECT ARRAY(SELECT n.nspname::text FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        f"WHERE c.relname = {string_literal(POLICY_TABLE)} AND c.relkind = 'r' "
        f"AND c.relpersistence <> 't' AND {trusted_place()} ORDER BY 1)"
    )


#: Foreign keys PostgreSQL cloned from another one (``conparentid``): one per partition of a
#: referenced partitioned table, and one per partition of a referencing one. Not declared by
#: anyone: autogenerate must neither drop nor recreate them.
FOREIGN_KEY_CLONES_QUERY = """
SELECT n.nspname, c.relname, con.conname
  FROM pg_constraint con
  JOIN pg_class c ON c.oid = con.conrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE con.contype = 'f' AND con.conparentid <> 0
"""


#: The schemas the session's search_path names, in order (those that exist).
SEARCH_PATH_QUERY = "SELECT current_schemas(false)::text[]"


def sub_bounds_query(table: str, schema: str) -> str:
    """The bounds of the partitions of ``table``'s partitions (those partitioned in turn):
    the span a new partition partitioned by an integer range takes from its siblings."""
    return (
        "SELECT pg_catalog.pg_get_expr(g.relpartbound, g.oid) FROM pg_catalog.pg_inherits i1 "
        "JOIN pg_catalog.pg_class c1 ON c1.oid = i1.inhrelid AND c1.relkind = 'p' "
        "JOIN pg_catalog.pg_inherits i2 ON i2.inhparent = c1.oid "
        "JOIN pg_catalog.pg_class g ON g.oid = i2.inhrelid "
        f"WHERE i1.inhparent = {regclass(table, schema)}"
    )
