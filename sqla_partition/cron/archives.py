"""Archives: the partitions retention detached, as the record of partitions knows them, and
putting one back explicitly (``sqla-partition reattach``).

``roll`` never attaches a table for its name; this is the only way an archive returns, and
only after its columns match the table's and every row is proven inside its period.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors as pgerrors

from .. import sql
from ..catalog.snapshot import Parent, parse_key_value, read_snapshot
from ..declaration.periods import KeyValue, Period
from ..declaration.policies import Range
from ..errors import SqlaPartitionError
from ..planning.roll import Step, reattach_statements
from ..sql.statement import inert
from .messages import refuse_superuser
from .results import LockBudgetExhausted, RollOptions, TableResult
from .runner import Roller
from .session import bound_session, one_line
from .table_lock import take_table
from .tables import query_of, select_tables
from .transactions import annotated_sql


@dataclass(frozen=True)
class Recorded:
    """One row of the record of partitions, with what the catalog says of its table."""

    schema: str
    table: str
    partition_schema: str
    name: str
    lower: str | None
    upper: str | None
    state: str
    created_at: dt.datetime | None
    detached_at: dt.datetime | None
    present: bool
    attached: bool
    estimate: int | None  # None: not analyzed yet
    bytes: int

    @property
    def is_archive(self) -> bool:
        return self.present and not self.attached

    @property
    def qualified(self) -> str:
        return f"{self.partition_schema}.{self.name}"

    def period(self, key_type: str) -> Period | None:
        if self.lower is None or self.upper is None:
            return None
        lower = parse_key_value(self.lower, key_type)
        upper = parse_key_value(self.upper, key_type)
        if lower is None or upper is None:
            return None
        return Period(lower, upper, self.name)


def read_record(conn: psycopg.Connection) -> list[Recorded]:
    """Every recorded partition; none where the record does not exist yet."""
    exists = conn.execute(sql.record_exists_query()).fetchone()  # type: ignore[arg-type]
    if not exists or not exists[0]:
        return []
    rows = conn.execute(sql.record_query()).fetchall()  # type: ignore[arg-type]
    return [Recorded(*row) for row in rows]


def _show(value: KeyValue) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _find(records: Sequence[Recorded], parent: Parent, archive: str) -> Recorded:
    mine = [r for r in records if r.schema == parent.schema and r.table == parent.name]
    found = [r for r in mine if archive in (r.name, r.qualified)]
    where = f"{inert(parent.schema)}.{inert(parent.name)}"
    if not found:
        known = ", ".join(inert(r.qualified) for r in mine if r.is_archive) or "none"
        raise SqlaPartitionError(
            f"{inert(archive)} is not in the record of {where}'s partitions (its archives: "
            f"{known}). reattach takes back only archives sqla-partition detached; attach "
            "another table with op.attach_partition in a migration, which checks its rows "
            "against the bounds"
        )
    rec = found[0]
    if not rec.present:
        raise SqlaPartitionError(f"{inert(rec.qualified)} is recorded but no longer exists")
    ours = {(c.schema, c.name) for c in parent.children}
    if rec.attached and (rec.partition_schema, rec.name) not in ours:
        raise SqlaPartitionError(f"{inert(rec.qualified)} is a partition of another table")
    return rec


def _column_differences(conn: psycopg.Connection, parent: Parent, rec: Recorded) -> list[str]:
    def columns(name: str, schema: str) -> dict[str, tuple[str, bool]]:
        rows = conn.execute(sql.columns_query(name, schema)).fetchall()  # type: ignore[call-overload]
        return {r[0]: (r[1], r[2]) for r in rows}

    want = columns(parent.name, parent.schema)
    have = columns(rec.name, rec.partition_schema)
    out = []
    for name, (kind, notnull) in want.items():
        if name not in have:
            out.append(f"{inert(name)} ({inert(kind)}) is missing from the archive")
        elif have[name][0] != kind:
            out.append(f"{inert(name)} is {inert(have[name][0])} in the archive, {inert(kind)}")
        elif notnull and not have[name][1]:
            out.append(f"{inert(name)} is NOT NULL in the table but not in the archive")
    out += [f"{inert(n)} is in the archive only" for n in have if n not in want]
    return out


def check_reattach(conn: psycopg.Connection, parent: Parent, rec: Recorded) -> Period:
    """Everything that would make the ATTACH fail or take back the wrong rows, as one line,
    before anything changes."""
    assert parent.policy is not None and isinstance(parent.policy.policy, Range)
    key_type, column = parent.policy.key_type, parent.policy.policy.column
    name = inert(rec.qualified)
    period = rec.period(key_type)
    if period is None:
        raise SqlaPartitionError(f"{name}: the record holds no bounds for it")
    span = f"[{_show(period.lower)}, {_show(period.upper)})"
    clash = [
        c.name
        for c in parent.ranges()
        if (c.upper is None or period.lower < c.upper)  # type: ignore[operator]
        and (c.lower is None or c.lower < period.upper)  # type: ignore[operator]
    ]
    if clash:
        raise SqlaPartitionError(
            f"{name} covers {span}, which partition(s) {inert(', '.join(clash))} of "
            f"{inert(parent.name)} cover now; detach them first (op.detach_partition in a "
            "migration), then reattach"
        )
    if rec.partition_schema != parent.schema:
        other = conn.execute(  # type: ignore[call-overload]
            sql.relation_exists_query(rec.name, parent.schema)
        ).fetchone()
        if other and other[0]:
            raise SqlaPartitionError(
                f"{name} cannot move back to {inert(parent.schema)}: a table named "
                f"{inert(rec.name)} is there"
            )
    owners = [
        conn.execute(sql.owner_query(n, sch)).fetchone()[0]  # type: ignore[call-overload,index]
        for n, sch in ((parent.name, parent.schema), (rec.name, rec.partition_schema))
    ]
    if owners[0] != owners[1]:  # its triggers would run with the rights of whoever writes
        raise SqlaPartitionError(
            f"{name} is owned by {inert(owners[1])}, {inert(parent.name)} by "
            f"{inert(owners[0])}: a table owned by another role is never attached; "
            "ALTER TABLE … OWNER TO the table's owner if it is the archive you expect"
        )
    differences = _column_differences(conn, parent, rec)
    if differences:
        raise SqlaPartitionError(
            f"{name} does not match {inert(parent.name)}'s columns: "
            + "; ".join(differences)
            + ". Change the archive (ALTER TABLE) to match, then reattach"
        )
    outside = conn.execute(  # type: ignore[call-overload]
        sql.count_outside_range_query(
            rec.name, column, period.lower, period.upper, key_type, rec.partition_schema
        )
    ).fetchone()[0]
    if outside:
        raise SqlaPartitionError(
            f"{name} holds {outside:,} rows outside its period {span} (or with no "
            f"{inert(column)}); move or delete them, then reattach"
        )
    return period


@dataclass
class Reattached:
    archive: str
    sql: list[str]
    moved_rows: int = 0
    skipped: str | None = None
    #: A partition of the table already (a rerun after a run whose commit got through
    #: although its client died): nothing to do.
    already: bool = False


def reattach(
    conn: psycopg.Connection,
    table: str,
    archive: str,
    options: RollOptions,
    log: Callable[[str], None] | None = None,
) -> Reattached:
    """Put ``archive`` back as a partition of ``table`` (``options.dry_run``: only say how)."""
    bound_session(conn, options)
    snap = read_snapshot(query_of(conn))
    (parent,), _ = select_tables(snap, [table])
    assert parent.policy is not None
    if not options.dry_run:
        refuse_superuser(conn, snap.superuser, parent)
    rec = _find(read_record(conn), parent, archive)
    if rec.attached:  # done already: a rerun of a reattach that committed
        return Reattached(rec.qualified, [], already=True)
    period = check_reattach(conn, parent, rec)
    default = parent.default.name if parent.default else None
    statements = reattach_statements(
        parent.policy,
        rec.name,
        period,
        default,
        from_schema=rec.partition_schema,
        columns=parent.insert_columns,
    )
    step = Step("reattach", rec.name, statements, period.lower, period.upper)
    out = Reattached(rec.qualified, [annotated_sql(step, options, parent.act_as)])
    if options.dry_run:
        return out
    log = log or (lambda _msg: None)
    holder = take_table(
        conn,
        parent.name,
        parent.schema,
        options.wait_for_other_s,
        restore=lambda: bound_session(conn, options),
        log=log,
    )
    if isinstance(holder, str):
        out.skipped = holder
        return out
    result = TableResult(f"{parent.schema}.{parent.name}", (parent.schema, parent.name))
    try:
        roller = Roller(conn, options, log)
        roller.role = parent.act_as  # the archive comes back as the owner's
        roller.run_statements(statements, result)
    except LockBudgetExhausted as exc:
        out.skipped = str(exc)
        return out
    except pgerrors.Error as exc:
        if conn.broken:
            raise
        text = one_line(exc)
        raise SqlaPartitionError(f"{inert(rec.qualified)} was not reattached: {text}") from None
    finally:
        holder.release()
    out.moved_rows = result.moved_rows
    return out


def archives_by_table(records: Sequence[Recorded]) -> dict[tuple[str, str], list[Recorded]]:
    """Every table's archives, ``(schema, table)`` to its list: grouped once, so that status
    over thousands of tables does not read the whole record for each one."""
    out: dict[tuple[str, str], list[Recorded]] = {}
    for r in records:
        if r.is_archive:
            out.setdefault((r.schema, r.table), []).append(r)
    return out


def archive_lines(archives: Sequence[Recorded]) -> list[dict[str, Any]]:
    """A table's archives as ``status`` shows them."""
    return [
        {
            "name": r.qualified,
            "lower": r.lower,
            "upper": r.upper,
            "detached_at": r.detached_at.isoformat(timespec="seconds") if r.detached_at else None,
            "rows_estimate": r.estimate,
            "bytes": r.bytes,
        }
        for r in archives
    ]
