"""What lets a run leave alone the tables it knows need nothing: per table, a fingerprint of
what its plan was made from and the moment that plan may change.

A run over ten thousand tables spent nearly all its time reading and planning tables that
needed nothing. The fingerprint covers what a plan reads from the catalog (the table, its
partitions, its policy, the role that rolls it) and is computed on the server from
``pg_inherits`` alone, a few microseconds per table; a DEFAULT partition with pages, a
partition partitioned in turn, or a changed fingerprint sends the table through the full
read and plan again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from .policy import policy_table, tool_schema
from .quoting import qualified, string_literal, typed_literal
from .roll_lock import owners_rows_table
from .statement import Statement

STATE_TABLE = "sqla_partition_roll_state"


def state_table() -> str:
    return qualified(STATE_TABLE, tool_schema())


def create_state_table() -> Statement:
    """Made once, as the policies' owner. A row is seen and written only by members of its
    table's owner (as for the lock keys): a role that could write another's row could make
    roll leave that table's due partitions unmade."""
    return Statement(
        owners_rows_table(
            state_table(),
            "schema_name text NOT NULL, table_name text NOT NULL, fingerprint text NOT NULL, "
            "checked_at timestamptz NOT NULL, due_at timestamptz NOT NULL, "
            "PRIMARY KEY (schema_name, table_name)",
        ),
        f"ACCESS EXCLUSIVE on {STATE_TABLE} (only when it is new)",
        "when each table's plan may change next, so that a run reads only tables that may "
        "need work",
    )


def state_table_exists_query() -> str:
    return f"SELECT pg_catalog.to_regclass({string_literal(state_table())}) IS NOT NULL"


#: Per managed table: its fingerprint, and whether it may be left alone at the run's clock
#: (``{now}``: the clock; ``{until}``: the later of the clock and the next scheduled run;
#: ``{context}``: the tool's version). The partitions' part hashes each ``pg_inherits`` row
#: (a partition attached, detached, or half-detached makes a new row version), in one pass
#: over ``pg_inherits`` grouped by parent: per-table index probes cost twice as much.
_STATE_QUERY = """
WITH meta AS MATERIALIZED (
    SELECT ARRAY(SELECT l.relation FROM pg_catalog.pg_locks l
                  WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock'
                    AND l.pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid()
                    AND l.database OPERATOR(pg_catalog.=) (
                        SELECT oid FROM pg_catalog.pg_database
                         WHERE datname OPERATOR(pg_catalog.=) pg_catalog.current_database()))
             AS exclusive,
           current_user::text || '/' || coalesce((SELECT rolsuper::text FROM pg_catalog.pg_roles
                  WHERE rolname OPERATOR(pg_catalog.=) current_user), '') AS me
), kids AS (
    SELECT i.inhparent,
           pg_catalog.count(*) AS n,
           pg_catalog.sum(pg_catalog.hashtextextended(
               i.inhrelid::text || '/' || i.xmin::text || '/' || i.inhdetachpending::text, 0))
             AS h,
           pg_catalog.bool_or(s.partrelid IS NOT NULL) AS sub
      FROM pg_catalog.pg_inherits i
      LEFT JOIN pg_catalog.pg_partitioned_table s
        ON s.partrelid OPERATOR(pg_catalog.=) i.inhrelid
     GROUP BY i.inhparent
), tables AS (
    SELECT p.schema_name, p.table_name, pt.partrelid, pt.partdefid, k.sub,
           pt.partrelid::text || '/' || c.xmin::text || '/' || c.relowner::text || '/'
             || pt.partstrat::text || '/' || coalesce(k.n, 0)::text || '/'
             || coalesce(k.h, 0)::text || '/'
             || pg_catalog.md5(p.policy::text || '/' || p.key_type) || '/' || meta.me
             || '/' || {context} AS fingerprint
      FROM meta, {policy} p
      LEFT JOIN pg_catalog.pg_partitioned_table pt
        ON pt.partrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass(
             pg_catalog.quote_ident(p.schema_name) || '.' || pg_catalog.quote_ident(p.table_name))
      LEFT JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) pt.partrelid
      LEFT JOIN kids k ON k.inhparent OPERATOR(pg_catalog.=) pt.partrelid
     -- list and hash tables are never rolled: not read at all, unless missing (a warning)
     WHERE pt.partrelid IS NULL OR coalesce(
           p.policy OPERATOR(pg_catalog.->>) 'kind', 'range') OPERATOR(pg_catalog.=) 'range'
)
SELECT t.schema_name, t.table_name, t.partrelid, t.fingerprint,
       CASE WHEN st.fingerprint IS DISTINCT FROM t.fingerprint OR t.sub
              OR st.checked_at OPERATOR(pg_catalog.>) {now}
              OR st.due_at OPERATOR(pg_catalog.<=) {until} THEN false
            WHEN t.partdefid OPERATOR(pg_catalog.=) 0 THEN true
            -- a DEFAULT's pages need its lock: one another session holds is read later
            WHEN t.partdefid OPERATOR(pg_catalog.=) ANY (meta.exclusive) THEN false
            ELSE pg_catalog.pg_relation_size(t.partdefid) OPERATOR(pg_catalog.=) 0
       END AS unchanged
  FROM meta, tables t
  LEFT JOIN {state} st ON st.schema_name OPERATOR(pg_catalog.=) t.schema_name
                      AND st.table_name OPERATOR(pg_catalog.=) t.table_name
"""


def state_query(now: dt.datetime, until: dt.datetime, context: str) -> str:
    """One row per recorded range policy (and per other policy whose table is missing):
    schema, table, its oid, fingerprint, and whether the table may be left alone at ``now``
    (``until``: the later of ``now`` and the next scheduled run)."""
    return (
        _STATE_QUERY.replace("{policy}", policy_table())
        .replace("{state}", state_table())
        .replace("{now}", typed_literal(now, "timestamptz"))
        .replace("{until}", typed_literal(until, "timestamptz"))
        .replace("{context}", string_literal(context))
    )


def write_states(rows: Sequence[tuple[str, str, str, dt.datetime, dt.datetime]]) -> Statement:
    """``(schema, table, fingerprint, checked_at, due_at)`` of tables a run found needing
    nothing, in one statement."""
    values = ", ".join(
        f"({string_literal(s)}, {string_literal(t)}, {string_literal(f)}, "
        f"{typed_literal(checked, 'timestamptz')}, {typed_literal(due, 'timestamptz')})"
        for s, t, f, checked, due in rows
    )
    return Statement(
        f"INSERT INTO {state_table()} AS st (schema_name, table_name, fingerprint, checked_at, "
        f"due_at) VALUES {values} ON CONFLICT (schema_name, table_name) DO UPDATE SET "
        "fingerprint = EXCLUDED.fingerprint, checked_at = EXCLUDED.checked_at, "
        "due_at = EXCLUDED.due_at",
        f"ROW EXCLUSIVE on {STATE_TABLE}",
        "when each of these tables may need work next",
    )
