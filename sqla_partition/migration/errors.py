"""Mistakes a user can fix, as Alembic reports its own: ``FAILED: <one line>``."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from alembic.util import CommandError

from ..catalog.connect import scrub
from ..errors import SqlaPartitionError


@contextlib.contextmanager
def one_line_errors() -> Iterator[None]:
    """Around an Alembic environment's work: a declaration error or an unreachable server
    becomes a ``CommandError``, which Alembic prints as one line, not a traceback."""
    try:
        yield
    except SqlaPartitionError as exc:
        raise CommandError(str(exc)) from None
    except Exception as exc:
        module = type(exc).__module__
        if not module.startswith(("sqlalchemy", "psycopg", "asyncpg")):
            raise
        name = type(exc).__name__
        if name not in ("OperationalError", "InterfaceError", "ConnectionTimeout"):
            raise
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        text = " ".join(line for line in lines if not line.startswith(("(Background", "[SQL")))
        url = os.environ.get("DATABASE_URL", "")
        raise CommandError(f"cannot reach the database: {scrub(text, url)}") from None
