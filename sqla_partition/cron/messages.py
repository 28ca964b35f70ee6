"""What roll says when a table cannot go on: one line naming the table and the ways out."""

from __future__ import annotations

from ..catalog.snapshot import Parent
from ..planning.roll import Step
from .results import RollOptions


class NotOurs(Exception):
    """A table has the name of a partition to create, but this run did not create it."""


def not_ours(parent: Parent, step: Step) -> str:
    name = f"{parent.schema}.{step.partition}"
    return (
        f"{name} already exists and is not a partition of {parent.schema}.{parent.name}: a "
        "detached archive or another table; roll never takes a table as a partition by its "
        "name. To put an archive back, attach it in a migration (op.attach_partition checks "
        "its rows against the bounds); otherwise rename or drop it. The other tables went on"
    )


def backlog_message(parent: Parent, step: Step, rows: int, options: RollOptions) -> str:
    """What the operator reads when a period's rows wait in the DEFAULT partition."""
    assert parent.default is not None
    table = f"{parent.schema}.{parent.name}"
    return (
        f"{rows:,} rows of {step.partition}'s period are in {parent.default.name}, more than "
        f"--max-move-rows {options.max_move_rows:,}; moving them holds writes to {table} "
        f"until they have moved. They stay in {parent.default.name}, visible, until you run "
        f"sqla-partition roll --table {table} --max-move-rows {rows} at a time when that "
        "pause is acceptable"
    )
