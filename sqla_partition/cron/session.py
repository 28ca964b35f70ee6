"""The session a run works in: every wait bounded, below the server's deadlock check, and
the record of partitions in place."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import psycopg

from .. import sql
from ..catalog.snapshot import Parent
from ..sql import roll_lock
from ..sql.session import NO_JIT
from .results import RollOptions
from .table_lock import has_keys


def below_deadlock_timeout(conn: psycopg.Connection, options: RollOptions) -> RollOptions:
    """Each lock wait at most half the server's ``deadlock_timeout``: an application
    transaction that read the table and then writes it can meet a step that holds the parent
    and waits for the DEFAULT; the step then gives up (and retries) before the
    application's deadlock check could choose the application's write as the victim."""
    deadlock_ms = int(conn.execute(sql.DEADLOCK_TIMEOUT_QUERY).fetchone()[0])  # type: ignore[arg-type,index]
    cap = max(50, deadlock_ms // 2)
    if options.lock_timeout_ms <= cap:
        return options
    return dataclasses.replace(options, lock_timeout_ms=cap)


def ensure_record(conn: psycopg.Connection, warnings: list[str]) -> bool:
    """The record of partitions exists, made now if a database migrated by an earlier
    version lacks it; ``False`` (with a warning) when this role cannot make it."""
    record, policies = conn.execute(sql.record_exists_query()).fetchone()  # type: ignore[misc]
    if record:
        return True
    try:
        with conn.transaction():
            if policies:  # the record belongs to whoever owns the policies: the migrations
                owner = conn.execute(  # type: ignore[call-overload,index]
                    sql.owner_query(sql.POLICY_TABLE, sql.tool_schema())
                ).fetchone()[0]
                conn.execute(sql.act_as(owner).sql)  # type: ignore[call-overload]
            conn.execute(sql.create_record_table().sql)  # type: ignore[call-overload]
        return True
    except psycopg.Error as exc:
        warnings.append(
            f"the record of partitions ({sql.record_table()}) is missing and this role "
            f"cannot create it ({one_line(exc)}); partitions are made without it, and none "
            "expires until it exists (retention acts only on recorded partitions). Run the "
            "migrations (alembic upgrade head) as the tables' owner"
        )
        return False


def ensure_keys(conn: psycopg.Connection, warnings: list[str]) -> None:
    """The table of lock keys exists, made now (as the policies' owner) if a database
    migrated by an earlier version lacks it; else a warning that any role can hold roll's
    locks."""
    if has_keys(conn):
        return
    try:
        as_policy_owner(conn, roll_lock.create_keys_table())
    except psycopg.Error as exc:
        warnings.append(
            f"the table of lock keys ({roll_lock.keys_table()}) is missing and this role "
            f"cannot create it ({one_line(exc)}); roll locks each table on the key of "
            "earlier versions, which any role can hold to stop it. Run the migrations "
            "(alembic upgrade head) as the tables' owner"
        )


def as_policy_owner(conn: psycopg.Connection, stmt: sql.Statement) -> None:
    """Run ``stmt`` in a transaction of its own as the owner of the policies (the tool's
    tables are theirs, whichever role runs roll)."""
    with conn.transaction():
        owner = conn.execute(  # type: ignore[call-overload,index]
            sql.owner_query(sql.POLICY_TABLE, sql.tool_schema())
        ).fetchone()[0]
        conn.execute(sql.act_as(owner).sql)  # type: ignore[call-overload]
        conn.execute(stmt.sql)  # type: ignore[call-overload]


def backfill(conn: psycopg.Connection, parents: Sequence[Parent], warnings: list[str]) -> None:
    """Partitions made before the record kept every one are recorded where the catalog
    proves the tool made them (:func:`sql.backfill_record`), as the record's owner."""
    try:
        with conn.transaction():
            owner = conn.execute(  # type: ignore[call-overload,index]
                sql.owner_query(sql.RECORD_TABLE, sql.tool_schema())
            ).fetchone()[0]
            conn.execute(sql.act_as(owner).sql)  # type: ignore[call-overload]
            keys = [(p.schema, p.name) for p in parents]
            conn.execute(sql.backfill_record(keys).sql)  # type: ignore[call-overload]
    except psycopg.Error as exc:
        warnings.append(
            f"could not record the partitions made before the record kept every one "
            f"({one_line(exc)}); retention leaves them alone until a run can"
        )


def bound_session(
    conn: psycopg.Connection, options: RollOptions | None = None, *, pin_path: bool = True
) -> None:
    """Bound every wait of this session, reads included; steps set their own as well. Pin
    its search_path (see :data:`sql.PINNED_SEARCH_PATH`), unless ``pin_path`` is off."""
    options = options or RollOptions()
    for stmt in sql.timeouts(options.lock_timeout_ms, options.statement_timeout_ms, local=False):
        conn.execute(stmt.sql)  # type: ignore[call-overload]
    conn.execute(NO_JIT.sql)  # type: ignore[call-overload]
    if pin_path:
        conn.execute(sql.PINNED_SEARCH_PATH.sql)  # type: ignore[call-overload]


def one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def policy_writers(conn: psycopg.Connection) -> str | None:
    """A warning when roles other than the owner may write the recorded policies or the
    record of partitions (a blanket ``GRANT … ON ALL TABLES``): such a role decides what
    ``roll`` detaches and drops, so retention is held until it is revoked."""
    rows = conn.execute(sql.policy_writers_query()).fetchall()  # type: ignore[arg-type]
    if not rows:
        return None
    who = "; ".join(f"{role} may {privileges} {table}" for table, role, privileges in rows)
    roles = ", ".join(
        sorted({sql.ident(role) if role != "PUBLIC" else role for _, role, _ in rows})
    )
    revoke = (
        "REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON sqla_partition_policy, "
        f"sqla_partition_partitions FROM {roles}"
    )
    if any("(" in privileges and "pg_write_all_data" not in privileges for *_, privileges in rows):
        revoke += "; a column's grant is revoked by naming it: REVOKE UPDATE (policy) ON …"
    members = sorted({sql.ident(r) for _, r, p in rows if "pg_write_all_data" in p})
    if members:
        revoke += f"; REVOKE pg_write_all_data FROM {', '.join(members)}"
    return (
        f"{who}: whoever can write the policies decides what roll detaches and drops, so "
        f"no partition is detached or dropped until that is revoked ({revoke})"
    )
