"""Workload advice: statements from pg_stat_statements planned with hypothetical indexes."""

from __future__ import annotations

from typing import Any

from .quoting import ident, qualified, string_literal

ADVICE_PREPARED = "sqla_partition_advice"

#: hypopg installed, hypopg available on the server, pg_stat_statements readable, and
#: whether this role sees other roles' statements.
ADVICE_READY_QUERY = """
SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'hypopg'),
       EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg'),
       EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'),
       pg_has_role(current_user, 'pg_read_all_stats', 'USAGE')
         OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
       (SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'hypopg'),
       (SELECT extnamespace::regnamespace::text FROM pg_extension
         WHERE extname = 'pg_stat_statements')
"""

#: The application's search_path, read before the session pins its own.
APPLICATION_PATH_QUERY = "SELECT pg_catalog.current_setting('search_path')"
#: Within the planning transaction only: the application's statements are planned under
#: the search_path they are written for (bind parameter: the path).
APPLICATION_PATH = "SELECT pg_catalog.set_config('search_path', %(path)s, true)"

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


def hypopg_reset(schema: str) -> str:
    return f"SELECT {qualified('hypopg_reset', schema)}()"


#: Plans of normalized statements do not depend on the parameters' values.
GENERIC_PLANS = "SET LOCAL plan_cache_mode = force_generic_plan"
DEALLOCATE_ADVICE = f"DEALLOCATE {ADVICE_PREPARED}"


def workload_query(min_calls: int, limit: int, schema: str = "public") -> str:
    """This database's most expensive statements that an index could serve."""
    return (
        f"SELECT query, calls FROM {qualified('pg_stat_statements', schema)} "
        "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        f"AND calls >= {int(min_calls)} "
        "AND (query ~* '^[[:space:]]*(select|update|delete|with|prepare)[[:space:]]' "
        # an INSERT reads partitions through its SELECT only
        "OR query ~* '^[[:space:]]*insert[[:space:]].*[[:space:]]select[[:space:]]') "
        f"ORDER BY total_exec_time DESC LIMIT {int(limit)}"
    )


def explain(statement: str) -> str:
    """The plan of a workload statement (EXPLAIN only plans it: nothing runs)."""
    return f"EXPLAIN (FORMAT JSON, VERBOSE) {statement}"


def prepare_statement(statement: str) -> str:
    return f"PREPARE {ADVICE_PREPARED} AS {statement}"


def explain_prepared(parameters: int) -> str:
    """The generic plan of a normalized statement: the values do not matter to it."""
    values = ", ".join(["NULL"] * int(parameters))
    return f"EXPLAIN (FORMAT JSON, VERBOSE) EXECUTE {ADVICE_PREPARED}({values})"


def hypothetical_index(
    schema: str, table: str, columns: tuple[str, ...], hypopg: str = "public"
) -> str:
    ddl = f"CREATE INDEX ON {qualified(table, schema)} ({', '.join(ident(c) for c in columns)})"
    return f"SELECT * FROM {qualified('hypopg_create_index', hypopg)}({string_literal(ddl)})"


#: Whether the session could act as a superuser: its login role is one, or may become one
#: (SET ROLE to a superuser role it is a member of). Under SET ROLE such a session is no
#: boundary: code it runs can RESET ROLE.
SUPERUSER_SESSION_QUERY = """
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles AS r
                WHERE r.rolsuper AND pg_catalog.pg_has_role(session_user, r.oid, 'MEMBER'))
"""


#: Every partitioned table (each level of one partitioned in turn: a list partition
#: partitioned by month is a table of its own) with each of its leaves, its own key columns,
#: its strategy and the partitioned table above it. Named with pg_catalog, and read from the
#: catalog alone (pg_partition_tree would lock every partition): the pruning guard runs it
#: in the application's transaction.
PARTITION_LEAVES_QUERY = """
WITH RECURSIVE tree AS (
    SELECT pt.partrelid AS top, pt.partrelid AS relid FROM pg_catalog.pg_partitioned_table pt
    UNION ALL
    SELECT t.top, i.inhrelid
      FROM tree AS t JOIN pg_catalog.pg_inherits AS i ON i.inhparent = t.relid
)
SELECT pn.nspname, p.relname, ln.nspname, l.relname,
       ARRAY(SELECT a.attname::text
               FROM pg_catalog.unnest(pt.partattrs::int2[]) WITH ORDINALITY AS k(n, o)
               JOIN pg_catalog.pg_attribute AS a ON a.attrelid = p.oid AND a.attnum = k.n
              ORDER BY k.o) AS keys,
       pt.partstrat::text,
       qn.nspname, q.relname,
       (SELECT pg_catalog.format_type(a.atttypid, a.atttypmod)
          FROM pg_catalog.pg_attribute AS a
         WHERE a.attrelid = p.oid AND a.attnum = pt.partattrs[0]) AS key_type
  FROM tree AS t
  JOIN pg_catalog.pg_partitioned_table AS pt ON pt.partrelid = t.top
  JOIN pg_catalog.pg_class AS p ON p.oid = t.top
  JOIN pg_catalog.pg_namespace AS pn ON pn.oid = p.relnamespace
  JOIN pg_catalog.pg_class AS l ON l.oid = t.relid AND l.relkind <> 'p'
  JOIN pg_catalog.pg_namespace AS ln ON ln.oid = l.relnamespace
  LEFT JOIN pg_catalog.pg_inherits AS i ON i.inhrelid = p.oid
  LEFT JOIN pg_catalog.pg_class AS q ON q.oid = i.inhparent
  LEFT JOIN pg_catalog.pg_namespace AS qn ON qn.oid = q.relnamespace
 WHERE pn.nspname NOT IN ('pg_catalog', 'information_schema')
"""


#: The views that read a partitioned table, directly or through other views: a statement
#: on one reads partitions its text does not name.
VIEWS_OVER_PARTITIONED_QUERY = """
WITH RECURSIVE reads AS (
    SELECT pt.partrelid AS oid FROM pg_catalog.pg_partitioned_table AS pt
    UNION
    SELECT r.ev_class
      FROM reads
      JOIN pg_catalog.pg_depend AS d
        ON d.refobjid = reads.oid AND d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass
      JOIN pg_catalog.pg_rewrite AS r ON r.oid = d.objid
)
SELECT c.relname FROM reads JOIN pg_catalog.pg_class AS c ON c.oid = reads.oid
 WHERE c.relkind = 'v'
"""


def leaf_order_query(schema: str, table: str) -> str:
    """The plan of reading every partition of a table, which lists its leaves in the order
    of their bounds (as every scan of it lists them)."""
    return f"EXPLAIN (FORMAT JSON, VERBOSE) SELECT 1 FROM {qualified(table, schema)}"


#: The pruning guard plans an application's statement inside its transaction: a failed
#: plan must not abort it.
GUARD_SAVEPOINT = "SAVEPOINT sqla_partition_guard"
GUARD_ROLLBACK = "ROLLBACK TO SAVEPOINT sqla_partition_guard"
GUARD_RELEASE = "RELEASE SAVEPOINT sqla_partition_guard"
HAS_CITUS_QUERY = "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')"


def as_select(statement: str) -> str:
    """An UPDATE or DELETE as the SELECT of the rows it would touch, with its WITH, its
    other tables (FROM, USING) and the values it sets (so every parameter is still used):
    the same partitions are read, and a role that may only read (as ``advise`` plans) may
    plan it. An INSERT … SELECT as its SELECT; a PREPARE as the statement it prepares."""
    import pglast  # only advise plans statements: the cron path never loads the parser
    from pglast import ast
    from pglast.stream import RawStream

    try:
        (raw,) = pglast.parse_sql(statement)
    except (pglast.parser.ParseError, ValueError):
        return statement
    stmt = raw.stmt

    def out(node: Any) -> str:
        return str(RawStream()(node))  # a stream a piece: it accumulates what it prints

    if isinstance(stmt, ast.PrepareStmt):  # PREPARE name AS …: the statement it names
        try:
            return as_select(out(stmt.query))
        except Exception:
            return statement
    if isinstance(stmt, ast.InsertStmt):  # INSERT … SELECT reads what its SELECT reads
        select = stmt.selectStmt
        if not isinstance(select, ast.SelectStmt) or select.valuesLists:
            return statement
        try:
            head = f"WITH {out(stmt.withClause)} " if stmt.withClause else ""
            return head + out(select)
        except Exception:
            return statement
    if not isinstance(stmt, (ast.UpdateStmt, ast.DeleteStmt)):
        return statement

    try:
        head = f"WITH {out(stmt.withClause)} " if stmt.withClause else ""
        values = [out(t.val) for t in getattr(stmt, "targetList", None) or ()]
        others = getattr(stmt, "fromClause", None) or getattr(stmt, "usingClause", None) or ()
        tables = [out(stmt.relation), *(out(t) for t in others)]
        text = f"{head}SELECT {', '.join(values) or '1'} FROM {', '.join(tables)}"
        if stmt.whereClause is not None:
            text += f" WHERE {out(stmt.whereClause)}"
    except Exception:  # a construct the deparser does not know: planned as written
        return statement
    return text


def type_name_node(type_name: str) -> Any:
    """The pglast node of a type the catalog named (``format_type``), to cast a value to it
    in a statement advise writes out; ``None`` if it does not parse."""
    import pglast  # only advise rewrites statements: the cron path never loads the parser

    try:
        (raw,) = pglast.parse_sql(f"SELECT NULL::{type_name}")
    except pglast.parser.ParseError:
        return None
    return raw.stmt.targetList[0].val.typeName
