"""Partitioning policies as plain, validated values.

``Range`` and ``Hash`` are what users write on a model; ``TablePolicy`` binds one to a
table and its key type. Nothing here imports SQLAlchemy, so the cron path stays light.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar, Union

from ..errors import PolicyError, Problems
from ..sql.names import check_identifier
from . import base
from .base import _Policy
from .checks import check_colocation as _check_colocation
from .checks import check_range
from .periods import EPOCH_UNITS, CalendarStep, Stepper, parse_step

if TYPE_CHECKING:
    from .lists import List

KEY_TYPES = ("timestamptz", "timestamp", "date", "integer")

#: At most this many hash partitions: each statement without the key plans them all.
MAX_HASH_PARTITIONS = 1024


@dataclass(frozen=True, eq=True, repr=False)
class Range(_Policy):
    """Range partitioning by a time or integer column.

    ``interval`` is a calendar step for time keys (any positive count of minutes, hours,
    days, weeks, months or years: ``"15 minutes"``, ``"1 hour"``, ``"1 day"``,
    ``"2 weeks"``, ``"1 month"``, ``"3 months"``, ``"1 year"``; see
    :mod:`sqla_partition.declaration.periods` for where periods start) or a positive
    integer width for integer keys. ``premake`` periods beyond the current one always
    exist; partitions entirely older than ``retention`` are detached
    (``on_expire="detach"``) or, only when asked, dropped (``on_expire="drop"``). A
    detached partition loses the foreign keys it had (they would block deletes of the rows
    it references, and downgrades) unless ``keep_foreign_keys``. ``timezone`` is where
    period boundaries fall.
    """

    kind: ClassVar[str] = "range"
    _always_shown: ClassVar[tuple[str, ...]] = ("interval", "premake")

    column: str
    interval: str | int = "1 month"
    premake: int = 3
    retention: str | int | None = None
    default: bool = False
    timezone: str = "UTC"
    on_expire: str = "detach"
    archive_schema: str | None = None
    partition_prefix: str | None = None
    naming: str = "sqla"
    #: Each range partition partitioned in turn: ``Hash(...)``, or ``Range(...)`` on a time
    #: key (each partition then rolls as a table of its own).
    subpartition: Hash | Range | None = None
    #: On Citus, the column the table is distributed by (``create_distributed_table``).
    distributed_by: str | None = None
    colocate_with: str | None = None
    keep_foreign_keys: bool = False
    #: An integer column of time since 1970 in these units (``"seconds"``,
    #: ``"milliseconds"``, ``"microseconds"``, ``"nanoseconds"``): partitions follow
    #: ``interval`` on the calendar and are named by date; bounds are integers.
    epoch: str | None = None
    #: Where one period starts, for periods that do not start where the counts from 1970
    #: put them: ``"2026-04-01"`` for years from April, ``"2026-01-04"`` for weeks from
    #: Sunday, ``"2026-01-01T06:00"`` for 12-hour shifts from six o'clock.
    anchor: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.subpartition, dict):  # as recorded in the database
            data = dict(self.subpartition)
            kind = Range if data.pop("kind", "hash") == "range" else Hash
            known = {f.name for f in fields(kind)}
            sub = kind(**{k: v for k, v in data.items() if k in known})
            object.__setattr__(self, "subpartition", sub)
        check_range(self)

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if isinstance(self.subpartition, Range):  # so that it reads back as a Range
            out["subpartition"] = self.subpartition.to_dict()
        return out

    @functools.cached_property
    def step(self) -> CalendarStep | int:
        if isinstance(self.interval, bool):
            raise PolicyError(f"unknown interval {self.interval!r}")
        if isinstance(self.interval, int):
            if self.interval <= 0:
                raise PolicyError(f"integer interval must be positive, got {self.interval}")
            if self.epoch is not None:
                raise PolicyError(
                    f"interval={self.interval!r} with epoch={self.epoch!r}: give a calendar "
                    "interval such as '1 day' (an epoch column's periods follow the calendar)"
                )
            return self.interval
        return parse_step(self.interval)

    @functools.cached_property
    def anchor_time(self) -> dt.datetime | None:
        if self.anchor is None:
            return None
        return dt.datetime.fromisoformat(self.anchor)

    @functools.cached_property
    def retention_step(self) -> CalendarStep | int | None:
        if self.retention is None:
            return None
        if isinstance(self.retention, int) and not isinstance(self.retention, bool):
            return self.retention
        return parse_step(self.retention, what="retention")  # type: ignore[arg-type]


@dataclass(frozen=True, eq=True, repr=False)
class Hash(_Policy):
    """Hash partitioning into ``partitions`` children (``MODULUS partitions``)."""

    kind: ClassVar[str] = "hash"
    _always_shown: ClassVar[tuple[str, ...]] = ("partitions",)

    column: str
    partitions: int = 8
    partition_prefix: str | None = None
    #: On Citus, a distributed table with ``partitions`` shards instead of local hash
    #: partitions. ``None``: distributed when the database has the citus extension.
    distributed: bool | None = None
    colocate_with: str | None = None

    def __post_init__(self) -> None:
        found = Problems(f"Hash({self.column!r})")
        if not isinstance(self.column, str) or not self.column:
            found.add(f"Hash() needs the partition key column name, got {self.column!r}")
        found.run(self._check_partitions)
        if self.distributed not in (None, True, False):
            found.add(f"distributed must be True, False or None, got {self.distributed!r}")
        found.run(
            lambda: _check_colocation(
                self.colocate_with,
                self.distributed is not False,
                "drop it, or drop distributed=False",
            )
        )
        found.raise_any()

    def _check_partitions(self) -> None:
        if isinstance(self.partitions, bool) or not isinstance(self.partitions, int):
            raise PolicyError(f"partitions must be a whole number, got {self.partitions!r}")
        if self.partitions < 2:
            raise PolicyError(f"partitions={self.partitions} must be at least 2")
        if self.partitions > MAX_HASH_PARTITIONS:
            raise PolicyError(
                f"partitions={self.partitions} is more than {MAX_HASH_PARTITIONS}: every "
                "statement that does not name the key plans and locks every partition; "
                "beyond one machine, distribute the table with Citus instead"
            )

    @property
    def shard_count(self) -> int | None:
        """Citus refuses a shard count beside ``colocate_with`` naming a table: the shard
        count is then that table's."""
        return self.partitions if self.colocate_with in (None, "default", "none") else None


Policy = Union[Range, Hash, "List"]


@dataclass(frozen=True)
class Reference:
    """A small lookup table Citus copies to every node (``create_reference_table``), so
    distributed tables can join it locally. Declared as ``__distribution__ = Reference()``.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        if name == "__distribution__":
            base.on_declared()

    def __repr__(self) -> str:
        return "Reference()"


def policy_from_dict(data: dict[str, Any]) -> Policy:
    """Rebuild a policy recorded in the database; unknown keys are a newer version's."""
    data = dict(data)
    kind = data.pop("kind", "range")
    cls: Any = {"range": Range, "hash": Hash, **base.MORE_KINDS}.get(kind)
    if cls is None:
        raise PolicyError(f"unknown policy kind {kind!r}")
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class TablePolicy:
    """A policy bound to one table and the type of its key column."""

    table: str
    policy: Policy
    key_type: str = "timestamptz"
    schema: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    #: The key type of a ``Range`` sub-partition (recorded as ``timestamptz:timestamp``,
    #: the range key's then the sub-partitions').
    sub_key_type: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.policy, Range) and ":" in self.key_type:
            top, sub = self.key_type.split(":", 1)
            object.__setattr__(self, "key_type", top)
            object.__setattr__(self, "sub_key_type", sub)
        sub_range = isinstance(self.policy, Range) and isinstance(self.policy.subpartition, Range)
        if sub_range and self.sub_key_type is None:
            raise PolicyError(
                f"{self.table}: subpartition=Range({self.policy.subpartition.column!r}) "
                "needs the type of its key: key_type='<range key type>:<its type>', "
                "such as 'integer:timestamptz'"
            )
        if self.key_type not in KEY_TYPES and isinstance(self.policy, Range):
            raise PolicyError(
                f"{self.table}: range key {self.policy.column!r} has type {self.key_type}; "
                "use timestamptz, timestamp, date or an integer column"
            )
        if isinstance(self.policy, Range):
            if isinstance(self.policy.step, int) and self.key_type != "integer":
                raise PolicyError(
                    f"{self.table}: integer interval {self.policy.interval!r} needs an integer "
                    f"key, but {self.policy.column!r} is {self.key_type}; use an interval "
                    "such as '1 month'"
                )
            step = self.policy.step
            if isinstance(step, CalendarStep) and step.sub_day and self.key_type == "date":
                raise PolicyError(
                    f"{self.table}: {self.policy.column!r} is a date column, which holds no "
                    f"time of day; interval {self.policy.interval!r} needs a timestamp or "
                    "timestamptz column (or use interval='1 day' or longer)"
                )
            if self.policy.epoch is not None and self.key_type != "integer":
                raise PolicyError(
                    f"{self.table}: epoch={self.policy.epoch!r} needs an integer column, but "
                    f"{self.policy.column!r} is {self.key_type}; leave epoch out"
                )
            if (
                not isinstance(self.policy.step, int)
                and self.key_type == "integer"
                and self.policy.epoch is None
            ):
                raise PolicyError(
                    f"{self.table}: {self.policy.column!r} is an integer column; give an "
                    f"integer interval such as interval=1_000_000, not {self.policy.interval!r}, "
                    "or, if it holds time since 1970, say in which unit: epoch='seconds' "
                    "(or 'milliseconds', 'microseconds', 'nanoseconds')"
                )
        check_identifier(self.table, "table name")  # too long itself: no prefix helps
        for name in self.names_to_check():
            check_identifier(name, f"{self.table}: generated name")

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.table}" if self.schema else self.table

    @property
    def prefix(self) -> str:
        return self.policy.partition_prefix or self.table

    def stepper(self) -> Stepper:
        assert isinstance(self.policy, Range)
        p = self.policy
        epoch = EPOCH_UNITS[p.epoch] if p.epoch else 0
        return Stepper(self.key_type, p.step, p.timezone, p.naming, p.anchor_time, epoch)

    @property
    def by_data(self) -> bool:
        """An integer key whose "now" is where its rows have reached (not an epoch column,
        whose "now" is the clock)."""
        return self.key_type == "integer" and not (
            isinstance(self.policy, Range) and self.policy.epoch
        )

    def partition_name(self, suffix: str) -> str:
        return check_identifier(f"{self.prefix}_{suffix}", f"{self.table}: partition name")

    @property
    def default_name(self) -> str:
        return check_identifier(f"{self.prefix}_default", f"{self.table}: partition name")

    def list_name(self, partition: str) -> str:
        """The table of list partition ``partition``: ``orders_eu``."""
        return check_identifier(f"{self.prefix}_{partition}", f"{self.table}: partition name")

    def list_sub_policy(self, partition: str) -> TablePolicy | None:
        """A list partition partitioned in turn, as a table of its own (``orders_eu`` by
        ``Range``: rolled like any range table); the key type follows ``list:``."""
        sub = getattr(self.policy, "subpartition", None)
        if self.policy.kind != "list" or sub is None:
            return None
        key_type = self.key_type.split(":", 1)[1] if isinstance(sub, Range) else "hash"
        return TablePolicy(self.list_name(partition), sub, key_type, self.schema)

    @property
    def recorded_key_type(self) -> str:
        """As the policy table keeps it (with the sub-partitions' key type, if any)."""
        return f"{self.key_type}:{self.sub_key_type}" if self.sub_key_type else self.key_type

    def range_sub_policy(self, partition: str) -> TablePolicy | None:
        """A range partition partitioned by ``Range`` in turn, as a table of its own:
        ``events_p2026_11`` by day, its partitions ``events_p2026_11_p2026_11_05``."""
        sub = self.policy.subpartition if isinstance(self.policy, Range) else None
        if not isinstance(sub, Range):
            return None
        return TablePolicy(partition, sub, self.sub_key_type or "timestamptz", self.schema)

    def hash_name(self, remainder: int) -> str:
        assert isinstance(self.policy, Hash)
        return _hash_child(self.prefix, self.policy.partitions, remainder)

    @property
    def subpartition(self) -> Hash | None:
        """The hash sub-partitions of each range partition (a ``Range`` sub-partition is a
        table of its own: :meth:`range_sub_policy`)."""
        sub = self.policy.subpartition if isinstance(self.policy, Range) else None
        return sub if isinstance(sub, Hash) else None

    def sub_names(self, partition: str) -> list[tuple[int, str]]:
        """``(remainder, name)`` of the hash partitions of one range partition."""
        sub = self.subpartition
        assert sub is not None
        return [(r, _hash_child(partition, sub.partitions, r)) for r in range(sub.partitions)]

    def names_to_check(self) -> list[str]:
        """The longest names this policy can generate, with the ``_pkey`` PostgreSQL adds."""
        if isinstance(self.policy, Hash):
            longest = self.hash_name(self.policy.partitions - 1)
        elif self.policy.kind == "list":
            names = [self.list_name(n) for n in self.policy.partitions]  # type: ignore[union-attr]
            longest = max(names, key=lambda n: len(n.encode("utf-8")))
            subs = [self.list_sub_policy(n) for n in self.policy.partitions]  # type: ignore[union-attr]
            for sub in subs:
                if sub is not None:
                    for name in sub.names_to_check():
                        check_identifier(name, f"{self.table}: generated name")
        else:
            longest = f"{self.prefix}_{'x' * self.stepper().suffix_width()}"
            if self.subpartition is not None:
                longest = self.sub_names(longest)[-1][1]
            ranged = self.range_sub_policy(longest)
            if ranged is not None:
                longest = ranged.names_to_check()[0]
        return [longest, f"{longest}_pkey", f"{self.prefix}_default"]


def _hash_child(prefix: str, partitions: int, remainder: int) -> str:
    return f"{prefix}_h{remainder:0{len(str(partitions - 1))}d}"
