"""Database URLs for the cron path: psycopg 3 directly, passwords never printed."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..errors import SqlaPartitionError

if TYPE_CHECKING:
    import psycopg

_SCHEME = re.compile(r"^(postgres|postgresql)(\+[a-z0-9_]+)?://", re.IGNORECASE)


def libpq_url(url: str) -> str:
    """Accept SQLAlchemy URLs (``postgresql+psycopg://``, ``+asyncpg``, …) and libpq ones."""
    if not url:
        raise SqlaPartitionError("no database URL: pass --database-url or set DATABASE_URL")
    m = _SCHEME.match(url.strip())
    if not m:
        raise SqlaPartitionError(
            f"not a PostgreSQL URL: {redact(url)!r}; expected postgresql://user@host/db"
        )
    return "postgresql://" + url.strip()[m.end() :]


def redact(url: str) -> str:
    """The URL with its password replaced, for messages and logs."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def connect(url: str, *, application_name: str = "sqla-partition") -> psycopg.Connection:
    """An autocommit connection; a failure is one line naming the server, not the password."""
    import psycopg

    target = libpq_url(url)
    try:
        return psycopg.connect(
            target, autocommit=True, application_name=application_name, connect_timeout=10
        )
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise SqlaPartitionError(f"cannot connect to {redact(url)}: {reason}") from None


@contextlib.contextmanager
def relayed_notices(raw: Any, log: Callable[[str], None]) -> Iterator[None]:
    """Pass the progress notices long statements raise (``sqla-partition: …``) to ``log``;
    a connection that cannot report notices (not psycopg 3) just runs without them."""
    if raw is None or not hasattr(raw, "add_notice_handler"):
        yield
        return

    def handler(diag: Any) -> None:
        text = diag.message_primary or ""
        if text.startswith("sqla-partition: "):
            log(text[len("sqla-partition: ") :])

    raw.add_notice_handler(handler)
    try:
        yield
    finally:
        raw.remove_notice_handler(handler)
