"""The ``sqla-partition`` command.

User mistakes end in one line on stderr and exit code 2, never a traceback. Heavy
imports (SQLAlchemy, Alembic) happen inside the commands that need them.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from .errors import SqlaPartitionError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 3


def _user_errors(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SqlaPartitionError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_USAGE)
        except Exception as exc:  # database and Alembic errors a user can act on
            message = _known_error(exc)
            if message is None:
                raise
            click.echo(f"error: {message}", err=True)
            sys.exit(EXIT_USAGE)

    return wrapper  # type: ignore[return-value]


def _known_error(exc: Exception) -> str | None:
    name = type(exc).__name__
    module = type(exc).__module__
    if module.startswith(("sqlalchemy", "psycopg", "alembic")) or name == "CommandError":
        text = str(exc).splitlines()[0] if str(exc) else name
        return text
    return None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sqla-partition")
def main() -> None:
    """PostgreSQL partitioning for SQLAlchemy and Alembic.

    Declare Range(...) or Hash(...) as __partitioning__ on a model, let
    `alembic revision --autogenerate` write the migration, and review it with
    `alembic upgrade head --sql`.
    """


@main.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--metadata",
    metavar="MODULE:ATTR",
    help="Your models' MetaData, e.g. myapp.models:Base.metadata (can be edited later "
    "in alembic.ini).",
)
@click.option(
    "--url",
    metavar="URL",
    help="Database URL written to alembic.ini; DATABASE_URL overrides it at run time.",
)
@click.option(
    "--ini",
    type=click.Path(path_type=Path),
    help="Where to write alembic.ini (default: beside DIRECTORY).",
)
@_user_errors
def init(directory: Path, metadata: str | None, url: str | None, ini: Path | None) -> None:
    """Create an Alembic environment in DIRECTORY wired for sqla-partition.

    Sync (postgresql+psycopg) and async (postgresql+asyncpg,
    postgresql+psycopg_async) URLs both work.
    """
    from .scaffold import init_environment

    ini_path = init_environment(directory, ini_path=ini, metadata=metadata, url=url)
    click.echo(f"Created {directory}/ (env.py, script.py.mako, versions/) and {ini_path}")
    if not metadata:
        click.echo("Next: set target_metadata in alembic.ini to your MetaData (module:attr).")
    click.echo("Then: alembic revision --autogenerate -m 'partitioned tables'")


@main.command()
@click.option(
    "--database-url",
    envvar="SQLA_PARTITION_DEMO_URL",
    help="Use this PostgreSQL instead of starting an embedded one. Its public schema "
    "must not have an events table yet.",
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where to write the sample project (default: a new temporary directory).",
)
@_user_errors
def demo(database_url: str | None, directory: Path | None) -> None:
    """Run the whole flow on a sample project: no server needed.

    Starts an embedded PostgreSQL, writes a model partitioned by month, autogenerates
    and applies its migration, and shows the partitions it made.
    """
    from .demo import run_demo

    run_demo(click.echo, database_url, directory)


if __name__ == "__main__":  # pragma: no cover
    main()
