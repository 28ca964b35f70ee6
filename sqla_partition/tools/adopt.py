"""Taking over a partition set made by hand or by pg_partman: read what is there, say the
policy that describes it, change nothing.

The interval and the naming come from the partitions themselves (each must be exactly one
period, named as one of the known schemes names it); premake, retention and what happens
to expired partitions come from pg_partman's ``part_config`` when the set is pg_partman's.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from .. import sql
from ..catalog.snapshot import Parent, read_snapshot
from ..declaration.periods import COMMON_STEPS, EPOCH_UNITS, NAMINGS, CalendarStep, Stepper
from ..declaration.policies import Range, TablePolicy
from ..errors import SqlaPartitionError
from ..sql.citus import colocated_table_query
from ..sql.session import SERVER_TIMEZONE_QUERY
from .partman_config import carry_partman, partman_config, partman_epoch

#: Steps tried, shortest first, with their pg_partman interval names.
_STEPS = [CalendarStep(c, u) for c, u in COMMON_STEPS]


@dataclass(frozen=True)
class Adoption:
    policy: TablePolicy
    source: str  # "pg_partman 4.7.2", "by hand"
    notes: tuple[str, ...] = ()

    def declaration(self) -> str:
        return f"__partitioning__ = {self.policy.policy!r}"

    def operation(self) -> str:
        schema = f", schema={self.policy.schema!r}" if self.policy.schema else ""
        return (
            f"op.set_partition_policy({self.policy.table!r}, sqla_partition."
            f"{self.policy.policy!r}, old=None, key_type={self.policy.key_type!r}{schema})"
        )


def _fits(parent: Parent, step: CalendarStep, naming: str, tz: str, epoch: int = 0) -> bool:
    """Every partition is exactly one period of ``step`` and carries its name."""
    if step.sub_day and parent.key_type == "date":
        return False
    stepper = Stepper(parent.key_type, step, tz, naming, epoch=epoch)
    ranges = parent.ranges()
    if not ranges:
        return False
    for child in ranges:
        if child.lower is None or child.upper is None:
            return False
        period = stepper.period_of(child.lower)
        if (period.lower, period.upper) != (child.lower, child.upper):
            return False
        if not child.name.endswith("_" + period.suffix):
            return False
    return True


def infer(
    parent: Parent, tz: str = "UTC", epoch: str | None = None
) -> tuple[CalendarStep | int, str, str]:
    """``(interval, naming, prefix)`` that describe every partition of ``parent`` (an
    integer column of time since 1970 when ``epoch`` names its unit)."""
    per_second = EPOCH_UNITS[epoch] if epoch else 0
    if parent.key_type == "integer" and not per_second:
        widths = {c.upper - c.lower for c in parent.ranges() if c.lower is not None}  # type: ignore[operator]
        if len(widths) != 1:
            raise SqlaPartitionError(
                f"{parent.schema}.{parent.name}: integer partitions of different widths "
                f"({sorted(widths)}); sqla-partition keeps one width per table"
            )
        width = widths.pop()
        return width, "sqla", parent.name
    for step in _STEPS:
        for naming in NAMINGS:
            if _fits(parent, step, naming, tz, per_second):
                first = parent.ranges()[0]
                stepper = Stepper(parent.key_type, step, tz, naming, epoch=per_second)
                suffix = stepper.period_of(first.lower).suffix  # type: ignore[arg-type]
                return step, naming, first.name[: -len(suffix) - 1]
    names = ", ".join(c.name for c in parent.ranges()[:3])
    raise SqlaPartitionError(
        f"{parent.schema}.{parent.name}: its partitions ({names}, …) are not one period "
        "each (15 or 30 minutes, an hour, a day, a week, a month, a quarter, half a year or "
        "a year), named as sqla-partition or pg_partman names them; sqla-partition cannot "
        "go on with this set as it is"
    )


#: Zones named first when several fit the same partitions (they share their offsets).
_MAJOR_ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/Moscow",
    "Asia/Kolkata",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
)


def zones_that_fit(
    parent: Parent, epoch: str | None = None, server: str | None = None
) -> list[str]:
    """The IANA zones in which every partition is one period, named so: partitions made in
    a session with another TimeZone. The server's own TimeZone first, then major cities,
    then other canonical names (``Region/City``)."""
    import zoneinfo

    ranges = parent.ranges()
    first = ranges[0].lower if ranges else None
    if parent.key_type != "timestamptz" or not hasattr(first, "utcoffset"):
        return []
    out = []
    for zone in sorted(zoneinfo.available_timezones()):
        local = first.astimezone(zoneinfo.ZoneInfo(zone))  # type: ignore[union-attr]
        if (local.hour, local.minute) != (0, 0):
            continue  # periods of a day or longer start at midnight
        try:
            infer(parent, zone, epoch)
        except SqlaPartitionError:
            continue
        out.append(zone)
    preferred = (server, *_MAJOR_ZONES)

    def rank(zone: str) -> tuple[int, int]:
        if zone in preferred:
            return 0, preferred.index(zone)
        canonical = "/" in zone and not zone.startswith(("Etc/", "US/", "SystemV/"))
        return (1 if canonical else 2), 0

    return sorted(out, key=rank)


def _interval_text(step: CalendarStep | int) -> str | int:
    if isinstance(step, int):
        return step
    return str(step)


def adopt(
    conn: Any, table: str, schema: str = "public", tz: str = "UTC", epoch: str | None = None
) -> Adoption:
    """The policy that describes ``schema.table`` as it is (psycopg 3 connection); an
    integer key is time since 1970 when ``epoch`` names its unit or pg_partman's
    configuration says so."""
    snap = read_snapshot(lambda q: conn.execute(q).fetchall(), table=(schema, table))
    parent = snap.parents.get((schema, table))
    if parent is None:
        raise SqlaPartitionError(
            f"{schema}.{table} is not a partitioned table; a plain table is converted by a "
            "migration (see docs/existing-tables.md)"
        )
    if parent.strategy == "list":
        return adopt_list(parent, table, schema)
    if parent.strategy != "range":
        raise SqlaPartitionError(
            f"{schema}.{table} is {parent.strategy}-partitioned; adopt reads range and list sets"
        )
    if epoch and parent.key_type != "integer":
        raise SqlaPartitionError(
            f"--epoch {epoch}: the key of {schema}.{table} is {parent.key_type}, not an "
            "integer count of time since 1970"
        )
    partman = partman_config(conn, parent)
    epoch = epoch or partman_epoch(partman)
    try:
        step, naming, prefix = infer(parent, tz, epoch)
    except SqlaPartitionError as exc:
        server = conn.execute(SERVER_TIMEZONE_QUERY).fetchone()
        zones = zones_that_fit(parent, epoch, server[0] if server else None)
        if not zones or tz in zones:
            raise
        others = f" (or {', '.join(zones[1:3])}{', …' if len(zones) > 3 else ''})"
        raise SqlaPartitionError(
            f"{exc}; its partitions are periods in {zones[0]}{others if len(zones) > 1 else ''}"
            f", not in {tz} (made in a session with that TimeZone, as Citus's "
            f"create_time_partitions does): sqla-partition adopt {schema}.{table} "
            f"--timezone {zones[0]}"
        ) from None
    notes: list[str] = []
    carried: dict[str, Any] = {}
    source = "by hand"
    if partman:
        source = f"by pg_partman {partman['version']}"
        carried, notes = carry_partman(partman, schema, table)
    retention = carried.get("retention")
    if retention is not None and isinstance(step, CalendarStep):
        retention = _retention_text(str(retention))
    citus, more = _citus_spread(conn, snap, parent, schema, table)
    notes += more
    policy = Range(
        parent.key_columns[0],
        interval=_interval_text(step),
        premake=carried.get("premake", 3),
        retention=retention,
        default=parent.default is not None,
        on_expire=carried.get("on_expire", "detach"),
        archive_schema=carried.get("archive_schema"),
        partition_prefix=prefix if prefix != table else None,
        naming=naming,
        epoch=epoch,
        timezone=tz,
        **citus,
    )
    bound = TablePolicy(table, policy, parent.key_type, None if schema == "public" else schema)
    return Adoption(bound, source, tuple(notes))


def _citus_spread(
    conn: Any, snap: Any, parent: Parent, schema: str, table: str
) -> tuple[dict[str, Any], list[str]]:
    """What the declaration says of Citus (read from Citus's catalog): a distributed table
    is declared ``distributed_by`` its column, colocated with a table sharing its shards,
    so that a fresh ``upgrade head`` distributes it as it is."""
    spread = snap.citus_tables.get((schema, table))
    if parent.citus == "single-shard":
        return {}, [
            f"{schema} is a distributed schema: Citus places its tables, so the declaration "
            f"says nothing of Citus (declare the model with schema={schema!r})"
        ]
    if parent.citus != "distributed" or spread is None or not spread.column:
        return {}, []
    out: dict[str, Any] = {"distributed_by": spread.column}
    row = conn.execute(colocated_table_query(table, schema)).fetchone()
    if row is not None:
        out["colocate_with"] = row[1] if row[0] == "public" else f"{row[0]}.{row[1]}"
    return out, []


def _retention_text(text: str) -> str:
    """pg_partman keeps intervals as PostgreSQL prints them (``1 year``, ``12 mons``,
    ``02:00:00``)."""
    clock = re.fullmatch(r"\s*(\d+):(\d\d):00\s*", text)
    if clock:
        minutes = int(clock.group(1)) * 60 + int(clock.group(2))
        return f"{minutes // 60} hours" if minutes % 60 == 0 else f"{minutes} minutes"
    return re.sub(r"\bmons?\b", lambda m: "months" if m.group(0) == "mons" else "month", text)


_LIST_BOUND = re.compile(r"^FOR VALUES IN \((?P<values>.*)\)$", re.S)
_TOKEN = re.compile(
    r"\s*(?:'((?:[^']|'')*)'(?:::[\w. \"]+)?|(-?\d+)|(true|false|NULL))\s*(,|$)", re.I
)


def list_values(bound: str) -> list[Any]:
    """The values of a ``FOR VALUES IN (...)`` bound as PostgreSQL prints it."""
    m = _LIST_BOUND.match(bound)
    if m is None:
        raise SqlaPartitionError(f"cannot read the list bound {bound!r}")
    text, out, pos = m.group("values"), [], 0
    while pos < len(text):
        t = _TOKEN.match(text, pos)
        if t is None or t.end() == pos:
            raise SqlaPartitionError(f"cannot read the list bound {bound!r}")
        quoted, number, word, _ = t.groups()
        if quoted is not None:
            out.append(quoted.replace("''", "'"))
        elif number is not None:
            out.append(int(number))
        else:
            out.append(None if word.upper() == "NULL" else word.lower() == "true")
        pos = t.end()
    return out


def adopt_list(parent: Parent, table: str, schema: str) -> Adoption:
    """The ``List`` that describes a list set: partitions named ``<prefix>_<name>``."""
    from ..declaration.lists import List

    children = [c for c in parent.children if not c.is_default]
    nested = [c.name for c in children if c.is_partitioned]
    if nested:
        raise SqlaPartitionError(
            f"{schema}.{table}: {nested[0]} is partitioned in turn; adopt reads list sets "
            "whose partitions are plain tables"
        )
    if not children:
        raise SqlaPartitionError(f"{schema}.{table} has no list partitions to describe")
    names = [c.name for c in children]
    prefix = table if all(n.startswith(table + "_") for n in names) else _common_prefix(names)
    if not prefix:
        raise SqlaPartitionError(
            f"{schema}.{table}: its partitions ({', '.join(names[:3])}, …) share no prefix "
            "ending in '_'; sqla-partition names list partitions <prefix>_<name>: rename them"
        )
    partitions = {c.name[len(prefix) + 1 :]: list_values(c.bound) for c in children}
    policy = List(
        parent.key_columns[0],
        partitions=partitions,
        default=parent.default is not None,
        partition_prefix=prefix if prefix != table else None,
    )
    bound = TablePolicy(table, policy, "list", None if schema == "public" else schema)
    default = parent.default
    if default is not None and default.name != bound.default_name:
        raise SqlaPartitionError(
            f"{schema}.{table}: its DEFAULT partition is {default.name}; sqla-partition "
            f"expects {bound.default_name}: ALTER TABLE {sql.qualified(default.name, schema)} "
            f"RENAME TO {sql.ident(bound.default_name)}"
        )
    return Adoption(bound, "by hand")


def _common_prefix(names: list[str]) -> str:
    common = os.path.commonprefix(names)
    cut = common.rfind("_")
    return common[:cut] if cut > 0 else ""


__all__ = ["Adoption", "adopt", "adopt_list", "infer", "list_values"]


def adopt_partitions(conn: Any, table: str, schema: str, names: tuple[str, ...]) -> list[str]:
    """Record attached partitions of a managed table as the tool's, so that retention may
    expire them; each must be a partition of that table now."""
    snap = read_snapshot(lambda q: conn.execute(q).fetchall(), table=(schema, table))
    parent = snap.parents.get((schema, table))
    if parent is None or parent.policy is None:
        raise SqlaPartitionError(
            f"{schema}.{table} is not a partitioned table managed by sqla-partition"
        )
    children = {c.name for c in parent.children}
    unknown = [n for n in names if n not in children]
    if unknown:
        raise SqlaPartitionError(
            f"{schema}.{table} has no partition named {', '.join(unknown)}; its partitions: "
            f"{', '.join(sorted(children)) or 'none'}"
        )
    with conn.transaction():
        conn.execute(sql.create_record_table().sql)
        conn.execute(sql.record_adopted(table, schema, names).sql)
    return list(dict.fromkeys(names))
