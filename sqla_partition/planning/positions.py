"""Where a table's key stands: the clock as a key value, the ISO strings of a migration
file as key values, a new table's first window, and where retention begins."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from ..declaration.periods import KeyValue, subtract
from ..declaration.policies import Range, TablePolicy
from ..errors import PolicyError


def position_from_clock(policy: TablePolicy, now: dt.datetime) -> KeyValue:
    """Where ``now`` falls on a time key, in the key's own type."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    assert isinstance(policy.policy, Range)
    if policy.key_type == "timestamptz":
        return now.astimezone(dt.timezone.utc)
    if policy.policy.epoch:
        return policy.stepper().key_of(now.astimezone(dt.timezone.utc))
    local = now.astimezone(policy.stepper().zone)
    if policy.key_type == "timestamp":
        return local.replace(tzinfo=None)
    if policy.key_type == "date":
        return local.date()
    raise ValueError("integer keys have no clock position; pass the key's current value")


def coerce_key(policy: TablePolicy, value: KeyValue | str) -> KeyValue:
    """Accept the ISO strings a migration file carries for ``start``/``until`` (for an
    epoch column, an integer or an ISO date or time)."""
    epoch = isinstance(policy.policy, Range) and policy.policy.epoch
    if epoch and isinstance(value, (str, dt.date)):
        plain = replace(policy.policy, epoch=None, subpartition=None)
        time_key = TablePolicy(policy.table, plain, "timestamptz")
        try:
            return coerce_key(policy, int(value))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            instant = coerce_key(time_key, value)
        return policy.stepper().key_of(instant)  # type: ignore[arg-type]
    if isinstance(value, str):
        text = value.strip()
        try:
            if policy.key_type == "integer":
                return int(text)
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            raise PolicyError(
                f"{policy.table}: cannot read {value!r} as a {policy.key_type} value; "
                "use an ISO date such as '2026-11-01'"
            ) from None
        value = parsed
    if policy.key_type == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise PolicyError(f"{policy.table}: integer key needs an integer, got {value!r}")
        return value
    if isinstance(value, int):
        raise PolicyError(f"{policy.table}: time key needs a date, got {value!r}")
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    zone = policy.stepper().zone
    if policy.key_type == "timestamptz":
        if value.tzinfo is None:
            value = value.replace(tzinfo=zone)
        return value.astimezone(dt.timezone.utc)
    if value.tzinfo is not None:
        value = value.astimezone(zone).replace(tzinfo=None)
    return value if policy.key_type == "timestamp" else value.date()


def initial_window(policy: TablePolicy, position: KeyValue) -> tuple[KeyValue, KeyValue]:
    """``(start, until)`` for a new table: the current period through ``premake`` ahead."""
    assert isinstance(policy.policy, Range)
    stepper = policy.stepper()
    current = stepper.period_of(position)
    last = stepper.following(current, policy.policy.premake)
    return current.lower, last.upper


def retention_cutoff(policy: TablePolicy, position: KeyValue) -> KeyValue | None:
    """Where retention starts at ``position``: periods ending at or before it expire."""
    p = policy.policy
    if not isinstance(p, Range) or p.retention_step is None:
        return None
    if p.epoch:  # on the calendar, then back into the column's units
        stepper = policy.stepper()
        instant = stepper.instant_of(position)  # type: ignore[arg-type]
        return stepper.key_of(subtract(instant, p.retention_step, p.timezone))  # type: ignore[arg-type]
    return subtract(position, p.retention_step, p.timezone)
