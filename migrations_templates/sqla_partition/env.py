"""Alembic environment wired for sqla-partition.

The sqla_partition plugin is enabled through ``autogenerate_plugins``; it turns models
with ``__partitioning__`` into ``op.create_partitioned_table`` and keeps partitions out
of autogenerate.
"""

import asyncio
import importlib
import os
import sys
from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import Connection, Engine, make_url

from sqla_partition import bound_waits, one_line_errors, with_lock_notes

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name)


def load_metadata():
    target = config.get_main_option("target_metadata") or ""
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise SystemExit(
            "alembic.ini: set target_metadata to your MetaData as module:attribute, "
            "e.g. myapp.models:Base.metadata"
        )
    try:
        obj = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):  # the module itself, not inside it
            raise SystemExit(
                f"error: alembic.ini: target_metadata = {target}: no module {exc.name!r} "
                "(run alembic from your project, or set target_metadata to your MetaData)"
            ) from None
        raise
    for part in attribute.split("."):
        obj = getattr(obj, part)
    return obj


def database_url():
    url = os.environ.get("DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit(
            "error: no database: set DATABASE_URL (e.g. postgresql://app@db:5432/app) or "
            "sqlalchemy.url in alembic.ini"
        )
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


if config.attributes.get("connection") is None:
    database_url()  # before anything else: no URL is the first thing a new project meets
with one_line_errors():  # a declaration mistake is one line, as Alembic's own errors
    target_metadata = load_metadata()
CONFIGURE = {
    "target_metadata": target_metadata,
    "autogenerate_plugins": ["alembic.autogenerate.*", "sqla_partition"],
    "compare_type": True,
    "transaction_per_migration": True,
    "sqla_partition_lock_timeout": int(
        config.get_main_option("sqla_partition.lock_timeout") or 5000
    ),
    # Every statement of a migration runs under the lock timeout above, and under this
    # statement timeout (milliseconds; 0: none), Alembic's own operations included.
    "sqla_partition_migration_statement_timeout": int(
        config.get_main_option("sqla_partition.statement_timeout") or 0
    ),
    # Autogenerate also proposes the indexes a careful DBA would ask for, each with its
    # reason as a comment in the migration: True for every rule, False for none, or some of
    # ["fk_index", "redundant_index", "brin_time_key", "invalid_index"].
    "sqla_partition_recommend": True,
    # Recommended index names (sqlp_...) you decided against, so they are not proposed again.
    "sqla_partition_recommend_skip": [],
}

# Models in schemas of their own (tenant schemas, Citus's distributed schemas): compare
# those schemas too, and no other (another application's, or Citus's own internal ones).
SCHEMAS = {
    table.schema
    for metadata in (
        target_metadata if isinstance(target_metadata, (list, tuple)) else [target_metadata]
    )
    for table in metadata.tables.values()
    if table.schema
}
if SCHEMAS:
    CONFIGURE["include_schemas"] = True
    CONFIGURE["include_name"] = lambda name, type_, parents: (
        type_ != "schema" or name is None or name in SCHEMAS
    )


def run_migrations_offline() -> None:
    context.configure(
        url=database_url(),
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        # every statement names its lock, Alembic's own as well as sqla-partition's
        output_buffer=with_lock_notes(context.config.output_buffer or sys.stdout),
        **CONFIGURE,
    )
    with context.begin_transaction():
        bound_waits(context)
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, **CONFIGURE)
    with context.begin_transaction():
        bound_waits(context)
        context.run_migrations()


async def run_async_migrations(url) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url, poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(do_run_migrations)
    await engine.dispose()


def run_migrations_online() -> None:
    given = config.attributes.get("connection")  # e.g. from pytest-alembic or a script
    if isinstance(given, Connection):  # the caller's: so is its transaction
        do_run_migrations(given)
        return
    if isinstance(given, Engine):
        with given.connect() as connection:
            do_run_migrations(connection)
            connection.commit()
        return
    if given is not None:  # a caller's wrapper of its connection: never committed here
        with given.connect() as connection:
            do_run_migrations(connection)
        return
    url = database_url()
    if url.get_dialect().is_async:
        asyncio.run(run_async_migrations(url))
        return
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        do_run_migrations(connection)
    engine.dispose()


with one_line_errors():  # so is an unreachable server
    if context.is_offline_mode():
        run_migrations_offline()
    else:
        run_migrations_online()
