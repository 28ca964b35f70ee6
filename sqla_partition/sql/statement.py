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

    def annotated(self) -> str:
        note = f"-- {self.lock}: {self.why}" if self.why else f"-- {self.lock}"
        if self.facts:
            note = "\n".join(self.facts) + "\n" + note
        if self.squawk_ignore:
            note += f"\n-- squawk-ignore {', '.join(self.squawk_ignore)}"
        return f"{note}\n{self.sql}"

    def __str__(self) -> str:
        return self.sql
