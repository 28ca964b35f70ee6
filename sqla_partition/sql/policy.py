"""The policy table: each managed table's policy, recorded by its migration for ``roll``."""

from __future__ import annotations

import os

from .names import check_identifier
from .plpgsql import do_block
from .quoting import ident, qualified, string_literal
from .statement import Statement

POLICY_TABLE = "sqla_partition_policy"
#: Where earlier versions kept the tool's objects (found there, they stay there).
POLICY_SCHEMA = "public"
#: Where a new database gets them, unless ``SQLA_PARTITION_SCHEMA`` says otherwise: a schema
#: of their own, out of reach of the blanket grants applications get on ``public``.
DEFAULT_TOOL_SCHEMA = "sqla_partition"
_TOOL_SCHEMA = [os.environ.get("SQLA_PARTITION_SCHEMA") or DEFAULT_TOOL_SCHEMA]


def tool_schema() -> str:
    """The schema of the tool's own objects: the policy table, the record of partitions,
    the audit trail and functions. ``sqla_partition`` in a new database (or what
    ``SQLA_PARTITION_SCHEMA`` says); wherever a database has them already (``public`` for
    databases migrated by earlier versions), every command finds them there."""
    return _TOOL_SCHEMA[0]


def use_tool_schema(schema: str) -> None:
    _TOOL_SCHEMA[0] = check_identifier(schema, "schema")


def tool_schema_pinned() -> bool:
    """The schema was chosen by the environment, not found in the database."""
    return bool(os.environ.get("SQLA_PARTITION_SCHEMA"))


def policy_table() -> str:
    return qualified(POLICY_TABLE, tool_schema())


def in_own_schema(statement: str) -> str:
    """``statement`` preceded by ``CREATE SCHEMA IF NOT EXISTS`` for the tool's schema (not
    for ``public``), as one statement: drivers that prepare statements take no lists."""
    schema = tool_schema()
    if schema == POLICY_SCHEMA:
        return statement
    # only when missing: on Citus a schema command after a parallel operation on a
    # distributed table (a drop, in a downgrade) fails the transaction, even IF NOT EXISTS
    # a schema of that name another role made first would make the tool's objects that
    # role's to replace: refused, never used
    name = string_literal(schema)
    return do_block(
        f"  IF pg_catalog.to_regnamespace({name}) IS NULL THEN\n"
        f"    CREATE SCHEMA IF NOT EXISTS {ident(schema)};\n"
        "  ELSIF NOT pg_catalog.pg_has_role((SELECT nspowner FROM pg_catalog.pg_namespace "
        f"WHERE oid = pg_catalog.to_regnamespace({name})), 'MEMBER') THEN\n"
        "    RAISE EXCEPTION 'sqla-partition: the schema % belongs to %, a role this one does "
        "not act as, so the tool''s objects would be its to replace; give it to the tables'' "
        "owner (ALTER SCHEMA % OWNER TO ...) or drop it', "
        f"{name}, (SELECT nspowner::pg_catalog.regrole::text FROM pg_catalog.pg_namespace "
        f"WHERE oid = pg_catalog.to_regnamespace({name})), {name}\n"
        "      USING ERRCODE = 'insufficient_privilege';\n"
        "  END IF;\n"
        f"  {statement};\n"
    )


def create_policy_table() -> Statement:
    return Statement(
        in_own_schema(
            f"CREATE TABLE IF NOT EXISTS {policy_table()} ("
            "schema_name text NOT NULL, table_name text NOT NULL, policy jsonb NOT NULL, "
            "key_type text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(), "
            "rolled_at timestamptz, "
            "PRIMARY KEY (schema_name, table_name))"
        ),
        f"ACCESS EXCLUSIVE on {POLICY_TABLE} (only when it is new)",
        "records each table's policy so that roll needs only a database URL",
    )


def _schema_expr(schema: str | None) -> str:
    return string_literal(schema) if schema else "current_schema()"


def upsert_policy(table: str, schema: str | None, policy_json: str, key_type: str) -> Statement:
    return Statement(
        f"INSERT INTO {policy_table()} (schema_name, table_name, policy, key_type) "
        f"VALUES ({_schema_expr(schema)}, {string_literal(table)}, "
        f"{string_literal(policy_json)}::jsonb, {string_literal(key_type)}) "
        "ON CONFLICT (schema_name, table_name) DO UPDATE SET policy = EXCLUDED.policy, "
        "key_type = EXCLUDED.key_type, updated_at = now()",
        f"ROW EXCLUSIVE on {POLICY_TABLE}",
        "one row; other tables' policies are untouched",
    )


def upsert_partition_policies(
    table: str, schema: str | None, policy_json: str, key_type: str
) -> Statement:
    """The policy of every partition of ``table`` that is partitioned in turn (by
    ``Range``: each a table of its own), when the table's policy changes."""
    return Statement(
        f"INSERT INTO {policy_table()} (schema_name, table_name, policy, key_type) "
        f"SELECT n.nspname, c.relname, {string_literal(policy_json)}::jsonb, "
        f"{string_literal(key_type)} FROM pg_catalog.pg_inherits AS i "
        "JOIN pg_catalog.pg_class AS c ON c.oid = i.inhrelid AND c.relkind = 'p' "
        "JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace "
        "WHERE i.inhparent = pg_catalog.to_regclass("
        f"{string_literal(qualified(table, schema))}) "
        "ON CONFLICT (schema_name, table_name) DO UPDATE SET policy = EXCLUDED.policy, "
        "key_type = EXCLUDED.key_type, updated_at = pg_catalog.now()",
        f"ROW EXCLUSIVE on {POLICY_TABLE}",
        "one row per partition partitioned in turn; the partitions are untouched",
    )


def delete_policy(table: str, schema: str | None) -> Statement:
    return Statement(
        f"DELETE FROM {policy_table()} WHERE schema_name = {_schema_expr(schema)} "
        f"AND table_name = {string_literal(table)}",
        f"ROW EXCLUSIVE on {POLICY_TABLE}",
        "one row; the table itself is untouched",
    )


def delete_partition_policies(table: str, schema: str | None) -> Statement:
    """The policies of a table's partitions (list partitions range-partitioned in turn,
    rolled as tables of their own), before the table is dropped."""
    return Statement(
        f"DELETE FROM {policy_table()} AS p USING pg_inherits AS i, pg_class AS c, "
        "pg_namespace AS n WHERE i.inhparent = to_regclass("
        f"{string_literal(qualified(table, schema))}) AND c.oid = i.inhrelid "
        "AND n.oid = c.relnamespace AND p.schema_name = n.nspname AND p.table_name = c.relname",
        f"ROW EXCLUSIVE on {POLICY_TABLE}",
        "the rows of the table's partitions, if any; the tables go with the drop below",
    )


#: Roles other than the owner that may change the recorded policies or the record of
#: partitions (PUBLIC included): whoever can write them decides what roll detaches and drops.
def policy_writers_query() -> str:
    """Roles other than the owner that may write the policies or the record: by a grant on
    the table, by a grant on one of its columns (``GRANT UPDATE (policy)``), or as members of
    ``pg_write_all_data`` (PostgreSQL 14 on; superusers and the owner's members are the
    owner's to trust). One row each: table, role, privileges."""
    record = string_literal(qualified("sqla_partition_partitions", tool_schema()))
    tables = (
        f"pg_catalog.to_regclass({string_literal(policy_table())}), "
        f"pg_catalog.to_regclass({record})"
    )
    return f"""
SELECT relname, grantee, string_agg(DISTINCT privilege, ', ') FROM (
  SELECT c.relname::text AS relname, CASE WHEN a.grantee = 0 THEN 'PUBLIC'
         ELSE pg_catalog.pg_get_userbyid(a.grantee)::text END AS grantee,
         a.privilege_type AS privilege
    FROM pg_catalog.pg_class AS c, pg_catalog.aclexplode(c.relacl) AS a
   WHERE c.oid IN ({tables}) AND a.grantee <> c.relowner
     AND a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')
  UNION ALL
  SELECT c.relname::text, CASE WHEN a.grantee = 0 THEN 'PUBLIC'
         ELSE pg_catalog.pg_get_userbyid(a.grantee)::text END,
         a.privilege_type || ' (' || t.attname || ')'
    FROM pg_catalog.pg_class AS c
    JOIN pg_catalog.pg_attribute AS t ON t.attrelid = c.oid AND t.attacl IS NOT NULL,
         pg_catalog.aclexplode(t.attacl) AS a
   WHERE c.oid IN ({tables}) AND a.grantee <> c.relowner
     AND a.privilege_type IN ('INSERT', 'UPDATE')
  UNION ALL
  SELECT c.relname::text, r.rolname::text, 'INSERT, UPDATE, DELETE (pg_write_all_data)'
    FROM pg_catalog.pg_class AS c, pg_catalog.pg_roles AS r
   WHERE c.oid IN ({tables})
     AND pg_catalog.to_regrole('pg_write_all_data') IS NOT NULL
     AND r.rolname <> 'pg_write_all_data' AND NOT r.rolsuper
     AND pg_catalog.pg_has_role(r.oid, pg_catalog.to_regrole('pg_write_all_data'), 'MEMBER')
     AND NOT pg_catalog.pg_has_role(r.oid, c.relowner, 'MEMBER')
) AS w
GROUP BY 1, 2 ORDER BY 1, 2
"""


def create_tool_schema() -> Statement:
    return Statement(
        f"CREATE SCHEMA IF NOT EXISTS {ident(tool_schema())}",
        "no table lock",
        "the schema of sqla-partition's own objects",
    )
