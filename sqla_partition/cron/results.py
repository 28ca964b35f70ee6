"""What a roll did, per table and in total: what the summary, JSON and metrics report."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..planning.roll import Step


class LockBudgetExhausted(Exception):
    """A step could not get its lock within ``lock_timeout`` after every retry."""


@dataclass
class RollOptions:
    lock_timeout_ms: int = 3000
    statement_timeout_ms: int = 600_000
    retries: int = 4
    backoff_s: float = 0.5
    #: Rows of one period moved out of a DEFAULT partition in the transaction that attaches
    #: the period's partition, writes to the table waiting meanwhile; a larger backlog
    #: waits for the operator (status ``backlog``).
    max_move_rows: int = 100_000
    #: How long to wait for another run working on a table (or the server process of a
    #: killed run, finishing its last statement) before reporting the table skipped.
    wait_for_other_s: float = 60.0
    #: New partitions of one table created per transaction when nothing is to be moved.
    create_group: int = 12
    tables: Sequence[str] = ()
    dry_run: bool = False
    #: The next scheduled run, if any: premake then covers until then.
    horizon: dt.datetime | None = None
    #: ``roll --place-default``: also create the partitions of every period DEFAULT rows fall
    #: in, however far ahead or behind, and move them; rows older than retention are
    #: ``keep`` (left, reported), ``archive`` (placed, then detached by retention) or
    #: ``delete`` (deleted). ``None``: a plain roll.
    place: str | None = None
    #: Tables worked on at once, each on a connection of its own (``roll --jobs``).
    jobs: int = 1
    #: Read and plan every table, also those a run found needing nothing and unchanged
    #: since (``roll --full``).
    full: bool = False


@dataclass
class TableResult:
    table: str
    #: (schema, name): ``table`` joins them with a dot, which a schema name may contain.
    key: tuple[str, str] = ("", "")
    status: str = "ok"  # ok | skipped | failed | locked | backlog
    created: list[str] = field(default_factory=list)
    moved_rows: int = 0
    detached: list[str] = field(default_factory=list)
    finalized: list[str] = field(default_factory=list)
    #: Detached partitions whose foreign keys were dropped.
    unlinked: list[str] = field(default_factory=list)
    archived: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    #: Rows older than retention left in the DEFAULT partition (``--expired keep``), and
    #: rows deleted from it (``--expired delete``).
    expired_rows: int = 0
    deleted_rows: int = 0
    lock_retries: int = 0
    longest_lock_wait_s: float = 0.0
    #: The longest a step held the table's writers (its parent lock until COMMIT).
    longest_write_hold_s: float = 0.0
    skipped: str | None = None
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sql: list[str] = field(default_factory=list)
    #: Left alone: unchanged since a run found it needed nothing, and not yet due.
    unchanged: bool = False

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out.pop("key")
        if not out["sql"]:
            out.pop("sql")
        if not out["unchanged"]:
            out.pop("unchanged")
        return out

    def record(self, step: Step) -> None:
        for member in step.members:
            self.record(member)
        if step.kind == "group":
            return
        done = {
            "create": self.created,
            "create_default": self.created,
            "detach": self.detached,
            "finalize_detach": self.finalized,
            "unlink": self.unlinked,
            "archive": self.archived,
            "drop": self.dropped,
        }
        done[step.kind].append(step.partition)

    @property
    def changed(self) -> bool:
        return bool(
            self.created or self.moved_rows or self.detached or self.dropped or self.archived
        )


@dataclass
class RollReport:
    now: dt.datetime
    tables: list[TableResult] = field(default_factory=list)
    standby: bool = False
    dry_run: bool = False
    duration_s: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        statuses = {t.status for t in self.tables}
        if "failed" in statuses:
            return 1
        if "locked" in statuses or "skipped" in statuses:
            return 3
        if "backlog" in statuses:
            return 4
        return 0

    def totals(self) -> dict[str, int]:
        return {
            "tables": len(self.tables),
            "unchanged": sum(t.unchanged for t in self.tables),
            "created": sum(len(t.created) for t in self.tables),
            "moved_rows": sum(t.moved_rows for t in self.tables),
            "detached": sum(len(t.detached) for t in self.tables),
            "dropped": sum(len(t.dropped) for t in self.tables),
            "archived": sum(len(t.archived) for t in self.tables),
            "failed": sum(t.status == "failed" for t in self.tables),
            "locked": sum(t.status == "locked" for t in self.tables),
            "skipped": sum(t.status == "skipped" for t in self.tables),
            "backlog": sum(t.status == "backlog" for t in self.tables),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.exit_code == 0,
            "exit_code": self.exit_code,
            "now": self.now.isoformat(),
            "standby": self.standby,
            "dry_run": self.dry_run,
            "duration_s": round(self.duration_s, 3),
            "totals": self.totals(),
            "warnings": self.warnings,
            "tables": [t.as_dict() for t in self.tables],
        }
