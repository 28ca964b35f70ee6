"""What a table's partitions should be: pure functions of policy, snapshot and time.

Autogenerate (the first partitions of a new table) and ``roll`` (keeping an existing one
rolling) both ask this module, so the two can never disagree about names or bounds.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace

from .. import sql
from ..catalog.snapshot import Child, Parent
from ..declaration.periods import KeyValue, Period
from ..declaration.policies import Range, TablePolicy
from ..sql import Statement
from .new_tables import (
    new_table_records,
    range_sub_partitions,
    range_sub_policy_rows,
    sub_partitions_of,
)
from .positions import (  # noqa: F401  (re-exported: the planner's public face)
    coerce_key,
    initial_window,
    position_from_clock,
    retention_cutoff,
)


@dataclass(frozen=True)
class Step:
    """One change to one partition, with the statements that make it."""

    kind: str  # create | create_default | detach | unlink | archive | drop | finalize_detach
    partition: str
    statements: tuple[Statement, ...]
    lower: KeyValue | None = None
    upper: KeyValue | None = None
    #: The statements when the DEFAULT partition holds no rows: nothing to move, so reads
    #: need not wait (empty: the same as ``statements``).
    quiet: tuple[Statement, ...] = ()
    #: A group's steps (kind ``group``), run in its one transaction.
    members: tuple[Step, ...] = ()


@dataclass(frozen=True)
class Plan:
    policy: TablePolicy
    steps: tuple[Step, ...] = ()
    notes: tuple[str, ...] = field(default=())
    #: Partitions past retention that the record does not say the tool made: left alone.
    foreign_expired: tuple[str, ...] = ()
    #: Partitions made to fill a gap behind the newest one (dropped by hand, never made).
    gaps: tuple[str, ...] = ()

    def of_kind(self, kind: str) -> list[Step]:
        return [s for s in self.steps if s.kind == kind]


def attach_statements(
    policy: TablePolicy,
    name: str,
    period: Period,
    default: str | None,
    *,
    quiet: bool = False,
    record: bool = True,
    sub_window: tuple[KeyValue, KeyValue] | None = None,
    columns: tuple[str, ...] | None = None,
) -> tuple[Statement, ...]:
    """A new partition of a live parent: a plain table, then ATTACH, in one transaction.

    The table is new in this transaction, so the scan ATTACH makes of it reads only the rows
    just moved in (a CHECK would read the same rows). With a DEFAULT partition, queries of
    the parent are first held at it (see :func:`sql.lock_parent_for_attach`), then rows of
    the new range move out of the DEFAULT under the lock ATTACH takes anyway, so ATTACH never
    finds any and no query misses a moved row. ``quiet``: the DEFAULT holds no rows, so
    nothing moves and only writers wait. ``record``: the partition goes into the record
    (:mod:`sql.record`) in the same transaction, the proof that the tool made it.
    """
    assert isinstance(policy.policy, Range)
    t, s, k, col = policy.table, policy.schema, policy.key_type, policy.policy.column
    rescue: tuple[Statement, ...] = ()
    if default and quiet:
        rescue = (
            sql.lock_parent_for_attach(t, default, s),
            sql.lock_default(default, s, moving=False),
        )
    elif default:
        rescue = (
            sql.lock_parent_for_attach(t, default, s, moving=True),
            sql.lock_default(default, s),
            sql.move_rows(default, name, col, period.lower, period.upper, k, s, columns),
        )
    ranged = policy.range_sub_policy(name)
    if ranged is not None:  # a table of its own: attached first, its partitions, its policy
        assert isinstance(ranged.policy, Range) and sub_window is not None
        where = sql.in_range(col, period.lower, period.upper, k)
        held = () if quiet or not default else tuple(sql.hold_rows(t, default, where, s, columns))
        return (
            *rescue[:2],
            *held,
            sql.create_detached_child(
                t, name, s, hash_column=ranged.policy.column, sub_strategy="range"
            ),
            sql.attach_range_partition(
                t, name, period.lower, period.upper, k, s, default, subpartitioned=True
            ),
            *range_sub_partitions(policy, name, sub_window, strict=True),
            *range_sub_policy_rows(policy, [name]),
            *(tuple(sql.release_rows(name, s)) if held else ()),
            *(
                (
                    sql.record_partition("attached", t, name, period.lower, period.upper, s),
                    *new_table_records(ranged, *sub_window),
                )
                if record
                else ()
            ),
        )
    sub = policy.subpartition
    if sub is not None:  # partitioned in turn: attached first, then its partitions
        where = sql.in_range(col, period.lower, period.upper, k)
        held = () if quiet or not default else tuple(sql.hold_rows(t, default, where, s, columns))
        return (
            *rescue[:2],
            *held,
            sql.create_detached_child(t, name, s, hash_column=sub.column),
            sql.attach_range_partition(
                t, name, period.lower, period.upper, k, s, default, subpartitioned=True
            ),
            *sub_partitions_of(policy, name, strict=True),
            *(tuple(sql.release_rows(name, s)) if held else ()),
            *(
                (sql.record_partition("attached", t, name, period.lower, period.upper, s),)
                if record
                else ()
            ),
        )
    return (
        sql.create_detached_child(t, name, s),
        *rescue,
        sql.attach_range_partition(
            t, name, period.lower, period.upper, k, s, default, subpartitioned=sub is not None
        ),
        *(
            (sql.record_partition("attached", t, name, period.lower, period.upper, s),)
            if record
            else ()
        ),
    )


def _create_step(
    policy: TablePolicy,
    period: Period,
    default: Child | None,
    record: bool,
    columns: tuple[str, ...] | None = None,
    sub_window: tuple[KeyValue, KeyValue] | None = None,
) -> Step:
    name = policy.partition_name(period.suffix)
    dflt = default.name if default else None
    kw = {"record": record, "columns": columns, "sub_window": sub_window}
    stmts = attach_statements(policy, name, period, dflt, **kw)  # type: ignore[arg-type]
    quiet: tuple[Statement, ...] = ()
    if dflt:
        quiet = attach_statements(policy, name, period, dflt, quiet=True, **kw)  # type: ignore[arg-type]
    return Step("create", name, stmts, period.lower, period.upper, quiet)


def _unlink(child: Child, schema: str) -> Step:
    """The foreign keys of a partition just detached go (see ``Range.keep_foreign_keys``)."""
    stmt = sql.drop_archive_foreign_keys(child.name, schema)
    return Step("unlink", child.name, (stmt,), child.lower, child.upper)


def _unlinks(p: Range, parent: Parent) -> bool:
    """Archives lose their foreign keys, except on Citus: Citus 13.0 cannot drop one from a
    detached distributed partition (its shards' constraints carry the parent's shard ids),
    so they stay; ``drop_partitioned_table(archives="drop")`` drops the archives first."""
    return not p.keep_foreign_keys and parent.has_foreign_keys and not _on_citus(p, parent)


def _on_citus(p: Range, parent: Parent) -> bool:
    """Citus spreads the table: as Citus's catalog says (a table distributed by hand, by
    Citus's own helpers or in a distributed schema), or as declared."""
    return parent.citus is not None or p.distributed_by is not None


def _overlaps(period: Period, child: Child) -> bool:
    lo_ok = child.upper is None or period.lower < child.upper  # type: ignore[operator]
    hi_ok = child.lower is None or child.lower < period.upper  # type: ignore[operator]
    return lo_ok and hi_ok


def plan(
    policy: TablePolicy,
    parent: Parent | None,
    position: KeyValue,
    *,
    horizon: KeyValue | None = None,
    since: KeyValue | None = None,
    record: bool = True,
    extra: Sequence[Period] = (),
    extra_expired: bool = False,
    owned: Collection[tuple[str, str]] | None = None,
    fill_from: KeyValue | None = None,
    archived: Collection[str] = (),
    sub_window: tuple[KeyValue, KeyValue] | None = None,
) -> Plan:
    """The steps that bring an existing range table in line with its policy at ``position``.

    ``position`` is the key's "now": the clock for time keys (see
    :func:`position_from_clock`), the current maximum for integer keys. ``horizon`` is the
    next scheduled run, when there is a schedule: premake then counts from there, so the
    partitions last until that run. ``since`` is the oldest key waiting in the DEFAULT
    partition: missing periods from there (but not before the oldest partition) are planned
    too, so rows left behind by a run that could not move them are never forgotten once the
    clock passed their period. ``record``: each change is written into the record of
    partitions (off only where that table is missing and cannot be made). ``extra``: more
    periods to create wherever they fall (those DEFAULT rows fall in, for
    ``roll --place-default``); past retention only with ``extra_expired``. ``owned``:
    ``(schema, name)`` of the partitions the record says the tool made; retention expires
    only those (``None``: every partition, for callers that never expire). ``fill_from``:
    where the partitions roll keeps begin, when there is a gap among them: missing periods
    from there (inside retention, not overlapping anything, not an archive named in
    ``archived``) are made again. ``sub_window``: the periods a new partition partitioned
    by ``Range`` in turn starts with (its own table, which roll then rolls by itself).
    """
    p = policy.policy
    if not isinstance(p, Range):
        return Plan(policy)
    if parent is None:
        return Plan(policy, notes=(f"{policy.qualified}: table does not exist",))
    stepper = policy.stepper()
    steps: list[Step] = []
    notes: list[str] = []
    schema = policy.schema or parent.schema
    ranges = parent.ranges()
    default = parent.default

    for child in parent.children:
        if child.detach_pending:
            finish = [sql.detach_finalize(parent.name, child.name, schema)]
            if record:
                finish.append(
                    sql.record_partition(
                        "detached", parent.name, child.name, child.lower, child.upper, schema
                    )
                )
            if policy.range_sub_policy(child.name) is not None:
                finish.append(sql.delete_policy(child.name, schema))
            steps.append(Step("finalize_detach", child.name, tuple(finish)))
            if _unlinks(p, parent):
                steps.append(_unlink(child, schema))

    cutoff = retention_cutoff(policy, position)

    current = stepper.period_of(position)
    first = current
    newest = max((c.upper for c in ranges if c.upper is not None), default=None)  # type: ignore[type-var]
    if newest is not None and newest < current.lower:  # type: ignore[operator]
        first = stepper.period_of(newest)  # catch up over missed runs
    oldest = min((c.lower for c in ranges if c.lower is not None), default=None)  # type: ignore[type-var]
    if since is not None and oldest is not None:
        start = since if since > oldest else oldest  # type: ignore[operator]
        if start < first.lower:  # type: ignore[operator]
            first = stepper.period_of(start)  # rows wait behind "now" in the DEFAULT
    usual = first
    if fill_from is not None and fill_from < first.lower:  # type: ignore[operator]
        first = stepper.period_of(fill_from)
    gaps: list[str] = []
    ahead = current
    if horizon is not None and horizon > position:  # type: ignore[operator]
        ahead = stepper.period_of(horizon)
    last = stepper.following(ahead, p.premake)

    policy_here = policy
    if policy.schema != schema:
        policy_here = TablePolicy(policy.table, p, policy.key_type, schema)
    exact = {(c.lower, c.upper) for c in ranges}
    period = first
    while period.lower <= last.lower:  # type: ignore[operator]
        expired = cutoff is not None and period.upper <= cutoff  # type: ignore[operator]
        if (period.lower, period.upper) in exact:  # the usual case: already there
            period = stepper.following(period)
            continue
        clash = [c for c in ranges if _overlaps(period, c)]
        if period.lower < usual.lower:  # type: ignore[operator]  # behind: only gaps
            name = policy_here.partition_name(period.suffix)
            if not expired and not clash and name not in archived:
                steps.append(
                    _create_step(
                        policy_here, period, default, record, parent.insert_columns, sub_window
                    )
                )
                gaps.append(name)
            period = stepper.following(period)
            continue
        if not expired and not clash:
            steps.append(
                _create_step(
                    policy_here, period, default, record, parent.insert_columns, sub_window
                )
            )
        elif not expired and not any(
            c.lower is not None
            and c.upper is not None
            and c.lower <= period.lower  # type: ignore[operator]
            and period.upper <= c.upper  # type: ignore[operator]
            for c in clash
        ):
            notes.append(
                f"{policy.qualified}: period {period.suffix} overlaps "
                f"{', '.join(c.name for c in clash)} without matching it; left alone"
            )
        period = stepper.following(period)

    planned = {s.partition for s in steps}
    for period in extra:  # periods DEFAULT rows fall in, outside the usual window
        expired = cutoff is not None and period.upper <= cutoff  # type: ignore[operator]
        name = policy_here.partition_name(period.suffix)
        if (expired and not extra_expired) or name in planned:
            continue
        if any(_overlaps(period, c) for c in ranges):
            continue
        planned.add(name)
        step = _create_step(policy_here, period, default, record, parent.insert_columns, sub_window)
        mark = sql.mark_placed(name, schema)
        steps.append(
            replace(
                step,
                statements=(*step.statements, mark),
                quiet=(*step.quiet, mark) if step.quiet else (),
            )
        )

    if p.default and default is None:
        steps.append(
            Step(
                "create_default",
                policy_here.default_name,
                (
                    sql.create_detached_child(parent.name, policy_here.default_name, schema),
                    sql.attach_default_partition(parent.name, policy_here.default_name, schema),
                    *(
                        (
                            sql.record_partition(
                                "attached",
                                parent.name,
                                policy_here.default_name,
                                None,
                                None,
                                schema,
                            ),
                        )
                        if record
                        else ()
                    ),
                ),
            )
        )

    foreign: list[str] = []
    if cutoff is not None:
        for child in ranges:
            if child.detach_pending or child.upper is None or child.lower is None:
                continue
            if not child.upper <= cutoff:  # type: ignore[operator]
                continue
            if owned is not None and (child.schema, child.name) not in owned:
                foreign.append(child.name)  # someone else's table: theirs to expire
                continue
            # Citus refuses DETACH … CONCURRENTLY on its tables
            concurrently = default is None and not _on_citus(p, parent)
            stmts = [
                sql.detach_partition(
                    parent.name,
                    child.name,
                    schema,
                    concurrently=concurrently,
                    default=default.name if default else None,
                )
            ]
            if record:  # in the DETACH's transaction, or once a DETACH CONCURRENTLY is done
                stmts.append(
                    sql.record_partition(
                        "detached", parent.name, child.name, child.lower, child.upper, schema
                    )
                )
            if policy.range_sub_policy(child.name) is not None:  # its own policy goes with it
                stmts.append(sql.delete_policy(child.name, schema))
            steps.append(Step("detach", child.name, tuple(stmts), child.lower, child.upper))
            if p.on_expire == "detach" and _unlinks(p, parent):
                steps.append(_unlink(child, schema))
            if p.on_expire == "detach" and p.archive_schema:
                steps.append(
                    Step(
                        "archive",
                        child.name,
                        (
                            sql.create_schema(p.archive_schema),
                            sql.set_schema(child.name, schema, p.archive_schema),
                            *(
                                (sql.record_moved(child.name, schema, p.archive_schema),)
                                if record
                                else ()
                            ),
                        ),
                        child.lower,
                        child.upper,
                    )
                )
            if p.on_expire == "drop":
                steps.append(
                    Step(
                        "drop",
                        child.name,
                        (
                            sql.drop_table(child.name, schema),
                            *((sql.record_dropped(child.name, schema),) if record else ()),
                        ),
                        child.lower,
                        child.upper,
                    )
                )
    if foreign:
        notes.append(
            f"{policy.qualified}: past retention but not made by sqla-partition, left "
            f"attached: {', '.join(foreign)} (sqla-partition adopt {policy.qualified} "
            "--partition NAME makes one the tool's to expire)"
        )
    if gaps:
        notes.append(
            f"{policy.qualified}: {len(gaps)} missing between its partitions, made again: "
            f"{', '.join(gaps[:5])}{' …' if len(gaps) > 5 else ''}"
        )
    return Plan(policy, tuple(steps), tuple(notes), tuple(foreign), tuple(gaps))


def reattach_statements(
    policy: TablePolicy,
    name: str,
    period: Period,
    default: str | None,
    *,
    from_schema: str | None = None,
    columns: tuple[str, ...] | None = None,
) -> tuple[Statement, ...]:
    """An archive the tool detached, attached again over ``period`` in one transaction.

    The archive is not a partition, so nothing reads it: it moves back beside the table and
    gets the bound CHECK (a scan of the archive alone) before the parent is touched, so
    ATTACH need not scan it under the parent's lock. Beside a DEFAULT partition the
    period's rows that arrived there meanwhile move into it first, as for a new partition.
    """
    assert isinstance(policy.policy, Range)
    t, s, k, col = policy.table, policy.schema, policy.key_type, policy.policy.column
    schema = s or "public"
    out: list[Statement] = []
    if from_schema is not None and from_schema != schema:
        out += [
            sql.set_schema(name, from_schema, schema, why=sql.BACK_BESIDE_TABLE),
            sql.record_moved(name, from_schema, schema),
        ]
    out += [
        sql.drop_bound_check(name, s),
        sql.add_bound_check(name, col, period.lower, period.upper, k, s, existing=True),
    ]
    if default:
        out += [
            sql.lock_parent_for_attach(t, default, s, moving=True),
            sql.lock_default(default, s),
            sql.move_rows(default, name, col, period.lower, period.upper, k, s, columns),
        ]
    out += [
        sql.attach_range_partition(t, name, period.lower, period.upper, k, s, default),
        sql.drop_attached_bound_check(name, s),
        sql.record_partition("attached", t, name, period.lower, period.upper, s),
    ]
    out += range_sub_policy_rows(policy, [name])  # a table of its own again, rolled as before
    return tuple(out)
