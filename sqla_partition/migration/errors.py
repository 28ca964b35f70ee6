"""Mistakes a user can fix, as Alembic reports its own: ``FAILED: <one line>``."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from alembic.util import CommandError

from ..catalog.connect import scrub
from ..errors import SqlaPartitionError

#: SQLSTATEs of waits a migration gave up, with what to do (run it again: each step of the
#: tool's operations is its own transaction, or one that changed nothing).
_WAITS = {
    "55P03": "a lock was not granted within lock_timeout",
    "57014": "a statement ran past statement_timeout or was cancelled",
    "40P01": "a deadlock: PostgreSQL chose this migration's transaction to stop",
}


@contextlib.contextmanager
def one_line_errors() -> Iterator[None]:
    """Around an Alembic environment's work: a declaration error, a refusal of the tool's
    (its own ``sqla-partition:`` errors, a downgrade that would drop archives), a wait that
    timed out and an unreachable server each become a ``CommandError``, which Alembic
    prints as one line; anything else keeps its traceback."""
    try:
        yield
    except SqlaPartitionError as exc:
        raise CommandError(_declared_where(exc) + str(exc)) from None
    except Exception as exc:
        line = _one_line(exc)
        if line is None:
            raise
        raise CommandError(line) from None


def _one_line(exc: BaseException) -> str | None:
    module = type(exc).__module__
    if not module.startswith(("sqlalchemy", "psycopg", "asyncpg")):
        return None
    orig: Any = getattr(exc, "orig", None) or exc
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    message = _message(orig)
    url = os.environ.get("DATABASE_URL", "")
    if message.startswith("sqla-partition: "):  # a refusal of the tool's own, with its hint
        diag = getattr(orig, "diag", None)
        hint = getattr(diag, "message_hint", None) or getattr(orig, "hint", None)
        text = message.removeprefix("sqla-partition: ")
        return scrub(f"{text} ({hint})" if hint else text, url)
    if state in _WAITS:
        return scrub(
            f"{_WAITS[state]} ({message}); nothing of the step that waited changed: run the "
            "migration again (a busy table: when it is quieter, or with a longer "
            "sqla_partition_lock_timeout, in ms)",
            url,
        )
    name = type(exc).__name__
    connecting = state is None or str(state).startswith("08")
    if name in ("OperationalError", "InterfaceError", "ConnectionTimeout") and connecting:
        return scrub(f"cannot reach the database: {message}", url)
    return None


def _message(orig: Any) -> str:
    """The error's first meaningful line (SQLAlchemy's own additions left out)."""
    diag = getattr(orig, "diag", None)
    primary = getattr(diag, "message_primary", None)
    if primary:
        return str(primary)
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    kept = [line for line in lines if not line.startswith(("(Background", "[SQL", "DETAIL"))]
    return " ".join(kept)


def _declared_where(exc: BaseException) -> str:
    """Where a declaration raised, when it raised in a model's class body (a ``Range(...)``
    refused before its table is known): ``events (myapp/models.py:42): ``."""
    tb = exc.__traceback__
    where = ""
    while tb is not None:
        frame = tb.tb_frame
        name = frame.f_locals.get("__tablename__") if frame.f_code.co_name != "<module>" else None
        if isinstance(name, str):
            where = f"{name} ({_shown_path(frame.f_code.co_filename)}:{tb.tb_lineno}): "
        tb = tb.tb_next
    return where if where and not str(exc).startswith(where.split(" ")[0]) else ""


def _shown_path(path: str) -> str:
    """``path`` relative to the working directory where it can be (not across Windows
    drives: ``relpath`` raises there)."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return path
