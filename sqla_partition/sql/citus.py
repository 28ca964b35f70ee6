"""Citus: distributed and reference tables."""

from __future__ import annotations

from .quoting import qualified, regclass, string_literal
from .statement import Statement


def create_distributed_table(
    table: str,
    column: str,
    schema: str | None = None,
    *,
    colocate_with: str | None = None,
    shard_count: int | None = None,
) -> Statement:
    args = [string_literal(qualified(table, schema)), string_literal(column)]
    if colocate_with is not None:
        args.append(f"colocate_with => {string_literal(colocate_with)}")
    if shard_count is not None:
        args.append(f"shard_count => {int(shard_count)}")
    return Statement(
        f"SELECT create_distributed_table({', '.join(args)})",
        f"ACCESS EXCLUSIVE on {table} (Citus)",
        "Citus creates the shards on the workers; the table is new in this migration, so "
        "there are no rows to copy and nobody waits",
    )


def create_reference_table(table: str, schema: str | None = None) -> Statement:
    return Statement(
        f"SELECT create_reference_table({string_literal(qualified(table, schema))})",
        f"ACCESS EXCLUSIVE on {table} (Citus)",
        "Citus copies the table to every node; a reference table is small by declaration",
    )


def undistribute_table(table: str, schema: str | None = None) -> Statement:
    return Statement(
        f"SELECT undistribute_table({string_literal(qualified(table, schema))})",
        f"ACCESS EXCLUSIVE on {table} (Citus)",
        "Citus copies every row back to the coordinator: the table is blocked for that time, "
        "as the downgrade asks",
    )


#: Every Citus table with how it is spread, and whether this node is a worker (its group is
#: not the coordinator's 0; a single-node Citus is group 0 as well). Citus's own catalog,
#: not the citus_tables view, which shows a role only the tables it owns.
CITUS_TABLES_QUERY = """
SELECT n.nspname, c.relname,
       CASE WHEN p.partmethod = 'h' THEN 'distributed'
            WHEN p.repmodel = 't' THEN 'reference'
            -- a table of a distributed schema (schema-based sharding), or distributed
            -- with no column: one shard, colocated
            WHEN p.colocationid <> 0 THEN 'single-shard'
            ELSE 'local' END,
       column_to_column_name(p.logicalrelid, p.partkey), p.colocationid,
       (SELECT count(*) FROM pg_dist_shard AS s WHERE s.logicalrelid = p.logicalrelid),
       (SELECT groupid FROM pg_dist_local_group) <> 0
  FROM pg_dist_partition AS p
  JOIN pg_class AS c ON c.oid = p.logicalrelid
  JOIN pg_namespace AS n ON n.oid = c.relnamespace
 UNION ALL
SELECT NULL, NULL, NULL, NULL, NULL, NULL, (SELECT groupid FROM pg_dist_local_group) <> 0
"""


_TOKENS = 2**32
_MIN_TOKEN = -(2**31)


def shard_range(index: int, shard_count: int) -> tuple[int, int]:
    """The hash range of shard ``index`` of ``shard_count``, as Citus lays them out (equal
    integer steps, the last one ending at the top)."""
    step = _TOKENS // shard_count
    low = _MIN_TOKEN + index * step
    high = 2**31 - 1 if index == shard_count - 1 else low + step - 1
    return low, high


def split_shard(
    table: str, schema: str | None, index: int, old_count: int, new_count: int
) -> Statement:
    """Split shard ``index`` of the old layout into ``new_count // old_count`` shards on
    the node it is on, with Citus's logical replication: writes go on during the copy and
    wait only for the final switch. A shard no longer there with those bounds (a re-run
    after an interruption) is skipped."""
    low, high = shard_range(index, old_count)
    parts = new_count // old_count
    points = [shard_range(index * parts + j, new_count)[0] - 1 for j in range(1, parts)]
    array = "ARRAY[" + ", ".join(string_literal(str(p)) for p in points) + "]"
    return Statement(
        f"SELECT citus_split_shard_by_split_points(s.shardid, {array}, "
        f"array_fill(n.nodeid, ARRAY[{parts}]), 'auto') "
        "FROM pg_dist_shard AS s JOIN pg_dist_placement AS p ON p.shardid = s.shardid "
        "JOIN pg_dist_node AS n ON n.groupid = p.groupid "
        f"WHERE s.logicalrelid = {regclass(table, schema)} "
        f"AND s.shardminvalue = {string_literal(str(low))} "
        f"AND s.shardmaxvalue = {string_literal(str(high))}",
        f"writes to one shard of {table} and of the tables colocated with it wait for the "
        "final switch (Citus)",
        "Citus copies the shard's rows with logical replication while writes go on; the "
        "tables colocated with it split alike",
        transactional=False,
    )


#: Each node's ``wal_level`` and ``output_plugin_libraries`` (``NULL`` where the server has
#: no such setting): a shard split copies rows with logical replication through Citus's
#: own output plugin.
SPLIT_READINESS_QUERY = """
SELECT 'the coordinator', true, pg_catalog.current_setting('wal_level'),
       (SELECT setting FROM pg_catalog.pg_settings WHERE name = 'output_plugin_libraries')
UNION ALL
SELECT w.nodename || ':' || w.nodeport, w.success AND p.success, w.result, NULLIF(p.result, '')
  FROM pg_catalog.run_command_on_workers('SHOW wal_level') AS w
  JOIN pg_catalog.run_command_on_workers(
       'SELECT setting FROM pg_catalog.pg_settings WHERE name = ''output_plugin_libraries''')
       AS p USING (nodename, nodeport)
"""

#: The first key of the session lock a run of ``split_shards`` holds on a table: a split
#: whose client died runs on to its end, holding it, and the next run waits for it.
SPLIT_LOCK_CLASS = 1936483683


def try_split_lock(table: str, schema: str | None) -> str:
    return (
        f"SELECT pg_catalog.pg_try_advisory_lock({SPLIT_LOCK_CLASS}, "
        f"{regclass(table, schema)}::pg_catalog.oid::pg_catalog.int4)"
    )


def split_lock_holder(table: str, schema: str | None) -> str:
    """The session that holds the split lock of a table, with what it runs."""
    return (
        "SELECT a.pid, pg_catalog.left(a.query, 120) FROM pg_catalog.pg_locks AS l "
        "JOIN pg_catalog.pg_stat_activity AS a ON a.pid = l.pid "
        f"WHERE l.locktype = 'advisory' AND l.classid = {SPLIT_LOCK_CLASS} "
        f"AND l.objid = {regclass(table, schema)}::pg_catalog.oid AND l.granted "
        "AND l.pid <> pg_catalog.pg_backend_pid()"
    )


def split_unlock(table: str, schema: str | None) -> Statement:
    return Statement(
        f"SELECT pg_catalog.pg_advisory_unlock({SPLIT_LOCK_CLASS}, "
        f"{regclass(table, schema)}::pg_catalog.oid::pg_catalog.int4)",
        "no lock: the split's own session lock goes",
        "the next split of this table may start",
    )


def truncate_local_data(table: str, schema: str | None = None) -> Statement:
    return Statement(
        "SELECT truncate_local_data_after_distributing_table("
        f"{string_literal(qualified(table, schema))})",
        f"ACCESS EXCLUSIVE on {table} (Citus)",
        "Citus copied the rows moved in to the shards as the partition was attached; the "
        "local copy it leaves on the coordinator goes",
    )


def colocated_table_query(table: str, schema: str | None) -> str:
    """Another table (not a partition) that shares a distributed table's shards: what
    ``colocate_with`` names for it."""
    return (
        "SELECT n.nspname, c.relname FROM pg_catalog.pg_dist_partition AS p "
        "JOIN pg_catalog.pg_class AS c ON c.oid = p.logicalrelid "
        "JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace "
        "WHERE p.colocationid = (SELECT colocationid FROM pg_catalog.pg_dist_partition "
        f"WHERE logicalrelid = {regclass(table, schema)}) "
        f"AND p.logicalrelid <> {regclass(table, schema)} AND NOT c.relispartition "
        # the oldest: what the others were colocated with (an archive is younger)
        "AND p.partmethod = 'h' ORDER BY c.oid LIMIT 1"
    )


def shards_size_query(table: str, schema: str | None) -> str:
    """A distributed table's rows (the sum of its shards' estimates; ``NULL`` if one was
    never analyzed) and bytes, from the workers: the coordinator's table holds none."""
    shard = (
        "SELECT CASE WHEN reltuples >= 0 THEN reltuples::bigint END "
        "FROM pg_catalog.pg_class WHERE oid = '%s'::pg_catalog.regclass"
    )
    return (
        "SELECT CASE WHEN bool_and(result <> '' AND result::bigint >= 0) "
        "THEN sum(NULLIF(result, '')::bigint)::bigint END, "
        f"pg_catalog.citus_total_relation_size({regclass(table, schema)}) "
        f"FROM pg_catalog.run_command_on_shards({regclass(table, schema)}, "
        f"{string_literal(shard)}) "
        "WHERE success"
    )


#: The workers that do not answer (``run_command_on_workers`` reports them as failed), with
#: the error (asked only where the extension is installed).
UNREACHABLE_NODES_QUERY = """
SELECT w.nodename || ':' || w.nodeport, w.result
  FROM pg_catalog.run_command_on_workers('SELECT 1') AS w
 WHERE NOT w.success
"""


#: The relations and functions that belong to an extension (``pg_stat_statements``'s view,
#: Citus's ``citus_tables``): its own, never the application's to drop or create.
EXTENSION_MEMBERS_QUERY = """
SELECT n.nspname, c.relname FROM pg_catalog.pg_depend AS d
  JOIN pg_catalog.pg_class AS c ON c.oid = d.objid
  JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
 WHERE d.deptype = 'e' AND d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
UNION
SELECT n.nspname, p.proname FROM pg_catalog.pg_depend AS d
  JOIN pg_catalog.pg_proc AS p ON p.oid = d.objid
  JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
 WHERE d.deptype = 'e' AND d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
"""
