"""``roll --place-default``: rows in the DEFAULT partition that no period of the usual window
covers (dated far ahead or behind) get the partitions of their periods, and move there
with the same lock discipline as any new partition; rows older than retention are the
operator's choice (``--expired``), never dropped silently."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import psycopg

from .. import sql
from ..catalog.snapshot import Parent
from ..declaration.periods import Period
from ..declaration.policies import Range
from ..planning.roll import position_from_clock, retention_cutoff
from .messages import expired_message
from .results import TableResult

if TYPE_CHECKING:
    from .runner import Roller

#: The most periods ``--place-default`` creates for one table in one run.
MAX_PLACED_PERIODS = 1000


def default_periods(conn: psycopg.Connection, parent: Parent) -> list[Period]:
    """The periods the DEFAULT partition's rows fall in, found one query per period (an
    index on the key makes each a lookup), at most :data:`MAX_PLACED_PERIODS`."""
    assert parent.policy is not None and isinstance(parent.policy.policy, Range)
    if parent.default is None:
        return []
    policy, stepper = parent.policy, parent.policy.stepper()
    column, default = policy.policy.column, parent.default.name
    found: list[Period] = []
    row = conn.execute(sql.min_key_query(default, column, parent.schema)).fetchone()  # type: ignore[call-overload]
    key = row[0] if row else None
    while key is not None and len(found) < MAX_PLACED_PERIODS:
        period = stepper.period_of(key)
        found.append(period)
        query = sql.next_key_query(default, column, period.upper, policy.key_type, parent.schema)
        key = conn.execute(query).fetchone()[0]  # type: ignore[call-overload,index]
    return found


def after_placing(roller: Roller, parent: Parent, now: dt.datetime, result: TableResult) -> None:
    """Rows older than retention, once the others are placed: ``archive``: the partitions
    just made for them expire now (detached, recorded as archives); ``delete``: they go;
    ``keep``: they stay, reported."""
    assert parent.policy is not None and isinstance(parent.policy.policy, Range)
    if parent.default is None or parent.policy.by_data:
        return
    cutoff = retention_cutoff(parent.policy, position_from_clock(parent.policy, now))
    if cutoff is None:
        return
    choice, conn = roller.options.place, roller.conn
    if choice == "archive":
        if result.created:
            roller.expire_now(parent, now, result)
        return
    column, key_type = parent.policy.policy.column, parent.policy.key_type
    default = parent.default.name
    if choice == "delete":
        stmt = sql.delete_before(default, column, cutoff, key_type, parent.schema)
        before = result.moved_rows
        roller.run_statements([stmt], result)
        result.deleted_rows, result.moved_rows = result.moved_rows - before, before
        return
    query = sql.count_before_query(default, column, cutoff, key_type, parent.schema)
    result.expired_rows = int(conn.execute(query).fetchone()[0])  # type: ignore[call-overload,index]
    if result.expired_rows:
        result.notes.append(expired_message(parent, result.expired_rows, cutoff))
