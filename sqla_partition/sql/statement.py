"""A statement with the lock it takes, why that is acceptable, and how it must run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Statement:
    """One statement, the lock it takes and why that is acceptable."""

    sql: str
    lock: str
    why: str = ""
    transactional: bool = True
    #: Its row count is the number of rows moved (reported by ``roll``).
    moves_rows: bool = False
    #: Holds the parent's writers until COMMIT: what follows should be brief.
    holds_writers: bool = False
    #: squawk rules that misjudge this statement; ``why`` says why it is safe.
    squawk_ignore: tuple[str, ...] = ()
    #: Comments stating what the SQL alone does not show, for ``sqla-partition lint``.
    facts: tuple[str, ...] = ()
    #: An INSERT of one row as (head, row, tail): such statements of one transaction merge.
    rows: tuple[str, str, str] | None = None

    def annotated(self) -> str:
        note = f"-- {inert(self.lock)}: {inert(self.why)}" if self.why else f"-- {inert(self.lock)}"
        if self.facts:
            note = "\n".join(inert(f) for f in self.facts) + "\n" + note
        if self.squawk_ignore:
            note += f"\n-- squawk-ignore {', '.join(self.squawk_ignore)}"
        return f"{note}\n{self.sql}"

    def __str__(self) -> str:
        return self.sql


def inert(text: str) -> str:
    """Text for a one-line comment (SQL ``--``, Python ``#``): a name with a line break
    would end the comment and turn the rest of the line into code; breaks are shown as
    ``\\n``."""
    return text.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n").replace("\x00", "")
