"""``status`` and ``check``: what the partitions look like, and whether that is healthy."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import psycopg

from .. import sql
from ..catalog.snapshot import Parent, Snapshot, read_snapshot
from ..declaration.periods import CalendarStep, Period, add, local_midnight, shift_date
from ..declaration.policies import Hash, Range
from ..planning.roll import position_from_clock, retention_cutoff
from ..sql.citus import UNREACHABLE_NODES_QUERY, shards_size_query
from .archives import Recorded, archive_lines, archives_by_table, read_record
from .list_status import ListStatus, list_statuses
from .session import bound_session, policy_writers
from .tables import integer_position, owned_partitions, plan_table, query_of, select_tables

#: Timeline cells: present, missing, present but past retention, missing with rows waiting
#: in the DEFAULT partition.
PRESENT, MISSING, EXPIRED, IN_DEFAULT, BEFORE = "#", ".", "x", "!", "-"
LEGEND = (
    f"{PRESENT} present  {MISSING} missing  {EXPIRED} past retention  {IN_DEFAULT} rows in "
    f"DEFAULT  {BEFORE} before the first partition"
)


@dataclass
class TableStatus:
    table: str
    policy: str
    partitions: int
    coverage_until: Any
    default_rows: int | None
    next_expiry: Any
    rolled_at: dt.datetime | None
    timeline: str
    timeline_start: str
    missing: list[str] = field(default_factory=list)
    #: Detaches an interrupted ``DETACH … CONCURRENTLY`` left pending (roll finishes them).
    pending_detach: list[str] = field(default_factory=list)
    #: Partitions past retention that are still attached (roll expires them), with the
    #: moment each expired.
    overdue_expiry: list[tuple[str, Any]] = field(default_factory=list)
    #: Where the DEFAULT partition's rows fall: periods of the timeline with their rows, and
    #: the rows before and after the timeline.
    default_by_period: list[tuple[str, int]] = field(default_factory=list)
    default_outside: tuple[int, int] = (0, 0)
    #: Partitions past retention the tool did not make: left attached, named for adoption.
    foreign_expired: tuple[str, ...] = ()
    #: Partitions retention detached that the record of partitions knows (``reattach``
    #: puts one back).
    archives: list[dict[str, Any]] = field(default_factory=list)
    #: Another session held the DEFAULT partition exclusively (a run moving rows): its rows
    #: were not counted this time.
    default_busy: bool = False
    #: How Citus spreads it (``distributed by tenant_id, 4 shards, colocated with …``), on
    #: a Citus cluster.
    citus: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        for key in ("coverage_until", "next_expiry", "rolled_at"):
            value = out[key]
            out[key] = value.isoformat() if hasattr(value, "isoformat") else value
        out["overdue_expiry"] = [
            {"partition": name, "expired": day.isoformat()} for name, day in self.overdue_expiry
        ]
        return out


@dataclass
class CitusStatus:
    """A managed table Citus spreads over the cluster: its shards and what shares them."""

    table: str
    policy: str
    kind: str
    column: str | None
    shard_count: int
    #: The other tables with the same shards (not partitions): joins between them stay local.
    colocated_with: list[str]
    #: The shard count the recorded policy declares (hash tables), to compare.
    declared_shards: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def line(self) -> str:
        spread = (
            "a reference table, copied to every node"
            if self.kind == "reference"
            else f"distributed by {self.column}, {self.shard_count} shards"
        )
        if self.colocated_with:
            spread += f", colocated with {', '.join(self.colocated_with)}"
        return spread


def citus_statuses(snap: Snapshot, wanted: Sequence[str] = ()) -> list[CitusStatus]:
    """The managed tables that are Citus tables (partitions are not listed)."""
    partitions = snap.partition_names()
    groups: dict[int, list[str]] = {}
    for key, table in sorted(snap.citus_tables.items()):
        if key not in partitions and table.kind != "reference":
            groups.setdefault(table.colocation_id, []).append(".".join(key))
    out = []
    # the managed tables, and the reference tables (declared with Reference(), no policy)
    keys = set(snap.policies) | {
        k for k, t in snap.citus_tables.items() if t.kind == "reference" and k not in partitions
    }
    for key in sorted(keys):
        table = snap.citus_tables.get(key)
        name = ".".join(key)
        if table is None or (wanted and name not in wanted and key[1] not in wanted):
            continue
        bound = snap.policies.get(key)
        policy = bound.policy if bound is not None else None
        out.append(
            CitusStatus(
                table=name,
                policy=repr(policy) if policy is not None else "",
                kind=table.kind,
                column=table.column,
                shard_count=table.shard_count,
                colocated_with=[t for t in groups.get(table.colocation_id, []) if t != name],
                declared_shards=policy.partitions if isinstance(policy, Hash) else None,
            )
        )
    return out


def _rolled_at(conn: psycopg.Connection) -> dict[tuple[str, str], dt.datetime | None]:
    try:
        rows = conn.execute(sql.rolled_at_query()).fetchall()  # type: ignore[arg-type]
    except psycopg.errors.UndefinedTable:
        return {}
    return {(s, t): at for s, t, at in rows}


#: Open ends for counting the DEFAULT's rows before and after the timeline, per key type.
_EXTREMES: dict[str, tuple[Any, Any]] = {
    "timestamptz": (
        dt.datetime(1, 1, 2, tzinfo=dt.timezone.utc),
        dt.datetime(9999, 12, 31, tzinfo=dt.timezone.utc),
    ),
    "timestamp": (dt.datetime(1, 1, 2), dt.datetime(9999, 12, 31)),
    "date": (dt.date(1, 1, 2), dt.date(9999, 12, 31)),
    "integer": (-(2**63), 2**63 - 1),
}


def _in_default(conn: psycopg.Connection, parent: Parent, lower: Any, upper: Any) -> int:
    """Rows of ``[lower, upper)`` waiting in the table's DEFAULT partition."""
    assert parent.default is not None and parent.policy is not None
    column = parent.policy.policy.column  # type: ignore[union-attr]
    query = sql.count_in_range_query(
        parent.default.name, column, lower, upper, parent.policy.key_type, parent.schema
    )
    return _count(conn, query)


def _count(conn: psycopg.Connection, query: str) -> int:
    return int(conn.execute(query).fetchone()[0])  # type: ignore[call-overload,index]


def _covered_until(ranges: Sequence[Any], policy: Any, now: dt.datetime) -> Any:
    """The end of the run of adjoining partitions from the one holding "now": a partition
    placed far ahead (``--place-default``) says nothing of the months before it."""
    uppers = [c.upper for c in ranges if c.upper is not None]
    if policy.by_data:
        return max(uppers)
    position = position_from_clock(policy, now)
    # a partition from MINVALUE (a converted table's legacy partition) starts before all
    bounded = [(c.lower, c.upper) for c in ranges if c.upper is not None]
    spans = sorted(bounded, key=lambda span: (span[0] is not None, span[0]))
    end = None
    for lower, upper in spans:
        holds = (lower is None or lower <= position) and position < upper
        if (end is None and holds) or (end is not None and lower == end):
            end = upper
    return end


def table_status(
    conn: psycopg.Connection,
    parent: Parent,
    now: dt.datetime,
    rolled_at: dt.datetime | None,
    owned: Collection[tuple[str, str]] = frozenset(),
    *,
    read_default: bool = True,
) -> TableStatus:
    """``read_default`` off: the DEFAULT is held by another session, and its rows are not
    counted (reading them would wait)."""
    assert parent.policy is not None and isinstance(parent.policy.policy, Range)
    policy = parent.policy
    p = policy.policy
    ranges = parent.ranges()
    default = parent.default
    default_rows = (
        _count(conn, sql.default_rows_query(default.name, parent.schema))
        if default and read_default
        else None
    )
    cutoff = None
    if p.retention_step is not None and not policy.by_data:
        cutoff = retention_cutoff(policy, position_from_clock(policy, now))
    # an epoch column's integers are shown as the instants they stand for
    stepper = policy.stepper()
    shown = (lambda v: None if v is None else stepper.instant_of(v)) if p.epoch else (lambda v: v)
    known = {} if read_default else {"since": None}
    the_plan = plan_table(conn, parent, now, None, owned=owned, **known)
    missing = [s.partition for s in the_plan.of_kind("create")]
    pending = [c.name for c in parent.children if c.detach_pending]
    overdue = []
    for step in the_plan.of_kind("detach"):
        upper = shown(step.upper) if step.upper is not None else None
        if p.retention_step is None or policy.by_data or upper is None:
            continue
        tz = ZoneInfo(p.timezone)
        if _sub_day(p.retention_step) or _sub_day(p.step):
            expired = add(upper, p.retention_step, p.timezone)  # type: ignore[assignment]
        else:
            day = upper.astimezone(tz).date() if isinstance(upper, dt.datetime) else upper
            expired = local_midnight(shift_date(day, p.retention_step, 1), tz)  # type: ignore[arg-type]
        overdue.append((step.partition, expired))
    if policy.by_data:  # where the rows of its partitions have reached
        centre = stepper.period_of(integer_position(conn, parent))
    else:
        centre = stepper.period_of(position_from_clock(policy, now))
    cells = []
    by_period: list[tuple[str, int]] = []
    outside = (0, 0)
    first: Period = stepper.following(centre, -6)
    lowers = [c.lower for c in ranges if c.lower is not None]
    open_below = any(c.lower is None for c in ranges)  # from MINVALUE: nothing is before
    first_lower = min(lowers) if lowers and not open_below else None  # type: ignore[type-var]
    period = first
    for _ in range(6 + p.premake + 2):
        covered = any(  # a bound left open (MINVALUE, MAXVALUE) reaches every period
            (c.lower is None or c.lower <= period.lower)
            and (c.upper is None or period.lower < c.upper)
            for c in ranges
        )
        if covered:
            expired = cutoff is not None and period.upper <= cutoff
            cells.append(EXPIRED if expired else PRESENT)
        elif (
            default is not None
            and default_rows
            and (waiting := _in_default(conn, parent, period.lower, period.upper))
        ):
            cells.append(IN_DEFAULT)
            by_period.append((period.suffix, waiting))
        elif first_lower is not None and period.upper <= first_lower:  # type: ignore[operator]
            cells.append(BEFORE)  # the table did not reach back so far: nothing is missing
        else:
            cells.append(MISSING)
        period = stepper.following(period)
    if default is not None and default_rows:
        lowest, highest = _EXTREMES[policy.key_type]
        outside = (
            _in_default(conn, parent, lowest, first.lower),
            _in_default(conn, parent, period.lower, highest),
        )
    uppers = [c.upper for c in ranges if c.upper is not None]
    next_expiry = None
    if p.retention_step is not None and ranges and ranges[0].upper is not None:
        oldest = shown(ranges[0].upper)
        if not policy.by_data and (_sub_day(p.retention_step) or _sub_day(p.step) or p.epoch):
            next_expiry = add(oldest, p.retention_step, p.timezone)
        elif not policy.by_data:
            day = oldest.date() if hasattr(oldest, "date") else oldest
            next_expiry = shift_date(day, p.retention_step, 1)  # type: ignore[arg-type]
    return TableStatus(
        table=f"{parent.schema}.{parent.name}",
        policy=repr(p),
        partitions=len(ranges),
        coverage_until=shown(_covered_until(ranges, policy, now)) if uppers else None,
        default_rows=default_rows,
        next_expiry=next_expiry,
        rolled_at=rolled_at,
        timeline="".join(cells),
        timeline_start=first.suffix,
        missing=missing,
        pending_detach=pending,
        overdue_expiry=overdue,
        default_by_period=by_period,
        default_outside=outside,
        foreign_expired=the_plan.foreign_expired,
    )


class Collected(NamedTuple):
    statuses: list[TableStatus]
    warnings: list[str]
    parents: list[Parent]
    #: Managed tables Citus spreads over its cluster.
    citus: list[CitusStatus]
    lists: list[ListStatus]


class Streamed(NamedTuple):
    """What is known before any range table is looked at, and its statuses one at a time:
    ten thousand tables are shown as they are read, not held and shown at the end."""

    statuses: Iterator[TableStatus]
    #: Grows while ``statuses`` is consumed (a DEFAULT another session holds).
    warnings: list[str]
    parents: list[Parent]
    citus: list[CitusStatus]
    lists: list[ListStatus]


def stream(conn: psycopg.Connection, now: dt.datetime, tables: Sequence[str] = ()) -> Streamed:
    """Each managed table's status as it is read, the warnings, and the range tables."""
    bound_session(conn)
    snap = read_snapshot(query_of(conn))
    citus = citus_statuses(snap, tables)
    lists = list_statuses(conn, snap, tables)
    listed = {s.table for s in lists} | {s.table.split(".", 1)[1] for s in lists}
    ranges = [t for t in tables if not _named(citus, t) and t not in listed]
    parents, warnings = select_tables(snap, ranges)
    if tables and not ranges:
        parents = []  # only Citus hash tables named
    writable = policy_writers(conn)
    warnings += [writable] if writable else []
    rolled = _rolled_at(conn)
    owned = owned_partitions(conn)
    archives = archives_by_table(read_record(conn)) if parents else {}
    if snap.has_citus:
        archives = citus_archive_sizes(conn, snap, archives)

    # a range table on Citus is shown once, its spread beside its partitions
    ranged = {f"{p.schema}.{p.name}" for p in parents}
    spread = {c.table: c.line() for c in citus if c.table in ranged}
    citus = [c for c in citus if c.table not in ranged]

    def statuses() -> Iterator[TableStatus]:
        for parent in parents:
            at = rolled.get((parent.schema, parent.name))
            try:
                if parent.default_locked:
                    raise psycopg.errors.LockNotAvailable
                status = table_status(conn, parent, now, at, owned)
            except psycopg.errors.LockNotAvailable:  # a run moving rows holds the DEFAULT
                status = table_status(conn, parent, now, at, owned, read_default=False)
                status.default_busy = True
                warnings.append(
                    f"{parent.schema}.{parent.name}: another session holds its DEFAULT "
                    "partition (a run moving rows): its rows were not counted this time"
                )
            status.archives = archive_lines(archives.get((parent.schema, parent.name), []))
            status.citus = spread.get(status.table)
            yield status

    return Streamed(statuses(), warnings, parents, citus, lists)


def citus_archive_sizes(
    conn: psycopg.Connection, snap: Snapshot, archives: dict[Any, list[Recorded]]
) -> dict[Any, list[Recorded]]:
    """Archives of distributed tables stay distributed (and colocated, with their foreign
    keys): their rows and bytes are on the workers, the coordinator's table holds none."""
    out = {}
    for key, found in archives.items():
        sized = []
        for r in found:
            if snap.citus_tables.get((r.partition_schema, r.name), None) is not None:
                try:
                    rows, size = conn.execute(  # type: ignore[call-overload]
                        shards_size_query(r.name, r.partition_schema)
                    ).fetchone()
                    r = dataclasses.replace(r, estimate=rows, bytes=int(size or 0))
                except psycopg.Error:  # a worker down: the coordinator's figures stand
                    pass
            sized.append(r)
        out[key] = sized
    return out


def unreachable_nodes(conn: psycopg.Connection) -> list[str]:
    """Citus workers the coordinator cannot reach, named: their shards can be neither read
    nor written, and roll cannot distribute a new partition."""
    if not conn.execute(sql.HAS_CITUS_QUERY).fetchone()[0]:  # type: ignore[index]
        return []
    rows = conn.execute(UNREACHABLE_NODES_QUERY).fetchall()  # type: ignore[call-overload]
    return [
        f"Citus worker {node} does not answer ({' '.join(str(error).split())[:200]}): the "
        "shards on it can be neither read nor written, and roll cannot distribute new "
        "partitions there"
        for node, error in rows
    ]


def collect(conn: psycopg.Connection, now: dt.datetime, tables: Sequence[str] = ()) -> Collected:
    """Each managed table's status, the warnings, and the range tables themselves."""
    streamed = stream(conn, now, tables)
    statuses = list(streamed.statuses)
    return Collected(statuses, streamed.warnings, streamed.parents, streamed.citus, streamed.lists)


def _named(citus: list[CitusStatus], name: str) -> bool:
    """``name`` is a Citus hash table (no range table to roll)."""
    return any(
        c.declared_shards is not None and name in (c.table, c.table.split(".", 1)[1]) for c in citus
    )


def citus_problems(citus: Sequence[CitusStatus]) -> list[str]:
    return [
        f"{c.table}: {c.shard_count} shards on the cluster but the policy declares "
        f"{c.declared_shards} (shards split outside a migration? declare partitions="
        f"{c.shard_count} and record it with a migration)"
        for c in citus
        if c.declared_shards is not None and c.declared_shards != c.shard_count
    ]


def nothing_managed(conn: psycopg.Connection) -> bool:
    """No policy is recorded in this database (hash tables count too)."""
    return not read_snapshot(query_of(conn)).policies


def _since(now: dt.datetime, moment: Any) -> dt.timedelta:
    """How long ago ``moment`` (a date is taken at midnight UTC) was."""
    if not isinstance(moment, dt.datetime):
        moment = dt.datetime.combine(moment, dt.time(), dt.timezone.utc)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return now - moment


def problems(statuses: Sequence[TableStatus], now: dt.datetime, max_age: dt.timedelta) -> list[str]:
    """One line per thing a monitor should page about."""
    out = []
    for s in statuses:
        if s.missing:
            out.append(f"{s.table}: partitions missing for {', '.join(s.missing[:4])}")
        if s.default_rows:
            out.append(
                f"{s.table}: {s.default_rows} rows in the DEFAULT partition (status shows "
                "their periods; roll moves those of its periods into their partitions, "
                f"sqla-partition roll --table {s.table} --place-default places the others)"
            )
        if s.foreign_expired:
            out.append(
                f"{s.table}: past retention but not made by sqla-partition, so left attached: "
                f"{', '.join(s.foreign_expired[:4])}{', …' * (len(s.foreign_expired) > 4)} "
                f"(detach it by hand, or sqla-partition adopt {s.table} --partition NAME to "
                "let roll expire it)"
            )
        if s.pending_detach:
            out.append(
                f"{s.table}: an interrupted DETACH CONCURRENTLY is pending for "
                f"{', '.join(s.pending_detach)} (the next roll finishes it)"
            )
        late = [name for name, expired in s.overdue_expiry if _since(now, expired) > max_age]
        if late:
            hours = max_age.total_seconds() / 3600
            age = f"{hours:g} h" if hours >= 1 else f"{hours * 60:g} min"
            out.append(
                f"{s.table}: {len(late)} partitions past retention for more than {age} are "
                f"still attached ({', '.join(late[:4])}{', …' * (len(late) > 4)})"
            )
        if s.rolled_at is None:
            out.append(f"{s.table}: never rolled")
        elif now - s.rolled_at > max_age:
            hours = (now - s.rolled_at).total_seconds() / 3600
            out.append(f"{s.table}: last rolled {hours:.1f} h ago (overdue)")
    return out


def _sub_day(step: object) -> bool:
    return isinstance(step, CalendarStep) and step.sub_day
