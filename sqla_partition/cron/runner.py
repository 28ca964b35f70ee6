"""Executes roll plans against a live database without blocking it.

Each step runs in its own short transaction under ``lock_timeout``; a lock timeout is
retried with backoff, then reported. Tables are independent: one table's failure does not
stop the others, and a per-table advisory lock makes concurrent runs skip each other.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg import errors as pgerrors

from .. import sql
from ..catalog.snapshot import Parent, parse_catalog
from ..declaration.policies import Range
from ..planning.roll import Plan, Step
from ..sql.catalog import execute_one_table, one_table_statement
from .messages import (
    backlog_message,
    not_ours,
    privilege_message,
    still_referenced,
    superuser_refusal,
)
from .placing import after_placing
from .results import LockBudgetExhausted, RollOptions, TableResult
from .session import (
    bound_session,
    one_line,
)
from .table_lock import HeldTable, Keys, take_table
from .tables import owned_partitions, plan_table
from .transactions import (
    EXPIRE_KINDS,
    annotated_sql,
    detach_retry,
    expire_groups,
    group_statements,
    quiet_statements,
    session_resets,
    session_settings,
)

Log = Callable[[str], None]


class Roller:
    """Runs the plans of one roll on one connection."""

    def __init__(self, conn: psycopg.Connection, options: RollOptions, log: Log | None = None):
        self.conn = conn
        self.options = options
        self._default_rows = 0
        self.log = log or (lambda _msg: None)
        #: Whether the record of partitions exists (see :func:`ensure_record`).
        self.record = True
        #: The owner of the table being worked on, when the session is another role.
        self.role: str | None = None
        #: Whether retention may detach and drop (not while other roles can write the
        #: policies: see :func:`policy_writers`).
        self.expire = True
        #: The oldest key waiting in each table's DEFAULT partition, read for all at once.
        self.since: dict[tuple[str, str], Any] = {}
        #: The partitions the record says the tool made: the only ones retention expires.
        self.owned: frozenset[tuple[str, str]] = frozenset()
        #: Expired partitions still referenced by another table: left for a later run.
        self.kept: set[tuple[str, str]] = set()
        #: The session's role when it is a superuser (see :func:`superuser_refusal`).
        self.superuser: str | None = None
        #: The roll keys the run read at its start (None: each table reads its own).
        self.keys: Keys | None = None
        #: Whether this session prepared the statement that reads one table again.
        self._prepared = False
        # psycopg's own prepared statements are deallocated after every ALTER, and with
        # them every statement of the session: one DDL statement per table leaves none to
        # reuse, so it prepares none
        conn.prepare_threshold = None

    def sharing(self, conn: psycopg.Connection) -> Roller:
        """A roller on another connection that shares what the run read once (``--jobs``)."""
        other = Roller(conn, self.options, self.log)
        other.record, other.expire, other.since = self.record, self.expire, self.since
        other.owned, other.superuser, other.keys = self.owned, self.superuser, self.keys
        return other

    # -- statement execution -----------------------------------------------------------

    def _execute(self, stmt: sql.Statement, result: TableResult) -> None:
        self.log(stmt.annotated())
        cur = self.conn.execute(stmt.sql)  # type: ignore[call-overload]
        if stmt.moves_rows and cur.rowcount > 0:
            result.moved_rows += cur.rowcount

    def _attempt(self, step: Step, result: TableResult) -> None:
        statements, transaction = group_statements(step, self.options, self.role)
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
        for stmt in session_settings(self.options, self.role):
            self._execute(stmt, result)
        try:
            for stmt in step.statements:
                self._execute(stmt, result)
        finally:
            for stmt in session_resets(self.role):
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
            except (pgerrors.LockNotAvailable, pgerrors.DeadlockDetected):
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

    def _waiting(self, parent: Parent, step: Step) -> int:
        """Rows of a create step's period in the DEFAULT partition (0 when it is empty)."""
        default, policy = parent.default, parent.policy
        if default is None or policy is None or not isinstance(policy.policy, Range):
            return 0
        if not self._default_rows:
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

    def _form(self, parent: Parent, step: Step) -> tuple[str, int]:
        """How a create step beside a DEFAULT runs: ``quiet`` (no row of its period to move:
        only writers wait), ``move`` (its rows move in the ATTACH's transaction), or
        ``backlog`` (more than --max-move-rows: left for the operator), with the rows."""
        waiting = self._waiting(parent, step)
        if waiting == 0:
            return "quiet", 0
        if waiting > self.options.max_move_rows:
            return "backlog", waiting
        return "move", waiting

    def run_step(self, parent: Parent, step: Step, result: TableResult) -> None:
        statements = step.statements
        if step.kind == "create" and parent.default is not None:
            form, waiting = self._form(parent, step)
            if form == "quiet":
                # should a row of this period arrive meanwhile, ATTACH refuses
                # (check_violation) and the step runs again with the move
                try:
                    self.run_statements(quiet_statements([step]), result)
                    result.record(step)
                    return
                except pgerrors.CheckViolation:
                    self.log("-- rows arrived in the DEFAULT partition; moving them first")
                    form, waiting = self._form(parent, step)
                except pgerrors.DuplicateTable as exc:
                    result.status = "failed"
                    result.errors.append(not_ours(parent, step, exc))
                    return
            if form == "backlog":
                # moving them holds the table's queries for as long as the move takes: the
                # operator chooses when; the rows stay in the DEFAULT, visible, meanwhile
                if result.status == "ok":
                    result.status = "backlog"
                result.errors.append(backlog_message(parent, step, waiting, self.options))
                return
        if step.kind in EXPIRE_KINDS and (parent.schema, step.partition) in self.kept:
            return  # still referenced: its detach or drop failed above; the rest is moot
        retry = detach_retry(self.conn, parent, step) if step.kind == "detach" else None
        try:
            self.run_statements(statements, result, retry)
        except pgerrors.DuplicateTable as exc:  # this period only: the other steps go on
            result.status = "failed"
            result.errors.append(not_ours(parent, step, exc))
            return
        except (pgerrors.ForeignKeyViolation, pgerrors.DependentObjectsStillExist) as exc:
            if step.kind not in EXPIRE_KINDS or self.conn.broken:
                raise
            self.kept.add((parent.schema, step.partition))  # skipped and named
            result.notes.append(still_referenced(parent, step, exc))
            return
        result.record(step)

    def _count_default(self, parent: Parent, steps: Sequence[Step]) -> int:
        if parent.default is None or not any(s.kind == "create" for s in steps):
            return 0
        if parent.default_empty:  # no pages, no rows (a row arriving later: see run_step)
            return 0
        return int(
            self.conn.execute(  # type: ignore[call-overload,index]
                sql.default_rows_query(parent.default.name, parent.schema)
            ).fetchone()[0]
        )

    def _as_run(
        self, parent: Parent, the_plan: Plan, default_rows: int, result: TableResult
    ) -> list[Step]:
        """The steps as they will run, so a dry run prints exactly what runs (unless rows
        arrive meanwhile): new partitions grouped as :meth:`_create_in_groups` groups them
        when the DEFAULT is empty; else each in the form :meth:`_form` picks, backlogs left
        out and reported as a real run reports them."""
        steps = list(the_plan.steps)
        if steps and default_rows > 0 and parent.default is not None:
            out = []
            for step in steps:
                form, waiting = self._form(parent, step) if step.kind == "create" else ("", 0)
                if form == "backlog":
                    if result.status == "ok":
                        result.status = "backlog"
                    result.errors.append(backlog_message(parent, step, waiting, self.options))
                    continue
                if form == "quiet":
                    step = dataclasses.replace(step, statements=quiet_statements([step]))
                out.append(step)
            return out
        if not steps:
            return steps
        creates = [s for s in steps if s.kind == "create"]
        size = self.options.create_group
        groups = [
            Step("group", "", quiet_statements(creates[i : i + size]))
            for i in range(0, len(creates), size)
        ]
        finalize = [s for s in steps if s.kind == "finalize_detach"]
        others = [s for s in steps if s.kind not in ("create", "finalize_detach")]
        expiring, others = expire_groups(others, size)
        return [*groups, *finalize, *others, *expiring]

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
            statements = quiet_statements(group)
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

    def expire_now(self, parent: Parent, now: dt.datetime, result: TableResult) -> None:
        """Plan the table again as it is now and run all but its creates: partitions just
        made for rows past retention are detached (and recorded) at once."""
        parent = self._reread(parent)
        self.owned = owned_partitions(self.conn)  # with the partitions just made
        the_plan = self._plan(parent, now)  # the expiry hold applies here too
        result.notes.extend(n for n in the_plan.notes if n not in result.notes)
        for step in the_plan.steps:
            if step.kind != "create":
                self.run_step(parent, step, result)

    def _expire_group(self, parent: Parent, group: Step, result: TableResult) -> None:
        """One transaction for a few expired partitions; should one of them fail (an archive
        named like it in the archive schema), they go one by one, which names it."""
        try:
            self.run_statements(group.statements, result)
        except psycopg.Error:
            if self.conn.broken:
                raise
            for step in group.members:
                self.run_step(parent, step, result)
            return
        result.record(group)

    def _reread(self, parent: Parent) -> Parent:
        """This table's partitions as they are now; its policy is the one already read."""
        rows = self._read_one(parent)
        fresh = parse_catalog(rows).parents.get((parent.schema, parent.name))
        if fresh is None:
            return parent
        return dataclasses.replace(fresh, policy=parent.policy, citus=parent.citus)

    def _read_one(self, parent: Parent) -> list[Any]:
        """The catalog rows of one table, by the statement this session prepared (prepared
        again should something have deallocated it)."""
        prepare, name = one_table_statement()
        read = execute_one_table(name, parent.name, parent.schema)
        if self._prepared:
            try:
                return self.conn.execute(read).fetchall()  # type: ignore[call-overload]
            except pgerrors.InvalidSqlStatementName:
                pass
        with contextlib.suppress(pgerrors.DuplicatePreparedStatement):  # an earlier run's
            self.conn.execute(prepare)  # type: ignore[call-overload]
        self._prepared = True
        return self.conn.execute(read).fetchall()  # type: ignore[call-overload]

    def _plan(self, parent: Parent, now: dt.datetime, *, first: bool = False) -> Plan:
        """``first``: the plan before the table's lock, from what the run read for every
        table at its start; after the lock the table is read again."""
        opts = self.options
        key = (parent.schema, parent.name)
        known = {"since": self.since[key]} if first and key in self.since else {}
        the_plan = plan_table(
            self.conn,
            parent,
            now,
            opts.horizon,
            record=self.record,
            place=opts.place,
            owned=self.owned,
            **known,
        )
        held = [s for s in the_plan.steps if s.kind in EXPIRE_KINDS]
        if self.expire or not held:
            return the_plan
        note = (
            f"expiry held for {len(held)} step(s): the policies are writable by other roles "
            "(see the warning)"
        )
        kept = tuple(s for s in the_plan.steps if s.kind not in EXPIRE_KINDS)
        return dataclasses.replace(the_plan, steps=kept, notes=(*the_plan.notes, note))

    def _take(self, parent: Parent, result: TableResult) -> HeldTable | None:
        """The table's lock, or ``None`` with ``result`` saying why not."""
        try:
            holder = take_table(
                self.conn,
                parent.name,
                parent.schema,
                self.options.wait_for_other_s,
                restore=lambda: bound_session(self.conn, self.options),
                log=self.log,
                keys=self.keys,
            )
        except pgerrors.InsufficientPrivilege as exc:
            result.status = "failed"
            result.errors.append(privilege_message(parent, one_line(exc)))
            return None
        if isinstance(holder, str):
            result.status = "skipped"
            result.skipped = holder
            return None
        result.notes.extend(holder.notes)
        return holder

    def _without_lock(self, parent: Parent, the_plan: Plan, result: TableResult) -> TableResult:
        """A dry run, or nothing to do: what would run, without the table's lock."""
        result.notes.extend(the_plan.notes)
        default_rows = self._count_default(parent, the_plan.steps)
        self._default_rows = default_rows
        as_run = self._as_run(parent, the_plan, default_rows, result)
        result.sql = [annotated_sql(s, self.options, self.role) for s in as_run]
        if result.sql and parent.default is not None:
            fact = sql.default_fact(parent.name, parent.default.name, empty=not default_rows)
            result.sql.insert(0, fact)
        for step in as_run:
            result.record(step)
        for step in the_plan.steps:  # grouped creates
            if step.kind == "create" and not default_rows:
                result.record(step)
        return result

    def roll_table(self, parent: Parent, now: dt.datetime) -> TableResult:
        result = TableResult(f"{parent.schema}.{parent.name}", (parent.schema, parent.name))
        if self.superuser and not parent.owner_super and not self.options.dry_run:
            result.status = "failed"
            result.errors.append(superuser_refusal(parent, self.superuser))
            return result
        self.role = parent.act_as
        early: HeldTable | None = None
        if parent.default_locked and not self.options.dry_run:
            # another session holds the DEFAULT (a run moving rows): wait for that run as
            # for any other, then read the table again
            early = self._take(parent, result)
            if early is None:
                return result
        go_on = False
        try:
            if early is not None:
                parent = self._reread(parent)
            the_plan = self._plan(parent, now, first=early is None)
            if self.options.dry_run or not the_plan.steps:
                return self._without_lock(parent, the_plan, result)
            go_on = True
        except pgerrors.LockNotAvailable as exc:  # a read of the DEFAULT, or max(key) of an
            result.status = "locked"  # integer key, waited too long
            result.errors.append(one_line(exc))
            return result
        finally:
            if early is not None and not go_on:
                early.release()
        holder = early or self._take(parent, result)
        if holder is None:
            return result
        try:
            # a run that held the lock until now may have done the work: plan again, unless
            # the table's partitions are exactly as they were read
            fresh = self._reread(parent)
            if fresh.children != parent.children:
                the_plan = self._plan(fresh, now)
            parent = fresh
            self._default_rows = self._count_default(parent, the_plan.steps)
            result.notes.extend(the_plan.notes)
            steps = list(the_plan.steps)
            if self._default_rows == 0:  # nothing to move: new partitions go in small groups
                steps = self._create_in_groups(parent, steps, result)
            expiring, steps = expire_groups(steps, self.options.create_group)
            for step in steps:
                self.run_step(parent, step, result)
            for group in expiring:
                self._expire_group(parent, group, result)
            if self.options.place and result.status == "ok":
                after_placing(self, parent, now, result)
        except LockBudgetExhausted as exc:
            result.status = "locked"
            result.errors.append(str(exc))
        except pgerrors.LockNotAvailable as exc:  # a read waited past lock_timeout
            result.status = "locked"
            result.errors.append(one_line(exc))
        except pgerrors.InsufficientPrivilege as exc:
            result.status = "failed"
            result.errors.append(privilege_message(parent, one_line(exc)))
        except psycopg.Error as exc:
            if self.conn.broken:
                raise  # the connection is gone: the caller stops the run
            result.status = "failed"
            result.errors.append(one_line(exc))
        finally:
            holder.release()
        return result
