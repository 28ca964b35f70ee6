"""Executes roll plans against a live database without blocking it.

Each step runs in its own short transaction under ``lock_timeout``; a lock timeout is
retried with backoff, then reported. Tables are independent: one table's failure does not
stop the others, and a per-table advisory lock makes concurrent runs skip each other.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg import errors as pgerrors

from .. import sql
from ..catalog.snapshot import Parent, Snapshot, managed_range_parents, parse_catalog, read_snapshot
from ..declaration.policies import Range
from ..errors import SqlaPartitionError
from ..planning.roll import Plan, Step, plan, position_from_clock
from .messages import NotOurs, backlog_message, not_ours
from .results import LockBudgetExhausted, RollOptions, RollReport, TableResult
from .table_lock import take_table

Log = Callable[[str], None]


def query_of(conn: psycopg.Connection) -> Callable[[str], list[tuple[Any, ...]]]:
    def run(q: str) -> list[tuple[Any, ...]]:
        return conn.execute(q).fetchall()  # type: ignore[arg-type]

    return run


def select_tables(snap: Snapshot, wanted: Sequence[str]) -> tuple[list[Parent], list[str]]:
    """Managed range tables to roll, and warnings; a named table that is not managed is an
    error, raised before anything changes."""
    managed = managed_range_parents(snap)
    warnings = [
        f"{s}.{t}: a policy is recorded but the table does not exist"
        for (s, t) in snap.policies
        if (s, t) not in snap.parents
    ]
    for parent in managed:
        assert parent.policy is not None
        policy = parent.policy.policy
        assert isinstance(policy, Range)
        if parent.key_columns != (policy.column,):
            raise SqlaPartitionError(
                f"{parent.schema}.{parent.name}: the recorded policy partitions by "
                f"{policy.column!r} but the table is partitioned by "
                f"{', '.join(parent.key_columns)}; fix the policy with a migration"
            )
        if parent.key_type != parent.policy.key_type:
            raise SqlaPartitionError(
                f"{parent.schema}.{parent.name}: the recorded key type is "
                f"{parent.policy.key_type} but {policy.column!r} is {parent.key_type}"
            )
    if not wanted:
        return managed, warnings
    by_name = {}
    for p in managed:
        by_name[f"{p.schema}.{p.name}"] = p
        by_name.setdefault(p.name, p)
    chosen = []
    for name in wanted:
        if name not in by_name:
            known = ", ".join(sorted(f"{p.schema}.{p.name}" for p in managed)) or "none"
            raise SqlaPartitionError(
                f"{name}: not a range-partitioned table managed by sqla-partition "
                f"(managed: {known})"
            )
        chosen.append(by_name[name])
    return chosen, warnings


def plan_table(
    conn: psycopg.Connection, parent: Parent, now: dt.datetime, horizon: dt.datetime | None
) -> Plan:
    assert parent.policy is not None
    policy = parent.policy
    if policy.key_type == "integer":
        assert isinstance(policy.policy, Range)
        row = conn.execute(  # type: ignore[call-overload]
            sql.max_key_query(parent.name, policy.policy.column, parent.schema)
        ).fetchone()
        position: Any = row[0] if row and row[0] is not None else 0
        return plan(policy, parent, position)
    position = position_from_clock(policy, now)
    limit = position_from_clock(policy, horizon) if horizon is not None else None
    return plan(policy, parent, position, horizon=limit)


def group_statements(step: Step, options: RollOptions) -> tuple[list[sql.Statement], bool]:
    """The statements of a step with their settings, and whether they form a transaction."""
    lock, limit = options.lock_timeout_ms, options.statement_timeout_ms
    if all(s.transactional for s in step.statements):
        settings = [*sql.timeouts(lock, limit), sql.relaxed_commit()]
        return [*settings, *step.statements], True
    return [*_session_settings(options), *step.statements, *_SESSION_RESETS], False


def _session_settings(options: RollOptions) -> list[sql.Statement]:
    """Settings around statements PostgreSQL runs outside a transaction."""
    lock, limit = options.lock_timeout_ms, options.statement_timeout_ms
    return [*sql.timeouts(lock, limit, local=False), sql.relaxed_commit(local=False)]


_SESSION_RESETS = [*sql.reset_timeouts(local=False), sql.reset_relaxed_commit()]


def annotated_sql(step: Step, options: RollOptions) -> str:
    """The step as a DBA reads it: transaction boundaries, timeouts, lock comments."""
    statements, transaction = group_statements(step, options)
    body = "\n".join(s.annotated() + ";" for s in statements)
    return f"BEGIN;\n{body}\nCOMMIT;" if transaction else body


class Roller:
    """Runs the plans of one roll on one connection."""

    def __init__(self, conn: psycopg.Connection, options: RollOptions, log: Log | None = None):
        self.conn = conn
        self.options = options
        self._default_rows = 0
        self.log = log or (lambda _msg: None)

    # -- statement execution -----------------------------------------------------------

    def _execute(self, stmt: sql.Statement, result: TableResult) -> None:
        self.log(stmt.annotated())
        cur = self.conn.execute(stmt.sql)  # type: ignore[call-overload]
        if stmt.moves_rows and cur.rowcount > 0:
            result.moved_rows += cur.rowcount

    def _attempt(self, step: Step, result: TableResult) -> None:
        statements, transaction = group_statements(step, self.options)
        if transaction:
            # one round trip for the whole transaction: the server's work is the floor
            moves = []
            started = time.monotonic()
            with self.conn.pipeline(), self.conn.transaction():
                for stmt in statements:
                    self.log(stmt.annotated())
                    cur = self.conn.execute(stmt.sql)  # type: ignore[call-overload]
                    if stmt.moves_rows:
                        moves.append(cur)
            result.moved_rows += sum(max(cur.rowcount, 0) for cur in moves)
            if any(stmt.holds_writers for stmt in statements):
                held = time.monotonic() - started  # queued writers wait from its request on
                result.longest_write_hold_s = max(result.longest_write_hold_s, held)
            return
        for stmt in _session_settings(self.options):
            self._execute(stmt, result)
        try:
            for stmt in step.statements:
                self._execute(stmt, result)
        finally:
            for stmt in _SESSION_RESETS:
                self._execute(stmt, result)
            bound_session(self.conn, self.options)  # RESET went back to the role's values

    def run_statements(
        self,
        statements: Sequence[sql.Statement],
        result: TableResult,
        retry_with: Callable[[], Sequence[sql.Statement]] | None = None,
    ) -> None:
        """Run one group, retrying lock timeouts with exponential backoff and jitter."""
        opts = self.options
        for attempt in range(opts.retries + 1):
            started = time.monotonic()
            try:
                self._attempt(Step("group", "", tuple(statements)), result)
                return
            except pgerrors.LockNotAvailable:
                waited = time.monotonic() - started
                result.longest_lock_wait_s = max(result.longest_lock_wait_s, waited)
                if attempt == opts.retries:
                    raise LockBudgetExhausted(
                        f"could not get a lock within {opts.lock_timeout_ms} ms after "
                        f"{opts.retries + 1} attempts"
                    ) from None
                result.lock_retries += 1
                delay = opts.backoff_s * (2**attempt) * (0.5 + random.random())
                self.log(f"-- lock timeout; retrying in {delay:.2f} s")
                time.sleep(delay)
                if retry_with is not None:
                    statements = retry_with()

    # -- steps -------------------------------------------------------------------------

    def _backlog(self, parent: Parent, step: Step) -> int:
        """Rows of the step's period waiting in the DEFAULT partition, counted only when the
        whole DEFAULT holds more than one step may move (0 otherwise)."""
        default, policy = parent.default, parent.policy
        if default is None or policy is None or not isinstance(policy.policy, Range):
            return 0
        if self._default_rows <= self.options.max_move_rows:
            return 0
        count_sql = sql.count_in_range_query(
            default.name,
            policy.policy.column,
            step.lower,
            step.upper,
            policy.key_type,
            parent.schema,
        )
        return int(self.conn.execute(count_sql).fetchone()[0])  # type: ignore[call-overload,index]

    def _detach_retry(self, parent: Parent, step: Step) -> Callable[[], list[sql.Statement]]:
        """After a timed-out DETACH CONCURRENTLY, a retry must FINALIZE if it went pending."""

        def statements() -> list[sql.Statement]:
            row = self.conn.execute(  # type: ignore[call-overload]
                sql.partition_state_query(parent.name, step.partition, parent.schema)
            ).fetchone()
            if row is not None and row[0]:
                return [sql.detach_finalize(parent.name, step.partition, parent.schema)]
            if row is None:
                return []
            return list(step.statements)

        return statements

    def run_step(self, parent: Parent, step: Step, result: TableResult) -> None:
        statements = step.statements
        if step.kind == "create" and parent.default is not None and not self._default_rows:
            # the DEFAULT was empty when counted: skip the move; should a row of this range
            # have arrived since, ATTACH refuses (check_violation) and the full step runs
            fast = _without_move([step])
            try:
                self.run_statements(fast, result)
                result.record(step)
                return
            except pgerrors.CheckViolation:
                self.log("-- rows arrived in the DEFAULT partition; moving them first")
            except pgerrors.DuplicateTable:
                raise NotOurs(not_ours(parent, step)) from None
        elif step.kind == "create" and parent.default is not None:
            waiting = self._backlog(parent, step)
            if waiting > self.options.max_move_rows:
                # moving them holds the table's writers for as long as the move takes: the
                # operator chooses when; the rows stay in the DEFAULT, visible, meanwhile
                if result.status == "ok":
                    result.status = "backlog"
                result.errors.append(backlog_message(parent, step, waiting, self.options))
                return
        retry = self._detach_retry(parent, step) if step.kind == "detach" else None
        try:
            self.run_statements(statements, result, retry)
        except pgerrors.DuplicateTable:
            raise NotOurs(not_ours(parent, step)) from None
        result.record(step)

    def _count_default(self, parent: Parent, steps: Sequence[Step]) -> int:
        if parent.default is None or not any(s.kind == "create" for s in steps):
            return 0
        return int(
            self.conn.execute(  # type: ignore[call-overload,index]
                sql.default_rows_query(parent.default.name, parent.schema)
            ).fetchone()[0]
        )

    def _as_run(self, the_plan: Plan, default_rows: int) -> list[Step]:
        """The steps as they will run, new partitions grouped as :meth:`_create_in_groups`
        groups them, so a dry run prints exactly what runs (unless rows arrive meanwhile)."""
        steps = list(the_plan.steps)
        if not steps or default_rows > 0:
            return steps
        creates = [s for s in steps if s.kind == "create"]
        size = self.options.create_group
        groups = [
            Step("group", "", _without_move(creates[i : i + size]))
            for i in range(0, len(creates), size)
        ]
        finalize = [s for s in steps if s.kind == "finalize_detach"]
        others = [s for s in steps if s.kind not in ("create", "finalize_detach")]
        return [*groups, *finalize, *others]

    def _create_in_groups(
        self, parent: Parent, steps: list[Step], result: TableResult
    ) -> list[Step]:
        """Create consecutive new partitions a few per transaction; returns the other steps.

        Fewer commits make a catch-up or a premake change cheap; a group holds the DEFAULT
        partition's lock (if any) for a few ATTACHes, milliseconds. A row that arrived in
        the DEFAULT meanwhile makes ATTACH refuse; that group then goes step by step, with
        the move.
        """
        creates = [s for s in steps if s.kind == "create"]
        rest = [s for s in steps if s.kind != "create"]
        leftover: list[Step] = []
        size = self.options.create_group
        for i in range(0, len(creates), size):
            group = creates[i : i + size]
            statements = _without_move(group)
            try:
                self.run_statements(statements, result)
            except pgerrors.CheckViolation:
                self.log("-- rows arrived in the DEFAULT partition; moving them first")
                leftover.extend(group)
                continue
            except pgerrors.DuplicateTable:  # one of them exists: step by step says which
                leftover.extend(group)
                continue
            for step in group:
                result.record(step)
        finalize = [s for s in rest if s.kind == "finalize_detach"]
        others = [s for s in rest if s.kind != "finalize_detach"]
        return [*finalize, *leftover, *others]

    def _reread(self, parent: Parent) -> Parent:
        """This table's partitions as they are now; its policy is the one already read."""
        rows = self.conn.execute(  # type: ignore[call-overload]
            sql.catalog_query(parent.schema, parent.name)
        ).fetchall()
        fresh = parse_catalog(rows).parents.get((parent.schema, parent.name))
        if fresh is None:
            return parent
        return dataclasses.replace(fresh, policy=parent.policy)

    def roll_table(self, parent: Parent, now: dt.datetime) -> TableResult:
        result = TableResult(f"{parent.schema}.{parent.name}", (parent.schema, parent.name))
        try:
            the_plan = plan_table(self.conn, parent, now, self.options.horizon)
        except pgerrors.LockNotAvailable as exc:  # max(key) of an integer key waited too long
            result.status = "locked"
            result.errors.append(_one_line(exc))
            return result
        if self.options.dry_run or not the_plan.steps:
            result.notes.extend(the_plan.notes)
            default_rows = self._count_default(parent, the_plan.steps)
            self._default_rows = default_rows
            for step in the_plan.steps:
                waiting = self._backlog(parent, step) if step.kind == "create" else 0
                if waiting > self.options.max_move_rows:
                    result.notes.append(backlog_message(parent, step, waiting, self.options))
            as_run = self._as_run(the_plan, default_rows)
            result.sql = [annotated_sql(s, self.options) for s in as_run]
            if result.sql and parent.default is not None:
                fact = sql.default_fact(parent.name, parent.default.name, empty=not default_rows)
                result.sql.insert(0, fact)
            for step in the_plan.steps:
                result.record(step)
            return result
        holder = take_table(
            self.conn,
            parent.name,
            parent.schema,
            self.options.wait_for_other_s,
            restore=lambda: bound_session(self.conn, self.options),
            log=self.log,
        )
        if holder is not None:
            result.status = "skipped"
            result.skipped = holder
            return result
        try:
            # a run that held the lock until now may have done the work: plan again
            parent = self._reread(parent)
            the_plan = plan_table(self.conn, parent, now, self.options.horizon)
            self._default_rows = self._count_default(parent, the_plan.steps)
            result.notes.extend(the_plan.notes)
            steps = list(the_plan.steps)
            if self._default_rows == 0:  # nothing to move: new partitions go in small groups
                steps = self._create_in_groups(parent, steps, result)
            for step in steps:
                self.run_step(parent, step, result)
        except LockBudgetExhausted as exc:
            result.status = "locked"
            result.errors.append(str(exc))
        except NotOurs as exc:
            result.status = "failed"
            result.errors.append(str(exc))
        except pgerrors.LockNotAvailable as exc:  # a read waited past lock_timeout
            result.status = "locked"
            result.errors.append(_one_line(exc))
        except psycopg.Error as exc:
            if self.conn.broken:
                raise  # the connection is gone: the caller stops the run
            result.status = "failed"
            result.errors.append(_one_line(exc))
        finally:
            if not self.conn.closed:
                self.conn.execute(  # type: ignore[call-overload]
                    sql.advisory_unlock(parent.name, parent.schema)
                )
        return result


def _without_move(steps: Sequence[Step]) -> tuple[sql.Statement, ...]:
    """The steps' quiet forms (the DEFAULT partition is empty: nothing moves) in one
    transaction: every new table first, then the parent lock (once), then the ATTACHes, so
    writers are held only for the ATTACHes."""
    before: list[sql.Statement] = []
    hold: list[sql.Statement] = []
    after: list[sql.Statement] = []
    for step in steps:
        kept = list(step.quiet or step.statements)
        at = next((i for i, stmt in enumerate(kept) if stmt.holds_writers), None)
        if at is None:
            before += kept
            continue
        before += kept[:at]
        hold = hold or [kept[at]]
        after += kept[at + 1 :]
    return (*before, *hold, *after)


def bound_session(conn: psycopg.Connection, options: RollOptions | None = None) -> None:
    """Bound every wait of this session, reads included; steps set their own as well."""
    options = options or RollOptions()
    for stmt in sql.timeouts(options.lock_timeout_ms, options.statement_timeout_ms, local=False):
        conn.execute(stmt.sql)  # type: ignore[call-overload]


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def roll(
    conn: psycopg.Connection,
    now: dt.datetime,
    options: RollOptions | None = None,
    log: Log | None = None,
) -> RollReport:
    """Bring every managed range table in line with its policy at ``now``."""
    options = options or RollOptions()
    started = time.monotonic()
    report = RollReport(now=now, dry_run=options.dry_run)
    bound_session(conn, options)
    snap = read_snapshot(query_of(conn))
    if snap.read_only:
        report.standby = True
        return report
    parents, report.warnings = select_tables(snap, options.tables)
    roller = Roller(conn, options, log)
    for parent in parents:
        try:
            report.tables.append(roller.roll_table(parent, now))
        except psycopg.Error as exc:  # the connection broke: the next run carries on
            name = f"{parent.schema}.{parent.name}"
            report.tables.append(TableResult(name, status="failed", errors=[_one_line(exc)]))
            break
    done = [t.key for t in report.tables if t.status == "ok"]
    if done and not options.dry_run and not conn.broken:
        try:
            conn.execute(sql.mark_rolled_many(done).sql)  # type: ignore[arg-type]
        except psycopg.Error as exc:
            report.warnings.append(
                f"could not record when the tables were rolled: {_one_line(exc)}"
            )
    report.duration_s = time.monotonic() - started
    return report
