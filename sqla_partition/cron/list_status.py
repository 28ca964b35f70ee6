"""``status`` and ``check`` for list-partitioned tables: their partitions as declared and
what waits in their DEFAULT partition."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from .. import sql
from ..catalog.snapshot import Snapshot
from ..declaration.lists import List


@dataclass
class ListStatus:
    table: str
    policy: str
    partitions: int
    #: Declared partitions that are not attached (detached by hand, say): their values'
    #: rows go to the DEFAULT, or fail without one.
    missing: list[str] = field(default_factory=list)
    default_rows: int | None = None
    #: The values in the DEFAULT with their rows, the most first (at most 20).
    default_values: list[tuple[str | None, int]] = field(default_factory=list)
    #: Values in the DEFAULT that a declared partition lists (it is missing).
    listed_in_default: list[str | None] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def list_statuses(
    conn: psycopg.Connection, snap: Snapshot, wanted: Sequence[str] = ()
) -> list[ListStatus]:
    out = []
    for key, parent in sorted(snap.parents.items()):
        bound = parent.policy
        name = ".".join(key)
        if bound is None or not isinstance(bound.policy, List) or parent.strategy != "list":
            continue
        if wanted and name not in wanted and key[1] not in wanted:
            continue
        p = bound.policy
        attached = {c.name for c in parent.children}
        status = ListStatus(
            table=name,
            policy=repr(p),
            partitions=sum(1 for c in parent.children if not c.is_default),
            missing=[
                bound.list_name(n) for n in p.partitions if bound.list_name(n) not in attached
            ],
        )
        default = parent.default
        if default is not None:
            rows = conn.execute(
                sql.default_values_query(default.name, p.column, parent.schema)  # type: ignore[arg-type]
            ).fetchall()
            status.default_values = [(v, int(n)) for v, n in rows]
            count = conn.execute(
                sql.default_rows_query(default.name, parent.schema)  # type: ignore[arg-type]
            ).fetchone()
            status.default_rows = int(count[0]) if count else 0
            listed = {str(v) if v is not None else None for vs in p.partitions.values() for v in vs}
            booleans = {"True": "true", "False": "false"}
            listed = {booleans.get(v, v) if v is not None else None for v in listed}
            status.listed_in_default = [v for v, _ in status.default_values if v in listed]
        out.append(status)
    return out


def list_problems(statuses: Sequence[ListStatus]) -> list[str]:
    out = []
    for s in statuses:
        if s.missing:
            out.append(
                f"{s.table}: declared partitions not attached: {', '.join(s.missing[:4])} "
                "(their values' rows go to the DEFAULT, or fail without one)"
            )
        if s.listed_in_default:
            shown = ", ".join(repr(v) for v in s.listed_in_default[:4])
            out.append(f"{s.table}: rows of listed values wait in the DEFAULT ({shown})")
    return out


def list_lines(s: ListStatus) -> list[str]:
    lines = [f"{s.table}  {s.policy}", f"  {s.partitions} list partitions"]
    if s.missing:
        lines.append(f"  missing: {', '.join(s.missing)}")
    if s.default_rows is not None:
        values = ", ".join(f"{v!r} {n}" for v, n in s.default_values[:10])
        more = ", …" if len(s.default_values) > 10 else ""
        lines.append(
            f"  {s.default_rows} rows in DEFAULT" + (f": {values}{more}" if values else "")
        )
    return lines
