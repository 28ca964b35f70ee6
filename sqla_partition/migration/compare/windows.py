"""The first periods of a new range table, as the short ISO strings a reviewer expects in a
migration file."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ...declaration.policies import TablePolicy
from ...planning import roll as planner


def as_text(policy: TablePolicy, value: Any) -> Any:
    """Bounds as the short ISO strings a reviewer expects in a migration file."""
    if isinstance(value, int):
        return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(policy.stepper().zone)
        if value.time() == dt.time(0) and value.tzinfo is not None:
            local = planner.coerce_key(policy, value.date().isoformat())
            if local == value:
                return value.date().isoformat()
        if value.time() == dt.time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat()
    return value.isoformat()


def range_windows(bound: TablePolicy, now: dt.datetime) -> tuple[Any, Any, tuple[Any, Any]]:
    """``(start, until, (sub_start, sub_until))``: the current period through premake
    ahead (from 0 for an integer key, whose position is its rows), and the same for each
    partition partitioned by ``Range`` in turn (``(None, None)`` without)."""
    position = 0 if bound.by_data else planner.position_from_clock(bound, now)
    start, until = planner.initial_window(bound, position)
    window: tuple[Any, Any] = (None, None)
    sub = bound.range_sub_policy(bound.table)
    if sub is not None:
        where = 0 if sub.by_data else planner.position_from_clock(sub, now)
        first, last = planner.initial_window(sub, where)
        window = (as_text(sub, first), as_text(sub, last))
    return as_text(bound, start), as_text(bound, until), window
