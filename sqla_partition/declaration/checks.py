"""The checks of a ``Range`` declaration, each problem gathered rather than the first raised,
so a declaration with several mistakes is refused once, naming all of them."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import PolicyError, Problems
from .periods import EPOCH_UNITS, NAMINGS, CalendarStep

#: At most this many partitions made at once (kept with the other sizes in policies).
MAX_NEW_PARTITIONS = 4096
#: At most this many periods ahead: a migration creates them all in one transaction.
MAX_PREMAKE = 500
EXPIRE_MODES = ("detach", "drop")


def check_range(policy: Any) -> None:
    """Every check of ``Range(...)``; a check that needs a valid argument runs only then."""
    found = Problems(f"Range({policy.column!r})")
    if not isinstance(policy.column, str) or not policy.column:
        found.add(f"Range() needs the partition key column name, got {policy.column!r}")
    if policy.epoch is not None and policy.epoch not in EPOCH_UNITS:
        found.add(
            f"epoch={policy.epoch!r}: use 'seconds', 'milliseconds', 'microseconds' or "
            "'nanoseconds' (the unit of the integer column's time since 1970)"
        )
    premake = found.ok(lambda: _check_premake(policy.premake))
    if policy.subpartition is not None:
        found.run(lambda: _check_subpartition(policy, premake))
    if policy.distributed_by is not None:
        found.run(lambda: _check_distribution(policy))
    found.run(
        lambda: check_colocation(
            policy.colocate_with,
            policy.distributed_by is not None,
            "set distributed_by= to the column to distribute by",
        )
    )
    step = found.run(lambda: policy.step)
    if step is not None and policy.retention is not None:
        found.run(lambda: _check_retention(policy, step))
    if step is not None and policy.anchor is not None:
        found.run(lambda: _check_anchor(policy, step))
    for name in ("default", "keep_foreign_keys"):
        if not isinstance(getattr(policy, name), bool):
            found.add(f"{name} must be True or False, got {getattr(policy, name)!r}")
    try:
        ZoneInfo(policy.timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        found.add(
            f"unknown timezone {policy.timezone!r}: use an IANA name such as 'UTC' or "
            "'Europe/Berlin'"
        )
    if policy.naming not in NAMINGS:
        found.add(
            f"naming={policy.naming!r}: use 'sqla' (default), or 'partman4'/'partman5' to go "
            "on naming partitions as pg_partman did"
        )
    if policy.on_expire not in EXPIRE_MODES:
        found.add(
            f"on_expire={policy.on_expire!r}: use 'detach' (default, keeps the data) or "
            "'drop' (deletes expired partitions)"
        )
    found.raise_any()


def _check_premake(premake: Any) -> None:
    if isinstance(premake, bool) or not isinstance(premake, int):
        raise PolicyError(f"premake must be a whole number of periods, got {premake!r}")
    if premake < 1:
        raise PolicyError(
            f"premake={premake} must be at least 1: the next period's partition "
            "must exist before the first row of that period arrives"
        )
    if premake > MAX_PREMAKE:
        raise PolicyError(
            f"premake={premake} is more than {MAX_PREMAKE}: the migration would create "
            f"{premake + 1} partitions in one transaction, each taking locks from a "
            "table shared by every session (out of shared memory), and roll as many; "
            "a larger interval gives the same reach with fewer partitions"
        )


def check_colocation(colocate_with: Any, distributed: bool, otherwise: str) -> None:
    if colocate_with is None:
        return
    if not isinstance(colocate_with, str) or not colocate_with:
        raise PolicyError(
            f"colocate_with must be 'default', 'none' or a table name, got {colocate_with!r}"
        )
    if not distributed:
        raise PolicyError(
            f"colocate_with={colocate_with!r} applies to distributed tables, not with {otherwise}"
        )


def _check_distribution(policy: Any) -> None:
    if not isinstance(policy.distributed_by, str) or not policy.distributed_by:
        raise PolicyError(f"distributed_by must be a column name, got {policy.distributed_by!r}")
    if policy.subpartition is not None:
        raise PolicyError(
            "Citus does not distribute multi-level partitioned tables: use distributed_by "
            "or subpartition, not both"
        )
    if policy.default:
        raise PolicyError(
            "default=True with distributed_by: moving rows out of a DEFAULT partition of a "
            "distributed table is not supported by sqla-partition; leave default=False"
        )


def _check_subpartition(policy: Any, premake_ok: bool) -> None:
    """A ``Hash`` or ``Range`` sub-partition; the count of partitions made at once only
    with a valid ``premake``."""
    sub = policy.subpartition
    kind = None if isinstance(sub, type) else getattr(sub, "kind", None)
    if kind == "range":
        _check_range_subpartition(policy, sub, premake_ok)
        return
    if kind != "hash":
        raise PolicyError(
            f"subpartition must be Hash(column, partitions) or Range(column, ...), got "
            f"{sub!r}: each range partition is then partitioned in turn"
        )
    if sub.column == policy.column:
        raise PolicyError(
            f"subpartition=Hash({sub.column!r}) hashes the range key itself; hash by "
            "another column, such as a tenant id"
        )
    if sub.partition_prefix is not None:
        raise PolicyError(
            "subpartition=Hash(...) takes no partition_prefix: its partitions are named "
            "after the range partition they belong to"
        )
    if premake_ok and (policy.premake + 1) * sub.partitions > MAX_NEW_PARTITIONS:
        raise PolicyError(
            f"premake={policy.premake} with subpartition=Hash(partitions={sub.partitions}) "
            f"makes {(policy.premake + 1) * sub.partitions} partitions at once, more than "
            f"{MAX_NEW_PARTITIONS}: lower premake or the hash partitions"
        )


def _check_range_subpartition(policy: Any, sub: Any, premake_ok: bool) -> None:
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
    if premake_ok and (policy.premake + 1) * (sub.premake + 1) > MAX_NEW_PARTITIONS:
        raise PolicyError(
            f"premake={policy.premake} with {name}, premake={sub.premake} makes "
            f"{(policy.premake + 1) * (sub.premake + 1)} partitions at once, more than "
            f"{MAX_NEW_PARTITIONS}: lower one of them"
        )


def _check_retention(policy: Any, step: CalendarStep | int) -> None:
    keep = policy.retention_step
    if isinstance(step, int) != isinstance(keep, int):
        kind = "an integer width" if isinstance(step, int) else "a calendar span"
        raise PolicyError(f"retention={policy.retention!r} must be {kind}, like the interval")
    if isinstance(step, int):
        assert isinstance(keep, int)
        short = keep < step
    else:
        assert isinstance(keep, CalendarStep)
        short = keep.approx_days() < step.approx_days()
    if short:
        raise PolicyError(
            f"retention={policy.retention!r} is shorter than one interval "
            f"({policy.interval!r}): every partition would expire as soon as it is created"
        )


def _check_anchor(policy: Any, step: CalendarStep | int) -> None:
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
