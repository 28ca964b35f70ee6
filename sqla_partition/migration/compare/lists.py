"""Autogenerate for list tables: a changed declaration becomes one online operation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from alembic.util import CommandError

from ...declaration.lists import List
from ...declaration.policies import Range, TablePolicy
from ...errors import PolicyError
from ...planning import roll as planner
from ...planning.lists import list_change
from ..ops import AlterListPartitionsOp


def list_window(
    bound: TablePolicy, now: dt.datetime, as_text: Callable[[TablePolicy, Any], Any]
) -> tuple[Any, Any]:
    """``(start, until)`` of new list partitions range-partitioned in turn: the periods a
    new range table would get now; ``(None, None)`` otherwise."""
    if not isinstance(bound.policy, List):
        return None, None
    names = list(bound.policy.partitions)
    sub = bound.list_sub_policy(names[0]) if names else None
    if sub is None or not isinstance(sub.policy, Range):
        return None, None
    position = 0 if sub.by_data else planner.position_from_clock(sub, now)
    start, until = planner.initial_window(sub, position)
    return as_text(sub, start), as_text(sub, until)


def list_op(
    bound: TablePolicy, recorded: Any, window: tuple[Any, Any] = (None, None)
) -> AlterListPartitionsOp | None:
    """The operation from the recorded declaration to the model's; what cannot be done
    online stops autogenerate with the reason. ``None``: no change, or nothing recorded to
    compare with (the policy is then recorded as it is)."""
    new = bound.policy
    if not isinstance(new, List) or not isinstance(recorded, List) or recorded == new:
        return None
    try:
        change = list_change(bound.table, recorded, new)
    except PolicyError as exc:
        raise CommandError(str(exc)) from None
    if not change:
        return None
    start, until = window if change.added else (None, None)
    return AlterListPartitionsOp(
        bound.table,
        new,
        old=recorded,
        key_type=bound.key_type,
        start=start,
        until=until,
        schema=bound.schema,
    )
