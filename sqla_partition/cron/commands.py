"""The cron path behind ``roll``, ``status`` and ``check``: psycopg only, no SQLAlchemy.

What only ``status``, ``check`` or ``reattach`` use is imported by them: ``roll``, the
command cron runs most, loads no more than it needs."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..catalog.connect import connect
from ..declaration.schedule import next_run, too_sparse
from ..errors import SqlaPartitionError
from ..sql.statement import inert
from . import report as reporting
from .results import RollOptions
from .run import roll
from .session import below_deadlock_timeout

Echo = Callable[..., None]


def run_roll(
    now: dt.datetime,
    *,
    database_url: str | None,
    tables: Sequence[str],
    dry_run: bool,
    as_json: bool,
    lock_timeout_ms: int,
    statement_timeout_ms: int = 600_000,
    retries: int,
    max_move_rows: int = 100_000,
    wait_for_other_s: float = 60.0,
    schedule: str | None,
    metrics: Path | None,
    verbose: bool,
    echo: Echo,
    place: str | None = None,
    jobs: int = 1,
    full: bool = False,
) -> int:
    """One roll; returns the exit code."""
    horizon = next_run(schedule, now) if schedule else None
    options = RollOptions(
        lock_timeout_ms=lock_timeout_ms,
        statement_timeout_ms=statement_timeout_ms,
        retries=retries,
        max_move_rows=max_move_rows,
        wait_for_other_s=wait_for_other_s,
        tables=tuple(tables),
        dry_run=dry_run,
        horizon=horizon,
        place=place,
        jobs=jobs,
        full=full,
    )
    log = (lambda msg: echo(msg, err=True)) if verbose else None
    try:
        with connect(database_url or "") as conn:
            result = roll(conn, now, options, log, lambda: connect(database_url or ""))
            gauges = _gauges(conn, now, tables) if metrics and not result.standby else {}
    except Exception:  # no run at all (no connection, a refusal): the metrics say so too
        if metrics and not dry_run:
            reporting.write_failure_metrics(metrics)
        raise
    if as_json:
        echo(reporting.as_json(result))
    elif dry_run:
        echo(reporting.dry_run_sql(result))
        echo(reporting.summary(result), err=True)
    else:
        echo(reporting.summary(result))
    if metrics and not dry_run:
        reporting.write_metrics(metrics, result, gauges)
    return result.exit_code


def _gauges(conn: Any, now: dt.datetime, tables: Sequence[str]) -> dict[str, dict[str, float]]:
    from .status import collect

    statuses = collect(conn, now, tables).statuses
    out: dict[str, dict[str, float]] = {}
    for s in statuses:
        values: dict[str, float] = {}
        if isinstance(s.coverage_until, dt.datetime):
            values["coverage_until_seconds"] = s.coverage_until.timestamp()
        elif isinstance(s.coverage_until, dt.date):
            values["coverage_until_seconds"] = dt.datetime.combine(
                s.coverage_until, dt.time(), dt.timezone.utc
            ).timestamp()
        if s.default_rows is not None:
            values["default_rows"] = float(s.default_rows)
        if s.rolled_at is not None:
            values["last_success_seconds"] = s.rolled_at.timestamp()
        out[s.table] = values
    return out


class _Stop(Exception):
    """SIGTERM arrived while waiting for the next run."""


def run_every(cron: str, **kwargs: Any) -> int:
    """Roll on a cron schedule until stopped.

    SIGTERM or Ctrl-C during the wait ends it at once; during a roll, the roll finishes
    first (a roll is made of short transactions, so that is quick).
    """
    echo: Echo = kwargs["echo"]
    state = {"stop": False, "waiting": False}

    def _term(signum: int, _frame: Any) -> None:
        state["stop"] = True
        if state["waiting"]:
            raise _Stop

    signal.signal(signal.SIGTERM, _term)
    last = 0
    while not state["stop"]:
        due = next_run(cron, dt.datetime.now(dt.timezone.utc))
        echo(f"next roll at {due.isoformat()}", err=True)
        try:
            state["waiting"] = True
            while (left := (due - dt.datetime.now(dt.timezone.utc)).total_seconds()) > 0:
                time.sleep(min(30.0, left))
        except (_Stop, KeyboardInterrupt):
            break
        finally:
            state["waiting"] = False
        try:
            last = run_roll(dt.datetime.now(dt.timezone.utc), **kwargs)
        except SqlaPartitionError as exc:  # e.g. the server is restarting: try next time
            echo(f"error: {exc}", err=True)
            last = 2
    echo("stopped", err=True)
    return last


def run_status(
    database_url: str | None,
    now: dt.datetime,
    tables: Sequence[str],
    as_json: bool,
    echo: Echo,
) -> None:
    from .list_status import list_lines
    from .status import LEGEND, stream

    def say(line: str) -> None:  # a name with a line break stays on its line
        echo(inert(line))

    with connect(database_url or "") as conn:
        statuses, warnings, parents, citus, lists = stream(conn, now, tables)
        if as_json:  # one array, written an element at a time as each table is read
            shown = (s.as_dict() for s in statuses)
            extra = [{"citus": c.as_dict()} for c in citus] + [{"list": s.as_dict()} for s in lists]
            first = True
            for element in itertools.chain(shown, extra):
                text = json.dumps(element, indent=2, default=str).replace("\n", "\n  ")
                echo(("[\n  " if first else ",\n  ") + text, nl=False)
                first = False
            echo("[]" if first else "\n]")
            _warn(warnings, echo)
            return
        if not parents and not citus and not lists:
            say("No partitioned tables are managed by sqla-partition here.")
        for s in lists:
            for line in list_lines(s):
                say(line)
        for s in statuses:
            for line in _status_lines(s):
                say(line)
    if parents:
        say(f"({LEGEND})")
    for c in citus:  # on a Citus cluster: how each managed table is spread
        say(f"{c.table}  {c.policy}" if c.declared_shards is not None else f"{c.table}")
        say(f"  on Citus: {c.line()}")
    _warn(warnings, echo)


def _warn(warnings: Sequence[str], echo: Echo) -> None:
    for w in warnings:
        echo(inert(f"warning: {w}"), err=True)


def _status_lines(s: Any) -> Iterator[str]:
    """One range table's status as text."""
    yield f"{s.table}  {s.policy}"
    until = _key_text(s.coverage_until) if s.coverage_until is not None else "nothing"
    default = "no DEFAULT" if s.default_rows is None else f"{s.default_rows} rows in DEFAULT"
    if s.default_busy:
        default = "DEFAULT busy (another session holds it)"
    expiry = _key_text(s.next_expiry) if s.next_expiry is not None else "never"
    rolled = s.rolled_at.isoformat(timespec="seconds") if s.rolled_at else "never"
    yield f"  {s.partitions} partitions, covered until {until}, {default}"
    yield f"  next expiry {expiry}, last rolled {rolled}"
    yield f"  timeline from {s.timeline_start}: {s.timeline}"
    if s.missing:
        yield f"  missing: {', '.join(s.missing)}"
    if s.default_by_period or any(s.default_outside):
        where = [f"{suffix} {n}" for suffix, n in s.default_by_period]
        before, after = s.default_outside
        where += [f"{before} before {s.timeline_start}"] if before else []
        where += [f"{after} after the timeline"] if after else []
        yield f"  rows in DEFAULT by period: {', '.join(where)}"
    if s.foreign_expired:
        yield (
            "  past retention, not made by sqla-partition (left attached): "
            f"{', '.join(s.foreign_expired)}"
        )
    if s.pending_detach:
        yield f"  detach pending (interrupted; roll finishes it): {', '.join(s.pending_detach)}"
    if s.overdue_expiry:
        late = ", ".join(f"{name} (since {day})" for name, day in s.overdue_expiry)
        yield f"  past retention, still attached: {late}"
    for arch in s.archives:
        span = f"[{arch['lower']}, {arch['upper']})"
        rows = arch["rows_estimate"]
        size = f"about {rows:,} rows" if rows is not None else "not analyzed yet"
        when = arch["detached_at"] or "at an unknown time"
        yield f"  archived: {arch['name']} {span}, {size}, detached {when}"
    if s.archives:
        yield f"  (sqla-partition reattach {s.table} NAME puts an archive back)"
    if s.citus:
        yield f"  on Citus: {s.citus}"


def _key_text(value: Any) -> str:
    """A key as status shows it: ISO for times and dates, digits for integer keys."""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def run_check(
    database_url: str | None,
    now: dt.datetime,
    tables: Sequence[str],
    max_age: dt.timedelta,
    schedule: str | None,
    echo: Echo,
    *,
    allow_empty: bool = False,
) -> int:
    from .list_status import list_problems
    from .status import citus_problems, collect, nothing_managed, problems, unreachable_nodes

    with connect(database_url or "") as conn:
        statuses, warnings, parents, citus, lists = collect(conn, now, tables)
        found = problems(statuses, now, max_age) + citus_problems(citus) + list_problems(lists)
        found += unreachable_nodes(conn)
        if not statuses and not citus and not lists and not allow_empty and nothing_managed(conn):
            found.append(
                "no table is managed by sqla-partition in this database (the wrong database, "
                "or no migration applied yet?); --allow-empty if expected"
            )

        if schedule:
            for parent in parents:
                assert parent.policy is not None
                reason = too_sparse(schedule, parent.policy.policy, now)  # type: ignore[arg-type]
                if reason:
                    found.append(f"{parent.schema}.{parent.name}: {reason}")
    found += warnings
    if found:
        more = f" (+{len(found) - 1} more)" if len(found) > 1 else ""
        echo(f"CRITICAL: {inert(found[0])}{more}")
        for line in found[1:]:
            echo(f"  {inert(line)}", err=True)
        return 1
    spread = f"; {len(citus)} on Citus as declared" if citus else ""
    spread += f"; {len(lists)} list table{'s' * (len(lists) != 1)} as declared" if lists else ""
    echo(
        f"OK: {len(statuses)} table{'s' * (len(statuses) != 1)} covered through premake, "
        "DEFAULT empty, rolled "
        f"recently{spread}"
    )
    return 0


def run_reattach(
    table: str,
    archive: str,
    *,
    database_url: str | None,
    dry_run: bool,
    lock_timeout_ms: int,
    retries: int,
    verbose: bool,
    echo: Echo,
) -> int:
    """Put an archive back; returns the exit code (refusals raise, exit 2)."""
    from .archives import reattach

    options = RollOptions(lock_timeout_ms=lock_timeout_ms, retries=retries, dry_run=dry_run)
    log = (lambda msg: echo(msg, err=True)) if verbose else None
    with connect(database_url or "") as conn:
        options = below_deadlock_timeout(conn, options)
        done = reattach(conn, table, archive, options, log)
    if done.already:
        echo(f"{inert(done.archive)} is a partition of {inert(table)} already: nothing to do")
        return 0
    if dry_run:
        echo("\n\n".join(done.sql))
        return 0
    if done.skipped:
        echo(f"{inert(done.archive)}: not reattached: {done.skipped}")
        return 3
    moved = (
        f"; {done.moved_rows:,} rows of its period moved in from DEFAULT" if done.moved_rows else ""
    )
    echo(f"{inert(done.archive)} is a partition of {inert(table)} again{moved}")
    return 0


__all__ = ["run_check", "run_every", "run_reattach", "run_roll", "run_status", "sys"]
