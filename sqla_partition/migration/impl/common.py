"""What every implementation shares: the env.py options, bounded waits, the lock budget."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from alembic.operations import Operations
from sqlalchemy.schema import DDL

from ... import sql
from ...catalog.connect import relayed_notices
from ...catalog.snapshot import find_tool_schema
from ...declaration.binding import key_type_of_column
from ...declaration.policies import Hash
from ...errors import PolicyError
from ..ops import (
    CreatePartitionedTableOp,
)
from ..pinned import pinned_rows

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext

#: Lock-table entries one transaction may take before a create operation commits and
#: starts a new transaction. PostgreSQL shares max_locks_per_transaction (64) x
#: max_connections (100) entries between all sessions; a first migration that creates
#: hundreds of partitioned tables would otherwise fail with "out of shared memory".
DEFAULT_LOCK_BUDGET = 2000
DEFAULT_LOCK_TIMEOUT_MS = 5000
DEFAULT_STATEMENT_TIMEOUT_MS = 600_000
DEFAULT_RETRIES = 5
#: How long an operation waits for another session still working on its tables (the
#: server process of a killed run finishes its statement first).
DEFAULT_WAIT_MS = 60_000
#: Blocks of the old partition copied per transaction while splitting (2 MB at 8 kB).
DEFAULT_SPLIT_BATCH_BLOCKS = 256

log = logging.getLogger("sqla_partition")


def options_of(ctx: MigrationContext) -> dict[str, Any]:
    return ctx.opts


def run_statements(operations: Operations, statements: Iterable[sql.Statement]) -> None:
    for stmt in statements:
        operations.execute(DDL(stmt.annotated().replace("%", "%%")))


@contextlib.contextmanager
def bounded(operations: Operations, *, local: bool = True) -> Iterator[None]:
    """Timeouts for this operation's statements only, restored afterwards."""
    opts = options_of(operations.migration_context)
    lock = int(opts.get("sqla_partition_lock_timeout", DEFAULT_LOCK_TIMEOUT_MS))
    limit = int(opts.get("sqla_partition_statement_timeout", DEFAULT_STATEMENT_TIMEOUT_MS))
    run_statements(operations, sql.timeouts(lock, limit, local=local))
    yield
    run_statements(operations, back_to_session(operations.migration_context, local=local))


def back_to_session(ctx: MigrationContext, *, local: bool = False) -> list[sql.Statement]:
    """After an operation's own timeouts: the migration's (see :func:`bound_waits`) or, if
    the environment set none, the role's."""
    waits = getattr(ctx, "_sqla_partition_waits", None)
    if local or waits is None:
        return sql.reset_timeouts(local=local)
    return sql.timeouts(*waits, local=False)


def bound_waits(context: Any) -> None:
    """Every statement of every migration under ``lock_timeout`` and ``statement_timeout``
    (``sqla_partition_lock_timeout``, ``sqla_partition_migration_statement_timeout``, 0 for
    none), Alembic's own
    operations included: a plain ``op.add_column`` on a busy table then gives up instead
    of queueing, with every query behind it, after a long reader. Call it in env.py after
    ``context.configure``, inside ``begin_transaction``; ``--sql`` shows the settings."""
    ctx = context.get_context()
    opts = options_of(ctx)
    lock = int(opts.get("sqla_partition_lock_timeout", DEFAULT_LOCK_TIMEOUT_MS))
    limit = int(opts.get("sqla_partition_migration_statement_timeout", 0))
    for stmt in sql.timeouts(lock, limit, local=False):
        context.execute(stmt.sql)
    ctx._sqla_partition_waits = (lock, limit)


def in_caller_transaction(ctx: MigrationContext) -> bool:
    """The migration runs inside a transaction its caller began (a test that rolls back,
    pytest-alembic's experimental test): nothing may commit it, so an operation that would
    commit between its steps runs them at once, holding its locks to the caller's end."""
    return not ctx.as_sql and bool(getattr(ctx, "_in_external_transaction", False))


@contextlib.contextmanager
def outside_transaction(ctx: MigrationContext) -> Iterator[None]:
    """``autocommit_block()``, except in a caller's transaction (see above), where the
    statements run in it."""
    if in_caller_transaction(ctx):
        yield
        return
    with ctx.autocommit_block():
        yield


def _can_checkpoint(ctx: MigrationContext) -> bool:
    """Only a transaction Alembic began may be committed early; a caller's is left alone."""
    if ctx.as_sql:
        return bool(ctx.impl.transactional_ddl)
    return not ctx._in_external_transaction and ctx._transaction is not None


def checkpoint(operations: Operations) -> None:
    """Commit what the migration did so far, where Alembic began its transaction: a value
    added to an enum earlier in the migration (alembic-postgresql-enum's
    ``sync_enum_values``) cannot be used, in a partition's bound or a row's move, until it
    is committed."""
    ctx = operations.migration_context
    if _can_checkpoint(ctx):
        with ctx.autocommit_block():
            pass
        ctx._sqla_partition_locks = 0  # type: ignore[attr-defined]


def spend_locks(operations: Operations, entries: int) -> None:
    """Commit between tables once a transaction has taken ``budget`` lock entries."""
    ctx = operations.migration_context
    budget = int(options_of(ctx).get("sqla_partition_lock_budget", DEFAULT_LOCK_BUDGET))
    used = getattr(ctx, "_sqla_partition_locks", 0)
    if used and used + entries > budget and _can_checkpoint(ctx):
        with ctx.autocommit_block():
            pass
        used = 0
    ctx._sqla_partition_locks = used + entries  # type: ignore[attr-defined]


def key_type_of(op: CreatePartitionedTableOp, table: sa.Table) -> str:
    if isinstance(op.partitioning, Hash):
        return "hash"
    if op.partitioning.kind == "list":
        sub = op.partitioning.subpartition  # type: ignore[union-attr]
        if sub is None or sub.kind != "range":
            return "list"
        return f"list:{key_type_of_column(table, table.c[sub.column])}"
    if op.key_type:
        return op.key_type
    column = table.c.get(op.partitioning.column)
    if column is None:
        raise PolicyError(
            f"{op.table_name}: partition key {op.partitioning.column!r} is not a column"
        )
    sub = getattr(op.partitioning, "subpartition", None)
    if sub is not None and sub.kind == "range":  # and the sub-partitions' key type
        sub_column = table.c.get(sub.column)
        if sub_column is None:
            raise PolicyError(f"{op.table_name}: sub-partition key {sub.column!r} is not a column")
        return f"{key_type_of_column(table, column)}:{key_type_of_column(table, sub_column)}"
    return key_type_of_column(table, column)


def bound_value(value: Any, key_type: str) -> Any:
    """Bounds arrive from migration files as ISO strings or Python values."""
    if key_type == "integer":
        return int(value)
    if isinstance(value, str):
        parsed = dt.datetime.fromisoformat(value.strip())
    elif isinstance(value, dt.datetime):
        parsed = value
    else:
        parsed = dt.datetime(value.year, value.month, value.day)
    if key_type == "timestamptz":
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.timezone.utc)
        return parsed
    if key_type == "timestamp":
        return parsed.replace(tzinfo=None)
    return parsed.date()


def require_args(op: Any, *names: str) -> None:
    missing = [n for n in names if getattr(op, n) is None]
    if missing:
        raise PolicyError(
            f"{op.table_name}.{op.partition_name}: {', '.join(missing)} must be given"
        )


def reporting(ctx: MigrationContext) -> contextlib.AbstractContextManager[None]:
    """Log the progress notices of long statements (online, psycopg 3 connections)."""
    conn = None if ctx.as_sql else ctx.connection
    raw = getattr(getattr(conn, "connection", None), "driver_connection", None)
    return relayed_notices(raw, lambda text: log.info("%s", text))


def implements(op_class: type) -> Any:
    """``Operations.implementation_for``, after finding where the tool's own objects are:
    a database migrated with ``SQLA_PARTITION_SCHEMA`` set keeps using that schema."""

    def register(fn: Any) -> Any:
        @functools.wraps(fn)
        def run(operations: Operations, op: Any) -> Any:
            settle_tool_schema(operations.migration_context)
            return fn(operations, op)

        Operations.implementation_for(op_class)(run)
        return fn

    return register


def settle_tool_schema(ctx: MigrationContext) -> None:
    """Once per migration run, online: the schema the policy table is in (see
    :func:`find_tool_schema`); offline, ``SQLA_PARTITION_SCHEMA`` decides."""
    if ctx.as_sql or getattr(ctx, "_sqla_partition_schema", False) or ctx.connection is None:
        return
    ((found,),) = pinned_rows(ctx.connection, sql.policy_schemas_query())
    find_tool_schema(list(found or []))
    ctx._sqla_partition_schema = True  # type: ignore[attr-defined]
