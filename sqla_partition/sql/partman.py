"""Reading a pg_partman configuration, for ``adopt``."""

from __future__ import annotations

from .quoting import ident, string_literal

PARTMAN_SCHEMA_QUERY = """
SELECT n.nspname, e.extversion
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE e.extname = 'pg_partman'
"""


def partman_config_query(schema: str) -> str:
    """pg_partman's settings for one set (bind parameter: ``schema.table`` text)."""
    return f"SELECT * FROM {ident(schema)}.part_config WHERE parent_table = %(parent)s"


def stop_partman_maintenance(partman_schema: str, table: str, schema: str) -> str:
    """What hands a set over to roll: pg_partman's own maintenance of it turned off."""
    return (
        f"UPDATE {ident(partman_schema)}.part_config SET automatic_maintenance = 'off' "
        f"WHERE parent_table = {string_literal(f'{schema}.{table}')}"
    )
