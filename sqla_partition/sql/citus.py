"""Citus: distributed and reference tables."""

from __future__ import annotations

from .quoting import qualified, string_literal
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
