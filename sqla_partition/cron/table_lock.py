"""One run of the tool per table: roll and split-legacy take the table's advisory lock.

A second run waits for it, bounded, rather than skipping at once: the holder may be the
server process of a killed run, which runs its last statement to the end before it notices
its client is gone and lets the lock go.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from psycopg import errors as pgerrors

from .. import sql
from ..sql.statement import inert


def take_table(
    conn: psycopg.Connection,
    name: str,
    schema: str,
    wait_s: float,
    *,
    restore: Callable[[], None],
    log: Callable[[str], None],
) -> str | None:
    """Take ``schema.name``'s lock (session-level), waiting up to ``wait_s`` for its holder;
    ``None`` once held, else a line saying who held it. ``restore`` puts the session's
    timeouts back after the wait changed ``lock_timeout``."""
    if conn.execute(sql.try_advisory_lock(name, schema)).fetchone()[0]:  # type: ignore[call-overload,index]
        return None
    row = conn.execute(sql.advisory_holder_query(name, schema)).fetchone()  # type: ignore[call-overload]
    who = f"process {row[0]}, its statement running for {row[1]} s" if row else "a process"
    wait_ms = int(wait_s * 1000)
    log(
        f"-- another run ({who}) works on {inert(schema)}.{inert(name)}; waiting up to {wait_ms} ms"
    )
    if wait_ms > 0:
        try:
            conn.execute(sql.set_lock_timeout(wait_ms, local=False).sql)  # type: ignore[call-overload]
            conn.execute(sql.advisory_lock(name, schema))  # type: ignore[call-overload]
            return None
        except pgerrors.LockNotAvailable:
            pass
        finally:
            restore()
    return (
        f"another run of sqla-partition ({who}) held this table for longer than "
        f"--wait-for-other-run ({wait_s:g} s); the next run does the work"
    )
