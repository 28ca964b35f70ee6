"""The lock one run holds on a table, and the key that only roles that may roll it read.

An advisory lock has no privileges: any role that can connect may take any key, and
``pg_locks`` shows every key held. So each table's key is a random number kept in
``sqla_partition_roll_keys``, whose rows row-level security shows only to members of the
table's owner (``pg_read_all_data`` included in the refusal); a role that learns a key
from ``pg_locks`` and holds it is seen not to be a member, and the key is drawn again.
"""

from __future__ import annotations

from .plpgsql import do_block
from .policy import POLICY_SCHEMA, in_own_schema, tool_schema
from .quoting import qualified, string_literal
from .statement import Statement

KEYS_TABLE = "sqla_partition_roll_keys"
#: First key of the two-key advisory lock: 'sqlk' as an int (earlier versions took 'sqlp'
#: with a key anyone could compute).
KEYED_CLASS = 0x73716C6B

#: A fresh key, from the server's strong random source.
_RANDOM_KEY = (
    "('x' OPERATOR(pg_catalog.||) pg_catalog.substr(pg_catalog.md5("
    "pg_catalog.gen_random_uuid()::text), 1, 8))::bit(32)::int"
)


def keys_table() -> str:
    return qualified(KEYS_TABLE, tool_schema())


#: Who the row is for: the owner of the table it names (none for a table that does not
#: exist, so no row can be made for a table before it is made).
_OWNER_OF_ROW = (
    "(SELECT c.relowner FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n "
    "ON n.oid = c.relnamespace WHERE n.nspname = schema_name AND c.relname = table_name)"
)


def owners_rows_table(table: str, columns: str) -> str:
    """A tool table made once whose rows only members of the owner of the table each row
    names see and write (forced: the owner of this table is held to it too)."""
    body = (
        f"IF pg_catalog.to_regclass({string_literal(table)}) IS NULL THEN\n"
        f"    CREATE TABLE {table} ({columns});\n"
        f"    ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;\n"
        f"    ALTER TABLE {table} FORCE ROW LEVEL SECURITY;\n"
        f"    CREATE POLICY sqla_partition_members ON {table} USING "
        f"(pg_catalog.pg_has_role({_OWNER_OF_ROW}, 'MEMBER'));\n"
        f"    REVOKE ALL ON TABLE {table} FROM PUBLIC;\n"
        f"    GRANT SELECT, INSERT, UPDATE ON TABLE {table} TO PUBLIC;\n"
        "  END IF"
    )
    return do_block(f"  {body};\n") if tool_schema() == POLICY_SCHEMA else in_own_schema(body)


def create_keys_table() -> Statement:
    """Made once, with the policy that shows a row only to members of its table's owner."""
    return Statement(
        owners_rows_table(
            keys_table(),
            "schema_name text NOT NULL, table_name text NOT NULL, key integer NOT NULL, "
            "PRIMARY KEY (schema_name, table_name)",
        ),
        f"ACCESS EXCLUSIVE on {KEYS_TABLE} (only when it is new)",
        "the key of each table's roll lock, shown only to roles that may roll the table",
    )


def keys_table_exists_query() -> str:
    return f"SELECT pg_catalog.to_regclass({string_literal(keys_table())}) IS NOT NULL"


def key_query() -> str:
    """The table's key, made on first use (bind parameters: schema, table)."""
    table = keys_table()
    return (
        f"WITH made AS (INSERT INTO {table} (schema_name, table_name, key) "
        f"SELECT %(schema)s, %(table)s, {_RANDOM_KEY} "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE schema_name = %(schema)s "
        "AND table_name = %(table)s) "
        "ON CONFLICT DO NOTHING RETURNING key) "
        f"SELECT key FROM made UNION ALL SELECT key FROM {table} "
        "WHERE schema_name = %(schema)s AND table_name = %(table)s LIMIT 1"
    )


def all_keys_query() -> str:
    """Every key this role may see, read once by a run over many tables."""
    return f"SELECT schema_name, table_name, key FROM {keys_table()}"


def make_keys_query() -> str:
    """Keys for the tables named that lack one (bind parameters: schemas, tables, two
    arrays), made in one statement; only for tables this role may roll, as the policy on
    the keys table requires of each row."""
    return (
        f"INSERT INTO {keys_table()} (schema_name, table_name, key) "
        f"SELECT t.s, t.n, {_RANDOM_KEY} "
        "FROM ROWS FROM (pg_catalog.unnest(%(schemas)s::text[]), "
        "pg_catalog.unnest(%(tables)s::text[])) AS t(s, n) "
        "JOIN pg_catalog.pg_namespace AS ns ON ns.nspname OPERATOR(pg_catalog.=) t.s "
        "JOIN pg_catalog.pg_class AS c ON c.relnamespace OPERATOR(pg_catalog.=) ns.oid "
        "AND c.relname OPERATOR(pg_catalog.=) t.n "
        "WHERE pg_catalog.pg_has_role(c.relowner, 'MEMBER') "
        "ON CONFLICT DO NOTHING RETURNING schema_name, table_name, key"
    )


def current_key_query() -> str:
    """The table's key as it is now, without making one (bind parameters: schema, table):
    a plain read, to check that the key a run holds was not drawn again meanwhile."""
    return (
        f"SELECT key FROM {keys_table()} WHERE schema_name = %(schema)s AND table_name = %(table)s"
    )


def draw_again_query() -> str:
    """A new key, only if the table still has the one a stranger holds (bind parameters:
    schema, table, key): of two runs that saw it, one draws."""
    return (
        f"UPDATE {keys_table()} SET key = {_RANDOM_KEY} WHERE schema_name = %(schema)s "
        "AND table_name = %(table)s AND key = %(key)s"
    )


def try_keyed_lock() -> str:
    return f"SELECT pg_catalog.pg_try_advisory_lock({KEYED_CLASS}, %(key)s)"


def keyed_lock() -> str:
    """Waited for: bounded by the session's ``lock_timeout``."""
    return f"SELECT pg_catalog.pg_advisory_lock({KEYED_CLASS}, %(key)s)"


def keyed_unlock() -> str:
    return f"SELECT pg_catalog.pg_advisory_unlock({KEYED_CLASS}, %(key)s)"


def keyed_holder_query(name: str, schema: str) -> str:
    """Who holds the key (bind parameter: key): pid, seconds its statement has run, its
    role, and whether that role may roll the table (a member of its owner)."""
    return (
        "SELECT a.pid, round(extract(epoch FROM now() - a.query_start)), "
        "a.usename::text, pg_catalog.pg_has_role(a.usesysid, c.relowner, 'MEMBER') "
        "FROM pg_catalog.pg_locks AS l JOIN pg_catalog.pg_stat_activity AS a ON a.pid = l.pid "
        f"CROSS JOIN (SELECT relowner FROM pg_catalog.pg_class WHERE oid = "
        f"{string_literal(qualified(name, schema))}::pg_catalog.regclass) AS c "
        "WHERE l.locktype = 'advisory' AND l.granted "
        "AND l.database = (SELECT oid FROM pg_catalog.pg_database "
        "WHERE datname = pg_catalog.current_database()) "
        f"AND l.classid = {KEYED_CLASS}::oid AND l.objid = (%(key)s::bigint & 4294967295)::oid "
        "AND l.objsubid = 2 LIMIT 1"
    )
