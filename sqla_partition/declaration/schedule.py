"""Cron schedules: when the next roll will run, and whether that is soon enough."""

from __future__ import annotations

import datetime as dt

from ..errors import SqlaPartitionError
from .policies import Range


def _croniter(expr: str, start: dt.datetime):  # type: ignore[no-untyped-def]
    from croniter import CroniterError, croniter

    try:
        return croniter(expr, start)
    except (CroniterError, ValueError, KeyError) as exc:
        raise SqlaPartitionError(
            f"cron expression {expr!r} does not parse ({exc}); e.g. '15 3 * * *' for 03:15 daily"
        ) from None


def next_run(expr: str, after: dt.datetime) -> dt.datetime:
    """The first scheduled run after ``after`` (an aware datetime; cron fields are UTC)."""
    it = _croniter(expr, after.astimezone(dt.timezone.utc))
    return it.get_next(dt.datetime).astimezone(dt.timezone.utc)


def longest_gap(expr: str, after: dt.datetime, runs: int = 400) -> dt.timedelta:
    """The longest time between consecutive runs over the next ``runs`` runs."""
    it = _croniter(expr, after.astimezone(dt.timezone.utc))
    previous = it.get_next(dt.datetime)
    longest = dt.timedelta(0)
    for _ in range(runs):
        current = it.get_next(dt.datetime)
        longest = max(longest, current - previous)
        previous = current
    return longest


def too_sparse(expr: str, policy: Range, now: dt.datetime) -> str | None:
    """A reason when runs are further apart than ``premake`` periods can bridge."""
    step = policy.step
    if isinstance(step, int):
        return None
    gap = longest_gap(expr, now)
    bridge = dt.timedelta(days=step.approx_days() * policy.premake)
    if gap >= bridge:
        return (
            f"schedule {expr!r} leaves up to {gap} between runs, but premake={policy.premake} "
            f"x {step} covers only about {_span(bridge)}; run more often or raise premake"
        )
    return None


def _span(span: dt.timedelta) -> str:
    if span >= dt.timedelta(days=2):
        return f"{span.days} days"
    return f"{int(span.total_seconds() // 60)} minutes"
