"""Checks of a ``Range`` declaration that have a module of their own: the anchor, and a
``Range`` sub-partition."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..errors import PolicyError
from .periods import CalendarStep

#: At most this many partitions made at once (kept with the other sizes in policies).
MAX_NEW_PARTITIONS = 4096


def check_range_subpartition(policy: Any, sub: Any) -> None:
    """A ``Range`` sub-partition: a table of its own, rolled like any range table."""
    name = f"subpartition=Range({sub.column!r})"
    if sub.column == policy.column:
        raise PolicyError(f"{name} partitions by the range key itself; use another column")
    if sub.subpartition is not None or sub.distributed_by or sub.colocate_with:
        raise PolicyError(f"{name}: a sub-partition is partitioned no further and not distributed")
    if sub.partition_prefix is not None:
        raise PolicyError(
            f"{name} takes no partition_prefix: its partitions are named after the range "
            "partition they belong to"
        )
    if (policy.premake + 1) * (sub.premake + 1) > MAX_NEW_PARTITIONS:
        raise PolicyError(
            f"premake={policy.premake} with {name}, premake={sub.premake} makes "
            f"{(policy.premake + 1) * (sub.premake + 1)} partitions at once, more than "
            f"{MAX_NEW_PARTITIONS}: lower one of them"
        )


def check_anchor(policy: Any, step: CalendarStep | int) -> None:
    """``anchor=``: an ISO date or time, on the policy's clock, where a period may start."""
    if not isinstance(policy.anchor, str) or isinstance(step, int):
        raise PolicyError(
            f"anchor={policy.anchor!r}: give an ISO date or time such as '2026-04-01', "
            "for a calendar interval"
        )
    try:
        at = policy.anchor_time
    except ValueError:
        raise PolicyError(
            f"anchor={policy.anchor!r} is no ISO date or time (such as '2026-04-01')"
        ) from None
    assert at is not None
    if at.tzinfo is not None:
        raise PolicyError(
            f"anchor={policy.anchor!r}: give it without an offset; it is read on the "
            f"clock of timezone={policy.timezone!r}"
        )
    if not step.sub_day and at.time() != dt.time(0):
        raise PolicyError(
            f"anchor={policy.anchor!r}: {step} periods start at midnight; give a date"
        )
    if step.months() and at.day != 1:
        raise PolicyError(f"anchor={policy.anchor!r}: {step} periods start on the first of a month")
