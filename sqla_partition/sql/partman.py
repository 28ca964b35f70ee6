"""Reading a pg_partman configuration, for ``adopt``."""

from __future__ import annotations

from .quoting import ident

PARTMAN_SCHEMA_QUERY = """
SELECT n.nspname, e.extversion
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE e.extname = 'pg_partman'
"""


def partman_config_query(schema: str) -> str:
    """pg_partman's settings for one set (bind parameter: ``schema.table`` text)."""
    return f"SELECT * FROM {ident(schema)}.part_config WHERE parent_table = %(parent)s"
