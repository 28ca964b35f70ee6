"""pg_partman's configuration of a set, carried into a declaration by ``adopt``: each
setting becomes a keyword, or a line that says what happens instead."""

from __future__ import annotations

from typing import Any

from .. import sql
from ..catalog.snapshot import Parent
from ..declaration.periods import EPOCH_UNITS
from ..sql.partman import stop_partman_maintenance


def partman_config(conn: Any, parent: Parent) -> dict[str, Any] | None:
    """The set's row in pg_partman's ``part_config``, if pg_partman made it."""
    from psycopg.rows import dict_row

    row = conn.execute(sql.PARTMAN_SCHEMA_QUERY).fetchone()
    if row is None:
        return None
    schema, version = row
    with conn.cursor(row_factory=dict_row) as cur:
        config = cur.execute(
            sql.partman_config_query(schema), {"parent": f"{parent.schema}.{parent.name}"}
        ).fetchone()
    if config is None:
        return None
    return {"version": version, "schema": schema, **config}


def partman_epoch(partman: dict[str, Any] | None) -> str | None:
    value = str((partman or {}).get("epoch") or "none")
    return value if value in EPOCH_UNITS else None


#: part_config columns that need no word: carried above, or pg_partman's own bookkeeping.
_QUIET = {
    "version",
    "schema",
    "parent_table",
    "control",
    "partition_type",
    "partition_interval",
    "premake",
    "epoch",
    "retention",
    "retention_schema",
    "retention_keep_table",
    "datetime_string",
    "automatic_maintenance",
    "jobmon",
    "undo_in_progress",
    "sub_partition_set_full",
    "inherit_fk",
    "optimize_trigger",
    "optimize_constraint",
    "trigger_exception_handling",
    "trigger_return_null",
    "upsert",
    "time_encoder",
    "time_decoder",
    "maintenance_order",
    "maintenance_last_run",
    "default_table",
    "async_partitioning_in_progress",
    "control_not_null",
}


def carry_partman(
    partman: dict[str, Any], schema: str, table: str
) -> tuple[dict[str, Any], list[str]]:
    """pg_partman's settings for the set as declaration keywords, and a line for each one
    that is not carried, saying what happens instead."""
    carried: dict[str, Any] = {"premake": int(partman.get("premake") or 3)}
    notes = [
        f"pg_partman still maintains {schema}.{table}: once the migration is applied, "
        f"turn that off ({stop_partman_maintenance(partman['schema'], table, schema)}) so "
        "that only roll does"
    ]
    retention = partman.get("retention") or None
    if retention:
        carried["retention"] = retention
        if partman.get("retention_keep_table") is False:
            carried["on_expire"] = "drop"
        elif partman.get("retention_schema"):
            carried["archive_schema"] = partman["retention_schema"]
    said = {
        "retention_keep_index": (
            False,
            "retention_keep_index = false: pg_partman drops the indexes of a partition it "
            "detaches; roll keeps them, so an archive stays queryable as it was",
        ),
        "infinite_time_partitions": (
            False,
            "infinite_time_partitions = false: pg_partman stops making partitions when no "
            "new rows arrive; roll makes them from the clock (as infinite_time_partitions = "
            "true does), so writers never wait for a partition",
        ),
        "ignore_default_data": (
            False,
            "ignore_default_data = false: pg_partman counts rows in the DEFAULT when it "
            "decides what to make; roll never does, and moves them into their partitions",
        ),
        "inherit_privileges": (
            True,
            "inherit_privileges = true: pg_partman copies the parent's grants to each new "
            "partition; PostgreSQL checks the parent's grants for statements on the parent, "
            "so only direct access to a partition needs its own (GRANT … ON ALL TABLES IN "
            "SCHEMA, or default privileges)",
        ),
    }
    for column, (value, note) in said.items():
        if partman.get(column) is value:
            notes.append(note)
    if partman.get("date_trunc_interval"):
        notes.append(
            f"date_trunc_interval = {partman['date_trunc_interval']}: the partitions fit "
            "sqla-partition's own alignment (adopt checked each bound), so they go on alike"
        )
    if partman.get("constraint_cols"):
        notes.append(
            f"constraint_cols = {partman['constraint_cols']}: pg_partman's extra CHECK "
            "constraints on older partitions are not made; existing ones stay"
        )
    if partman.get("template_table"):
        notes.append(
            f"template_table = {partman['template_table']}: roll makes a partition LIKE the "
            "parent (defaults, constraints, storage, comments) and PostgreSQL gives it the "
            "parent's indexes; what only the template holds is not carried"
        )
    others = sorted(
        f"{k} = {v}"
        for k, v in partman.items()
        if k not in _QUIET
        and k not in said
        and k
        not in (
            "date_trunc_interval",
            "constraint_cols",
            "template_table",
            "sub_partition_type",
            "sub_control",
            "publications",
            "subscription_refresh",
            "drop_cascade_fk",
        )
        and v not in (None, False, "", [])
    )
    if others:
        notes.append(f"pg_partman settings not carried: {', '.join(others)}")
    return carried, notes
