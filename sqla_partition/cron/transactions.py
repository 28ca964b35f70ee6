"""How a step's statements run: in one transaction with its timeouts, or (statements
PostgreSQL runs outside a transaction) with session settings put back afterwards; and what
``--dry-run`` prints for it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import psycopg

from .. import sql
from ..catalog.snapshot import Parent
from ..planning.roll import Step
from .results import RollOptions


def group_statements(
    step: Step, options: RollOptions, role: str | None = None
) -> tuple[list[sql.Statement], bool]:
    """The statements of a step with their settings, and whether they form a transaction;
    ``role``: the table's owner, to act as (the session is another role)."""
    lock, limit = options.lock_timeout_ms, options.statement_timeout_ms
    if all(s.transactional for s in step.statements):
        settings = [*sql.timeouts(lock, limit), sql.relaxed_commit()]
        settings += [sql.act_as(role)] if role else []
        return [*settings, *sql.merge_rows(step.statements)], True
    after = session_resets(role)
    return [*session_settings(options, role), *step.statements, *after], False


def session_settings(options: RollOptions, role: str | None = None) -> list[sql.Statement]:
    """Settings around statements PostgreSQL runs outside a transaction."""
    lock, limit = options.lock_timeout_ms, options.statement_timeout_ms
    out = [*sql.timeouts(lock, limit, local=False), sql.relaxed_commit(local=False)]
    return out + ([sql.act_as(role, local=False)] if role else [])


def session_resets(role: str | None = None) -> list[sql.Statement]:
    """Back to the session's settings after :func:`session_settings`."""
    out = [*sql.reset_timeouts(local=False), sql.reset_relaxed_commit()]
    return out + ([sql.reset_role()] if role else [])


def annotated_sql(step: Step, options: RollOptions, role: str | None = None) -> str:
    """The step as a DBA reads it: transaction boundaries, timeouts, lock comments."""
    statements, transaction = group_statements(step, options, role)
    body = "\n".join(s.annotated() + ";" for s in statements)
    return f"BEGIN;\n{body}\nCOMMIT;" if transaction else body


def quiet_statements(steps: Sequence[Step]) -> tuple[sql.Statement, ...]:
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
        after += [stmt for stmt in kept[at + 1 :] if stmt not in after]  # one DEFAULT lock
    return (*before, *hold, *after)


#: The steps that expire one partition, in their order.
EXPIRE_KINDS = ("detach", "unlink", "archive", "drop")


def expire_groups(steps: Sequence[Step], size: int) -> tuple[list[Step], list[Step]]:
    """Expired partitions ``size`` per transaction, each with the steps that follow its
    detach, as new partitions are created; ``(groups, the other steps)``. Only where every
    statement may run in a transaction: a plain DETACH (beside a DEFAULT, or on Citus),
    which holds the table's queries for milliseconds per partition; a DETACH CONCURRENTLY
    commits on its own and goes alone."""
    expiring = [s for s in steps if s.kind in EXPIRE_KINDS]
    if not expiring or not all(st.transactional for s in expiring for st in s.statements):
        return [], list(steps)
    children: dict[str, list[Step]] = {}
    for step in expiring:
        children.setdefault(step.partition, []).append(step)
    chunks = list(children.values())
    groups = []
    for i in range(0, len(chunks), size):
        members = tuple(step for chunk in chunks[i : i + size] for step in chunk)
        statements = tuple(st for step in members for st in step.statements)
        groups.append(Step("group", "", statements, members=members))
    return groups, [s for s in steps if s.kind not in EXPIRE_KINDS]


def detach_retry(
    conn: psycopg.Connection, parent: Parent, step: Step
) -> Callable[[], list[sql.Statement]]:
    """After a timed-out DETACH CONCURRENTLY, a retry must FINALIZE if it went pending, and
    only record what is detached."""

    def statements() -> list[sql.Statement]:
        row = conn.execute(  # type: ignore[call-overload]
            sql.partition_state_query(parent.name, step.partition, parent.schema)
        ).fetchone()
        after = list(step.statements[1:])  # the record of it, once it is detached
        if row is not None and row[0]:
            return [sql.detach_finalize(parent.name, step.partition, parent.schema), *after]
        if row is None:
            return after  # detached by the attempt that timed out
        return list(step.statements)

    return statements
