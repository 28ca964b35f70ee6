"""Tables a run may leave alone: unchanged since a run found they needed nothing, and not
yet at the moment their plan may change.

A table's plan is a function of what the catalog holds for it, its policy and the clock.
The first two are fingerprinted on the server (:mod:`sql.roll_state`); the clock enters
only through the current period and retention, so a plan that was empty stays empty until
the clock reaches the end of the current period or the moment the oldest partition passes
out of retention, whichever comes first. That moment is kept, three hours early: a local
clock's position may step back by up to two hours where a zone's offset moves, and the
margin keeps every estimate on the early side.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from .. import sql
from ..catalog.snapshot import Parent
from ..declaration.periods import add, local_midnight
from ..declaration.policies import Range
from ..planning.positions import position_from_clock, retention_cutoff
from ..sql import roll_state
from ..version import __version__
from .results import RollOptions, TableResult
from .session import as_policy_owner, one_line

#: Bumped whenever what a plan depends on changes, so that states written before are void.
STATE_FORMAT = "1"
MARGIN = dt.timedelta(hours=3)


@dataclass
class Unchanged:
    """What the state read at a run's start said: the tables it may leave alone, the oids
    and names of the others, and each table's fingerprint as read."""

    left: list[tuple[str, str]] = field(default_factory=list)
    oids: list[int] = field(default_factory=list)
    names: list[tuple[str, str]] = field(default_factory=list)
    fingerprints: dict[tuple[str, str], str] = field(default_factory=dict)


def applies(options: RollOptions) -> bool:
    """A plain run of every table: a dry run shows, ``--tables`` and ``--place-default``
    plan otherwise, and ``--full`` asks for every table to be read."""
    return not (options.dry_run or options.tables or options.place or options.full)


def context() -> str:
    return f"{__version__}/{STATE_FORMAT}"


def read_unchanged(
    conn: psycopg.Connection, now: dt.datetime, horizon: dt.datetime | None
) -> Unchanged | None:
    """``None`` where no state can be kept or read (the run reads every table, as the
    run before this feature did: a state it cannot read never stops a roll)."""
    if not _ensure_state(conn):
        return None
    until = max(now, horizon) if horizon is not None else now
    try:
        with conn.transaction():  # a lock timeout here leaves the session usable
            query = roll_state.state_query(now, until, context())
            rows = conn.execute(query).fetchall()  # type: ignore[arg-type]
    except psycopg.Error:
        return None
    out = Unchanged()
    for schema, name, oid, fingerprint, unchanged in rows:
        key = (schema, name)
        if unchanged:
            out.left.append(key)
            continue
        out.names.append(key)
        if oid is not None:
            out.oids.append(int(oid))
        if fingerprint is not None:
            out.fingerprints[key] = fingerprint
    return out


def _ensure_state(conn: psycopg.Connection) -> bool:
    """The state table exists, made now as the policies' owner where there are policies
    (a database migrated by an earlier version); ``False`` where this role cannot make it:
    every table is then read, as before."""
    if conn.execute(roll_state.state_table_exists_query()).fetchone()[0]:  # type: ignore[arg-type,index]
        return True
    if not conn.execute(sql.record_exists_query()).fetchone()[1]:  # type: ignore[arg-type,index]
        return False  # no policies: nothing to roll
    try:
        as_policy_owner(conn, roll_state.create_state_table())
    except psycopg.Error:
        return False
    return True


def keep_states(
    conn: psycopg.Connection,
    rows: Sequence[tuple[str, str, str, dt.datetime, dt.datetime]],
    warnings: list[str],
) -> None:
    """Written in statements of a thousand tables; a failure only costs the next run a
    full read."""
    try:
        for i in range(0, len(rows), 1000):
            conn.execute(roll_state.write_states(rows[i : i + 1000]).sql)  # type: ignore[call-overload]
    except psycopg.Error as exc:
        warnings.append(f"could not record which tables need nothing until when: {one_line(exc)}")


def left_alone(keys: Sequence[tuple[str, str]]) -> list[TableResult]:
    return [TableResult(f"{s}.{t}", (s, t), unchanged=True) for s, t in keys]


def _clock_of(parent: Parent, value: Any) -> dt.datetime:
    """An estimate of the moment the clock's position reaches ``value`` (a key value)."""
    assert parent.policy is not None
    stepper = parent.policy.stepper()
    if isinstance(value, int):  # an epoch column
        return stepper.instant_of(value)
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=stepper.zone)
    return local_midnight(value, stepper.zone)


def due_at(parent: Parent, now: dt.datetime) -> dt.datetime | None:
    """The moment, three hours early, from which ``parent``'s plan (empty at ``now``) may
    change; ``None`` where it cannot be told from the clock (an integer key, whose position
    is its rows) or is less than the margin away."""
    policy = parent.policy
    if policy is None or policy.by_data or not isinstance(policy.policy, Range):
        return None
    p = policy.policy
    stepper = policy.stepper()
    position = position_from_clock(policy, now)
    current = stepper.period_of(position)
    due = _clock_of(parent, current.upper)
    uppers = [c.upper for c in parent.ranges() if c.upper is not None]
    oldest = min(uppers) if uppers else None  # type: ignore[type-var]
    if oldest is not None and p.retention_step is not None:
        if p.epoch:
            expires = add(stepper.instant_of(oldest), p.retention_step, p.timezone)  # type: ignore[arg-type]
        else:
            expires = _clock_of(parent, add(oldest, p.retention_step, p.timezone))
        due = min(due, expires)  # type: ignore[type-var,assignment]
    due = due - MARGIN
    if due <= now:
        return None
    # the estimate checked where it is used: at ``due`` the plan's inputs are still those
    # of ``now`` (else the table is read every run, as before)
    at_due = position_from_clock(policy, due)
    if not current.lower <= at_due < current.upper:  # type: ignore[operator]
        return None
    if oldest is not None:
        cutoff = retention_cutoff(policy, at_due)
        if cutoff is not None and cutoff >= oldest:  # type: ignore[operator]
            return None
    return due.astimezone(dt.timezone.utc)


def _quiet(parent: Parent) -> bool:
    """A table whose plan reads nothing beyond its catalog rows and the clock: no rows in
    a DEFAULT, no partition partitioned in turn, no gap among its partitions (where the
    record of archives and placed partitions decides what is made again)."""
    if parent.default is not None and not parent.default_empty:
        return False
    if parent.default_locked or parent.sub_partitions:
        return False
    if any(c.is_partitioned for c in parent.children):
        return False
    ranges = sorted(
        (c for c in parent.ranges() if c.lower is not None and c.upper is not None),
        key=lambda c: c.lower,
    )
    return all(a.upper == b.lower for a, b in zip(ranges, ranges[1:], strict=False))


def states_to_write(
    parents: Sequence[Parent],
    results: Sequence[TableResult],
    fingerprints: dict[tuple[str, str], str],
    now: dt.datetime,
) -> list[tuple[str, str, str, dt.datetime, dt.datetime]]:
    """The tables a run found needing nothing (status ok, nothing done, nothing to say),
    each with the fingerprint read at the run's start and its due moment."""
    by_key = {(p.schema, p.name): p for p in parents}
    out = []
    for result in results:
        parent = by_key.get(result.key)
        fingerprint = fingerprints.get(result.key)
        if parent is None or fingerprint is None or not _idle(result) or not _quiet(parent):
            continue
        due = due_at(parent, now)
        if due is not None:
            out.append((parent.schema, parent.name, fingerprint, now, due))
    return out


def _idle(result: TableResult) -> bool:
    return (
        result.status == "ok"
        and not result.changed
        and not (result.finalized or result.unlinked or result.expired_rows)
        and not (result.deleted_rows or result.errors or result.notes or result.sql)
    )
