"""``List``: a partition per set of values (a region, a tier, a status), as a plain value."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import PolicyError, Problems
from . import base
from .base import _Policy
from .policies import Hash, Range, _check_colocation

#: What a listed value may be: PostgreSQL compares it with the key column's type (text,
#: integer, boolean, date and enums as their labels); ``None`` lists NULL.
Value = str | int | bool | None

#: At most this many partitions: each statement without the key plans them all.
MAX_LIST_PARTITIONS = 1024


def _value(table_hint: str, value: Any) -> Value:
    if isinstance(value, dt.datetime):
        raise PolicyError(f"{table_hint}: list a date, not a timestamp: {value!r}")
    if isinstance(value, dt.date):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, bool)):
        return value
    raise PolicyError(
        f"{table_hint}: {value!r} cannot be listed; use text, integer, boolean, date or None"
    )


def _partition(name: Any, values: Any) -> tuple[Value, ...]:
    if not isinstance(name, str) or not name or "\x00" in name:
        raise PolicyError(f"partition names are non-empty text, got {name!r}")
    if name == "default":
        raise PolicyError("'default' names the DEFAULT partition; declare default=True instead")
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise PolicyError(f"{name!r}: list its values, e.g. [{values!r}]")
    if not values:
        raise PolicyError(f"{name!r}: a partition needs at least one value")
    found = Problems(name)
    listed = tuple(found.run(_value, name, v) for v in values)
    found.raise_any()
    return listed


@dataclass(frozen=True, eq=True, repr=False)
class List(_Policy):
    """List partitioning: ``partitions`` maps each partition's name (the suffix of
    ``orders_eu``) to the values it holds; ``default=True`` adds ``orders_default`` for
    every other value, so no insert fails for want of a partition."""

    kind: ClassVar[str] = "list"
    _always_shown: ClassVar[tuple[str, ...]] = ("partitions",)

    column: str
    partitions: Mapping[str, Sequence[Value]]
    default: bool = False
    partition_prefix: str | None = None
    #: Each list partition partitioned in turn: ``Range`` (rolled by ``roll`` like any range
    #: table, under its own name) or ``Hash``.
    subpartition: Range | Hash | None = None
    #: On Citus, the column the table is distributed by (``create_distributed_table``); its
    #: list partitions, later ones included, are distributed and colocated with it.
    distributed_by: str | None = None
    colocate_with: str | None = None

    def __post_init__(self) -> None:
        found = Problems(f"List({self.column!r})")
        if not isinstance(self.column, str) or not self.column:
            found.add(f"List() needs the partition key column name, got {self.column!r}")
        normal = found.run(self._normal_partitions)
        if normal is not None:
            object.__setattr__(self, "partitions", normal)
        if not isinstance(self.default, bool):
            found.add(f"default must be True or False, got {self.default!r}")
        if isinstance(self.subpartition, dict):  # as recorded in the database
            sub = dict(self.subpartition)
            kind = sub.pop("kind", "range")
            object.__setattr__(self, "subpartition", (Hash if kind == "hash" else Range)(**sub))
        if self.subpartition is not None:
            found.run(self._check_subpartition)
        if self.distributed_by is not None:
            if not isinstance(self.distributed_by, str) or not self.distributed_by:
                found.add(f"distributed_by must be a column name, got {self.distributed_by!r}")
            if self.subpartition is not None:
                found.add(
                    "Citus does not distribute multi-level partitioned tables: use "
                    "distributed_by or subpartition, not both"
                )
        found.run(
            lambda: _check_colocation(
                self.colocate_with, self.distributed_by is not None, "a local table"
            )
        )
        found.raise_any()

    def _normal_partitions(self) -> dict[str, tuple[Value, ...]]:
        """Each partition's values as a tuple, every partition's problems gathered."""
        if isinstance(self.partitions, Sequence) and not isinstance(self.partitions, str):
            pairs = list(self.partitions)  # as recorded: [[name, [values]], ...]
        elif isinstance(self.partitions, Mapping):
            pairs = list(self.partitions.items())
        else:
            raise PolicyError(
                f"partitions must map partition names to values, e.g. "
                f"{{'eu': ['de', 'fr']}}, got {self.partitions!r}"
            )
        if not pairs:
            raise PolicyError("List() needs at least one partition")
        if len(pairs) > MAX_LIST_PARTITIONS:
            raise PolicyError(
                f"{len(pairs)} list partitions is more than {MAX_LIST_PARTITIONS}: every "
                "statement that does not name the key plans and locks every partition"
            )
        found = Problems(f"List({self.column!r})")
        normal: dict[str, tuple[Value, ...]] = {}
        owner: dict[Any, str] = {}
        for name, values in pairs:
            listed = found.run(_partition, name, values)
            for v in listed or ():
                seen = (type(v).__name__, v)
                if seen in owner:
                    found.add(
                        f"{v!r} is listed by both {owner[seen]!r} and {name!r}; a value "
                        "belongs to one partition"
                    )
                owner.setdefault(seen, name)
            normal[name] = listed or ()
        kinds = {type(v) for vs in normal.values() for v in vs if v is not None}
        if len(kinds) > 1:
            found.add(
                f"the values of List({self.column!r}) mix types "
                f"({', '.join(sorted(k.__name__ for k in kinds))}); list one type"
            )
        found.raise_any()
        return normal

    def _check_subpartition(self) -> None:
        sub = self.subpartition
        if not isinstance(sub, (Range, Hash)):
            raise PolicyError(
                f"subpartition must be Range(...) or Hash(...), got {sub!r}: each list "
                "partition is then partitioned in turn"
            )
        if sub.column == self.column:
            raise PolicyError(f"subpartition partitions by the list key {sub.column!r} again")
        if sub.partition_prefix is not None:
            raise PolicyError(
                "subpartition takes no partition_prefix: its partitions are named after the "
                "list partition they belong to"
            )
        if isinstance(sub, Range) and (sub.subpartition or sub.distributed_by):
            raise PolicyError("subpartition=Range(...) takes no subpartition or distributed_by")
        if isinstance(sub, Hash) and sub.distributed:
            raise PolicyError("subpartition=Hash(...) is local; it cannot be distributed")
        if isinstance(sub, Range) and self.default and not sub.default:
            raise PolicyError(
                "List(default=True) with subpartition=Range(...) needs Range(default=True): a "
                "new list partition takes rows of any date out of the DEFAULT"
            )

    def __hash__(self) -> int:
        return hash(
            (self.column, tuple(self.partitions.items()), self.default, self.distributed_by)
        )

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["partitions"] = [[n, list(vs)] for n, vs in self.partitions.items()]
        if self.subpartition is not None:
            out["subpartition"] = self.subpartition.to_dict()
        return out

    def __repr__(self) -> str:
        shown = {n: list(vs) for n, vs in self.partitions.items()}
        parts = [repr(self.column), f"partitions={shown!r}"]
        if self.default:
            parts.append("default=True")
        if self.partition_prefix is not None:
            parts.append(f"partition_prefix={self.partition_prefix!r}")
        if self.subpartition is not None:
            parts.append(f"subpartition={self.subpartition!r}")
        for name in ("distributed_by", "colocate_with"):
            if getattr(self, name) is not None:
                parts.append(f"{name}={getattr(self, name)!r}")
        return f"List({', '.join(parts)})"

    def owner_of(self, value: Value) -> str | None:
        """The partition listing ``value``, if any."""
        return next(
            (
                n
                for n, vs in self.partitions.items()
                if any(type(v) is type(value) and v == value for v in vs)
            ),
            None,
        )


base.MORE_KINDS["list"] = List
