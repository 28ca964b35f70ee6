"""Partitioning policies as plain, validated values.

``Range`` and ``Hash`` are what users write on a model; ``TablePolicy`` binds one to a
table and its key type. Nothing here imports SQLAlchemy, so the cron path stays light.
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import PolicyError
from .periods import PARTITION_STEPS, CalendarStep, Stepper, parse_step

MAX_IDENTIFIER_BYTES = 63
KEY_TYPES = ("timestamptz", "timestamp", "date", "integer")
EXPIRE_MODES = ("detach", "drop")


def check_identifier(name: str, what: str) -> str:
    """Refuse names PostgreSQL would silently truncate to 63 bytes."""
    size = len(name.encode("utf-8"))
    if size > MAX_IDENTIFIER_BYTES:
        raise PolicyError(
            f"{what} {name!r} is {size} bytes; PostgreSQL truncates names over "
            f"{MAX_IDENTIFIER_BYTES} bytes. Use a shorter table name or set partition_prefix="
        )
    return name


class _Policy:
    kind: ClassVar[str]
    #: Shown in migration files even at their default, so a later default cannot change
    #: what an old migration means.
    _always_shown: ClassVar[tuple[str, ...]] = ()

    def __set_name__(self, owner: type, name: str) -> None:
        # Declarative classes are mapped right after their body runs; watch for that.
        if name == "__partitioning__":
            from .declare import watch_mappers

            watch_mappers()

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}  # type: ignore[call-overload]

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def __repr__(self) -> str:
        parts = [repr(self.column)]  # type: ignore[attr-defined]
        for f in fields(self):  # type: ignore[arg-type]
            if f.name == "column":
                continue
            value = getattr(self, f.name)
            if value != f.default or f.name in self._always_shown:
                parts.append(f"{f.name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


@dataclass(frozen=True, eq=True, repr=False)
class Range(_Policy):
    """Range partitioning by a time or integer column.

    ``interval`` is a calendar step for time keys (``"1 day"``, ``"1 week"``,
    ``"1 month"``, ``"3 months"``, ``"1 year"``) or a positive integer width for integer
    keys. ``premake`` periods beyond the current one always exist; partitions entirely
    older than ``retention`` are detached (``on_expire="detach"``) or, only when asked,
    dropped (``on_expire="drop"``). ``timezone`` is where period boundaries fall.
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

    def __post_init__(self) -> None:
        if not isinstance(self.column, str) or not self.column:
            raise PolicyError(f"Range() needs the partition key column name, got {self.column!r}")
        if isinstance(self.premake, bool) or not isinstance(self.premake, int):
            raise PolicyError(f"premake must be a whole number of periods, got {self.premake!r}")
        if self.premake < 1:
            raise PolicyError(
                f"premake={self.premake} must be at least 1: the next period's partition "
                "must exist before the first row of that period arrives"
            )
        step = self.step
        if self.retention is not None:
            self._check_retention(step)
        if not isinstance(self.default, bool):
            raise PolicyError(f"default must be True or False, got {self.default!r}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise PolicyError(
                f"unknown timezone {self.timezone!r}: use an IANA name such as 'UTC' or "
                "'Europe/Berlin'"
            ) from None
        if self.on_expire not in EXPIRE_MODES:
            raise PolicyError(
                f"on_expire={self.on_expire!r}: use 'detach' (default, keeps the data) or "
                "'drop' (deletes expired partitions)"
            )

    @functools.cached_property
    def step(self) -> CalendarStep | int:
        if isinstance(self.interval, bool):
            raise PolicyError(f"unknown interval {self.interval!r}")
        if isinstance(self.interval, int):
            if self.interval <= 0:
                raise PolicyError(f"integer interval must be positive, got {self.interval}")
            return self.interval
        step = parse_step(self.interval)
        if (step.count, step.unit) not in PARTITION_STEPS:
            raise PolicyError(
                f"unsupported interval {self.interval!r}: partitions can span 1 day, 1 week, "
                "1 month, 3 months or 1 year"
            )
        return step

    @functools.cached_property
    def retention_step(self) -> CalendarStep | int | None:
        if self.retention is None:
            return None
        if isinstance(self.retention, int) and not isinstance(self.retention, bool):
            return self.retention
        return parse_step(self.retention, what="retention")  # type: ignore[arg-type]

    def _check_retention(self, step: CalendarStep | int) -> None:
        keep = self.retention_step
        if isinstance(step, int) != isinstance(keep, int):
            kind = "an integer width" if isinstance(step, int) else "a calendar span"
            raise PolicyError(f"retention={self.retention!r} must be {kind}, like the interval")
        if isinstance(step, int):
            assert isinstance(keep, int)
            short = keep < step
        else:
            assert isinstance(keep, CalendarStep)
            short = keep.approx_days() < step.approx_days()
        if short:
            raise PolicyError(
                f"retention={self.retention!r} is shorter than one interval ({self.interval!r}): "
                "every partition would expire as soon as it is created"
            )


@dataclass(frozen=True, eq=True, repr=False)
class Hash(_Policy):
    """Hash partitioning into ``partitions`` children (``MODULUS partitions``)."""

    kind: ClassVar[str] = "hash"
    _always_shown: ClassVar[tuple[str, ...]] = ("partitions",)

    column: str
    partitions: int = 8
    partition_prefix: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.column, str) or not self.column:
            raise PolicyError(f"Hash() needs the partition key column name, got {self.column!r}")
        if isinstance(self.partitions, bool) or not isinstance(self.partitions, int):
            raise PolicyError(f"partitions must be a whole number, got {self.partitions!r}")
        if self.partitions < 2:
            raise PolicyError(f"partitions={self.partitions} must be at least 2")


Policy = Range | Hash


def policy_from_dict(data: dict[str, Any]) -> Policy:
    """Rebuild a policy recorded in the database; unknown keys are a newer version's."""
    data = dict(data)
    kind = data.pop("kind", "range")
    cls = {"range": Range, "hash": Hash}.get(kind)
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

    def __post_init__(self) -> None:
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
            if not isinstance(self.policy.step, int) and self.key_type == "integer":
                raise PolicyError(
                    f"{self.table}: {self.policy.column!r} is an integer column; give an "
                    f"integer interval such as interval=1_000_000, not {self.policy.interval!r}"
                )
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
        return Stepper(self.key_type, self.policy.step, self.policy.timezone)

    def partition_name(self, suffix: str) -> str:
        return check_identifier(f"{self.prefix}_{suffix}", f"{self.table}: partition name")

    @property
    def default_name(self) -> str:
        return check_identifier(f"{self.prefix}_default", f"{self.table}: partition name")

    def hash_name(self, remainder: int) -> str:
        assert isinstance(self.policy, Hash)
        width = len(str(self.policy.partitions - 1))
        return f"{self.prefix}_h{remainder:0{width}d}"

    def names_to_check(self) -> list[str]:
        """The longest names this policy can generate, with the ``_pkey`` PostgreSQL adds."""
        if isinstance(self.policy, Hash):
            longest = self.hash_name(self.policy.partitions - 1)
        else:
            longest = f"{self.prefix}_{'x' * self.stepper().suffix_width()}"
        return [longest, f"{longest}_pkey", f"{self.prefix}_default"]
