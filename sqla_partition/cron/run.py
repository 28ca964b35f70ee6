"""One run of ``roll`` over every managed range table: read once, then table by table."""

from __future__ import annotations

import datetime as dt
import time

import psycopg

from .. import sql
from ..catalog.snapshot import find_tool_schema, read_snapshot
from .messages import session_role
from .parallel import Connect, roll_tables
from .results import RollOptions, RollReport
from .runner import Log, Roller
from .session import (
    backfill,
    below_deadlock_timeout,
    bound_session,
    ensure_keys,
    ensure_record,
    one_line,
    policy_writers,
)
from .table_lock import read_keys
from .tables import (
    query_of,
    record_detached_ones,
    recorded_partitions,
    select_tables,
    waiting_since,
)
from .unchanged import applies, keep_states, left_alone, read_unchanged, states_to_write


def roll(
    conn: psycopg.Connection,
    now: dt.datetime,
    options: RollOptions | None = None,
    log: Log | None = None,
    connect: Connect | None = None,
) -> RollReport:
    """Bring every managed range table in line with its policy at ``now``; ``connect``
    opens the further connections of ``options.jobs``."""
    options = below_deadlock_timeout(conn, options or RollOptions())
    started = time.monotonic()
    report = RollReport(now=now, dry_run=options.dry_run)
    bound_session(conn, options)
    unchanged = None
    if applies(options):
        find_tool_schema(conn.execute(sql.policy_schemas_query()).fetchone()[0])  # type: ignore[arg-type,index]
        unchanged = read_unchanged(conn, now, options.horizon)
    only = (unchanged.oids, unchanged.names) if unchanged is not None else None
    snap = read_snapshot(query_of(conn), only=only)
    if snap.read_only:
        report.standby = True
        return report
    parents, report.warnings = select_tables(snap, options.tables)
    roller = Roller(conn, options, log)
    if snap.superuser:
        roller.superuser = session_role(conn)
    if parents and not options.dry_run:
        roller.record = ensure_record(conn, report.warnings)
        ensure_keys(conn, report.warnings)
    # the record of the tables read (a table left alone keeps what it had)
    read = None if unchanged is None else [(p.schema, p.name) for p in parents]
    recorded = recorded_partitions(conn, read)
    if roller.record and not options.dry_run:
        # only tables with a partition the record lacks: a run that finds every one
        # recorded (each run after the first) costs no write
        unrecorded = [
            p for p in parents if any((c.schema, c.name) not in recorded for c in p.children)
        ]
        if unrecorded:
            backfill(conn, unrecorded, report.warnings)
            recorded = recorded_partitions(conn, read)
    if roller.record and not options.dry_run:
        recorded = record_detached_ones(conn, snap, recorded, report.warnings, read)
    roller.owned = frozenset(k for k, state in recorded.items() if state == "attached")
    writable = policy_writers(conn)
    if writable:
        report.warnings.append(writable)
        roller.expire = False
    roller.since = waiting_since(conn, parents)
    if parents:
        unkeyed = [] if options.dry_run else [(p.schema, p.name) for p in parents]
        roller.keys = read_keys(conn, unkeyed)
    report.tables = roll_tables(
        roller, parents, now, jobs=options.jobs, connect=connect, warnings=report.warnings
    )
    if unchanged is not None:
        report.tables += left_alone(unchanged.left)
        report.tables.sort(key=lambda t: t.key)
    # a backlog left for the operator is reported as such, not as an overdue roll as well
    done = [t.key for t in report.tables if t.status in ("ok", "backlog")]
    if done and not options.dry_run and not conn.broken:
        try:
            conn.execute(sql.mark_rolled_many(done).sql)  # type: ignore[arg-type]
        except psycopg.Error as exc:
            report.warnings.append(f"could not record when the tables were rolled: {one_line(exc)}")
    if applies(options) and not conn.broken:
        fingerprints = unchanged.fingerprints if unchanged is not None else {}
        keep_states(
            conn, states_to_write(parents, report.tables, fingerprints, now), report.warnings
        )
    report.duration_s = time.monotonic() - started
    return report
