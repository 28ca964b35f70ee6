"""Offline SQL (``alembic upgrade --sql``) in which every statement names its lock: the
tool's operations annotate their own; Alembic's (a parent's ``CREATE TABLE``, a plain
table, an index, ``alembic_version``) get the lock PostgreSQL takes for their kind."""

from __future__ import annotations

import io
import re
from typing import Any, TextIO

from ..sql.statement import inert

_NAME = r'((?:"[^"]+"|[\w$]+)(?:\.(?:"[^"]+"|[\w$]+))?)'

#: (pattern, note): the first match names the statement's lock; ``{0}`` is the table.
_KINDS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE | re.DOTALL), note)
    for pattern, note in (
        (
            rf"^CREATE\s+(?:UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?{_NAME}",
            "ACCESS EXCLUSIVE on {0}: the table is new, nobody else can see it yet",
        ),
        (
            rf"^CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+.*?\bON\s+(?:ONLY\s+)?{_NAME}",
            "SHARE UPDATE EXCLUSIVE on {0}: reads and writes continue while it builds",
        ),
        (
            rf"^CREATE\s+(?:UNIQUE\s+)?INDEX\s+.*?\bON\s+(?:ONLY\s+)?{_NAME}",
            "SHARE on {0}: writes wait until the index is built, reads continue; on a large "
            "live table build it CONCURRENTLY (op.create_index_online)",
        ),
        (
            rf"^(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+{_NAME}",
            "ROW EXCLUSIVE on {0}: the rows written only",
        ),
        (
            rf"^ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?{_NAME}",
            "ACCESS EXCLUSIVE on {0} (SHARE ROW EXCLUSIVE to add a foreign key): reads and "
            "writes wait, bounded by lock_timeout",
        ),
        (
            rf"^DROP\s+(?:TABLE|INDEX)\s+(?:IF\s+EXISTS\s+)?{_NAME}",
            "ACCESS EXCLUSIVE on {0}: reads and writes wait, bounded by lock_timeout",
        ),
        (
            rf"^COMMENT\s+ON\s+(?:TABLE|COLUMN)\s+{_NAME}",
            "SHARE UPDATE EXCLUSIVE on {0}: reads and writes continue",
        ),
        (
            r"^(?:SET|RESET|SELECT\s+pg_catalog\.set_config|SELECT\s+set_config)\b",
            "no lock: a setting of this session",
        ),
        (
            r"^(?:CREATE|ALTER|DROP)\s+(?:TYPE|SCHEMA|EXTENSION|SEQUENCE|FUNCTION|"
            r"OR\s+REPLACE\s+FUNCTION|DOMAIN|VIEW|OR\s+REPLACE\s+VIEW)\b",
            "no table lock: the object itself only",
        ),
    )
)
_BARE = re.compile(r"^(?:BEGIN|COMMIT|ROLLBACK|START\s+TRANSACTION)\s*;?\s*$", re.IGNORECASE)


def lock_note(statement: str) -> str | None:
    """The lock a statement of Alembic's takes, as the tool's comments name theirs;
    ``None`` for transaction control and comments."""
    text = statement.strip()
    if not text or text.startswith("--") or _BARE.match(text):
        return None
    for pattern, note in _KINDS:
        m = pattern.match(text)
        if m:
            return note.format(*(g.strip('"') for g in m.groups()))
    return "the lock PostgreSQL takes for this statement (not one of sqla-partition's)"


class _LockNotes(io.TextIOBase):
    """Writes each statement after a ``-- <lock>`` line of its own, unless it has one."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def write(self, text: str) -> int:
        note = lock_note(text)
        return self.out.write(f"-- {inert(note)}\n{text}" if note else text)

    def flush(self) -> None:
        self.out.flush()


def with_lock_notes(out: Any) -> TextIO:
    """An output buffer for ``context.configure(output_buffer=...)`` in offline mode."""
    return _LockNotes(out)  # type: ignore[return-value]
