"""One run of the tool per table: roll, reattach and split-legacy take the table's lock.

The lock is an advisory lock on a key only roles that may roll the table read (see
:mod:`sqla_partition.sql.roll_lock`): a role that holds a key it learnt from ``pg_locks``
is not a member of the table's owner, so the key is drawn again and the run goes on.

A second run waits for the lock, bounded, rather than skipping at once: the holder may be
the server process of a killed run, which runs its last statement to the end before it
notices its client is gone and lets the lock go.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence

import psycopg
from psycopg import errors as pgerrors

from .. import sql
from ..sql import roll_lock
from ..sql.statement import inert

#: Draws of a new key before a run gives up: each needs a stranger holding the last one.
_ATTEMPTS = 4


@dataclasses.dataclass
class HeldTable:
    """A table's lock, held by this session until :meth:`release`."""

    conn: psycopg.Connection
    name: str
    schema: str
    key: int | None  # None: a database without the keys table, on the key of earlier versions
    #: What the run should report: a stranger held the table's lock.
    notes: list[str] = dataclasses.field(default_factory=list)

    def release(self) -> None:
        if self.conn.closed:
            return
        if self.key is None:
            self.conn.execute(sql.advisory_unlock(self.name, self.schema))  # type: ignore[call-overload]
        else:
            self.conn.execute(roll_lock.keyed_unlock(), {"key": self.key})  # type: ignore[call-overload]


@dataclasses.dataclass
class Keys:
    """The keys table as a run found it: whether it exists, the keys it could read, and
    the tables of the run that had none yet."""

    exist: bool
    known: dict[tuple[str, str], int]
    unkeyed: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    #: Workers of one run (``--jobs``) share the keys.
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def take(self, conn: psycopg.Connection, schema: str, name: str) -> int | None:
        """The key read for the table, once (None: read it afresh). The first table that
        needs a key the run lacks makes every missing one, in one statement: a first run
        over thousands of tables makes none per table, a run that locks none makes none."""
        with self._lock:
            return self._take(conn, schema, name)

    def _take(self, conn: psycopg.Connection, schema: str, name: str) -> int | None:
        if (schema, name) not in self.known and self.unkeyed:
            missing, self.unkeyed = self.unkeyed, []
            try:
                made = conn.execute(  # type: ignore[call-overload]
                    roll_lock.make_keys_query(),
                    {"schemas": [s for s, _ in missing], "tables": [n for _, n in missing]},
                ).fetchall()
            except (pgerrors.ReadOnlySqlTransaction, pgerrors.InsufficientPrivilege):
                made = []  # each table makes its own, as it always could
            self.known.update({(s, n): int(key) for s, n, key in made})
        return self.known.pop((schema, name), None)


def read_keys(conn: psycopg.Connection, tables: Sequence[tuple[str, str]] = ()) -> Keys:
    """The keys this role may read; ``tables`` (schema, name) that have none are made when
    the first of them is needed (see :meth:`Keys.take`)."""
    if not has_keys(conn):
        return Keys(False, {})
    rows = conn.execute(roll_lock.all_keys_query()).fetchall()  # type: ignore[call-overload]
    known = {(schema, table): int(key) for schema, table, key in rows}
    return Keys(True, known, [t for t in tables if t not in known])


def has_keys(conn: psycopg.Connection) -> bool:
    return bool(conn.execute(roll_lock.keys_table_exists_query()).fetchone()[0])  # type: ignore[call-overload,index]


def take_table(
    conn: psycopg.Connection,
    name: str,
    schema: str,
    wait_s: float,
    *,
    restore: Callable[[], None],
    log: Callable[[str], None],
    keys: Keys | None = None,
) -> HeldTable | str:
    """Take ``schema.name``'s lock (session-level), waiting up to ``wait_s`` for a holder
    that may roll it; the lock once held, else a line saying who held it. ``restore`` puts
    the session's timeouts back after the wait changed ``lock_timeout``. A role that may
    not roll the table gets ``InsufficientPrivilege``. ``keys``: what a run over many
    tables read of the keys once (a key drawn again since is found out once held)."""
    if not (keys.exist if keys is not None else has_keys(conn)):
        return _take_public(conn, name, schema, wait_s, restore=restore, log=log)
    table = f"{inert(schema)}.{inert(name)}"
    params = {"schema": schema, "table": name}
    notes: list[str] = []
    known = keys.take(conn, schema, name) if keys is not None else None
    for _ in range(_ATTEMPTS):
        if known is not None:  # once: should it have been drawn again, read it afresh
            key, known = known, None
        else:
            row = conn.execute(roll_lock.key_query(), params).fetchone()  # type: ignore[call-overload]
            if row is None or row[0] is None:  # a key this role may not see: not a member
                raise pgerrors.InsufficientPrivilege(f"no member of the owner of {table}")
            key = int(row[0])
        held = HeldTable(conn, name, schema, key, notes)
        locked, still = _lock_and_check(conn, params, key)
        if locked:
            if still:
                return held
            held.release()
            continue
        holder = conn.execute(roll_lock.keyed_holder_query(name, schema), {"key": key}).fetchone()  # type: ignore[call-overload]
        if holder is not None and not holder[3]:
            notes.append(
                f"process {holder[0]} of role {inert(str(holder[2]))}, which may not roll "
                f"{table}, held its lock: the lock's key was drawn again"
            )
            log(f"-- {notes[-1]}")
            conn.execute(roll_lock.draw_again_query(), {**params, "key": key})  # type: ignore[call-overload]
            continue
        who = f"process {holder[0]}, its statement running for {holder[1]} s" if holder else None
        waited = _wait(
            conn,
            wait_s,
            who or "a process",
            table,
            lambda: conn.execute(roll_lock.keyed_lock(), {"key": key}),  # type: ignore[call-overload]  # noqa: B023
            restore=restore,
            log=log,
        )
        if waited is None:
            if _still(conn, params, key):
                return held
            held.release()
            continue
        return waited
    return (
        f"the lock of {table} was held by other roles under every key drawn; the next run "
        "tries again"
    )


def _lock_and_check(
    conn: psycopg.Connection, params: dict[str, str], key: int
) -> tuple[bool, bool]:
    """Try the lock, then read whether ``key`` is still the table's: one round trip, the
    read after the lock (a statement of its own, so it sees a key drawn meanwhile)."""
    with conn.pipeline():
        lock = conn.execute(roll_lock.try_keyed_lock(), {"key": key})  # type: ignore[call-overload]
        current = conn.execute(roll_lock.current_key_query(), params)  # type: ignore[call-overload]
    row = current.fetchone()
    return bool(lock.fetchone()[0]), row is not None and row[0] == key  # type: ignore[index]


def _still(conn: psycopg.Connection, params: dict[str, str], key: int) -> bool:
    """The key held is still the table's: none was drawn again meanwhile."""
    row = conn.execute(roll_lock.current_key_query(), params).fetchone()  # type: ignore[call-overload]
    return row is not None and row[0] == key


def _wait(
    conn: psycopg.Connection,
    wait_s: float,
    who: str,
    table: str,
    lock: Callable[[], object],
    *,
    restore: Callable[[], None],
    log: Callable[[str], None],
) -> str | None:
    """Wait up to ``wait_s`` for the holder; ``None`` once held, else the line to report."""
    wait_ms = int(wait_s * 1000)
    log(f"-- another run ({who}) works on {table}; waiting up to {wait_ms} ms")
    if wait_ms > 0:
        try:
            conn.execute(sql.set_lock_timeout(wait_ms, local=False).sql)  # type: ignore[call-overload]
            lock()
            return None
        except pgerrors.LockNotAvailable:
            pass
        finally:
            restore()
    return (
        f"another run of sqla-partition ({who}) held this table for longer than "
        f"--wait-for-other-run ({wait_s:g} s); the next run does the work"
    )


def _take_public(
    conn: psycopg.Connection,
    name: str,
    schema: str,
    wait_s: float,
    *,
    restore: Callable[[], None],
    log: Callable[[str], None],
) -> HeldTable | str:
    """A database no migration or run could give the keys table: the key of earlier
    versions, which any role can take (roll's summary warns of it)."""
    held = HeldTable(conn, name, schema, None)
    if conn.execute(sql.try_advisory_lock(name, schema)).fetchone()[0]:  # type: ignore[call-overload,index]
        return held
    row = conn.execute(sql.advisory_holder_query(name, schema)).fetchone()  # type: ignore[call-overload]
    who = f"process {row[0]}, its statement running for {row[1]} s" if row else "a process"
    waited = _wait(
        conn,
        wait_s,
        who,
        f"{inert(schema)}.{inert(name)}",
        lambda: conn.execute(sql.advisory_lock(name, schema)),  # type: ignore[call-overload]
        restore=restore,
        log=log,
    )
    return held if waited is None else waited
