"""The ``sqla-partition`` command.

User mistakes end in one line on stderr and exit code 2, never a traceback. Heavy
imports (SQLAlchemy, Alembic) happen inside the commands that need them.
"""

from __future__ import annotations

import datetime as dt
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


EXIT_CODES = """\b
Exit codes:
  0  all done (also on a read-only standby, where nothing is changed)
  1  some table failed (the others were still rolled)
  2  usage or configuration error: bad URL, unreachable server, unknown table,
     a policy the database disagrees with, a bad cron expression; nothing changed
  3  some table could not get a lock within lock_timeout after every retry;
     the next run finishes the work
"""


def _parse_now(value: str | None) -> dt.datetime:
    if value is None:
        return dt.datetime.now(dt.timezone.utc)
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO date or time", param_hint="--now"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed


def _parse_duration_ms(value: str, option: str) -> int:
    text = value.strip().lower()
    for suffix, factor in (("ms", 1), ("s", 1000), ("min", 60_000)):
        if text.endswith(suffix) and text[: -len(suffix)].strip().replace(".", "", 1).isdigit():
            return int(float(text[: -len(suffix)]) * factor)
    if text.isdigit():
        return int(text)
    raise click.BadParameter(
        f"{value!r}: use milliseconds or a unit, e.g. 3s or 500ms", param_hint=option
    )


def _database_options(fn: F) -> F:
    fn = click.option(
        "--table",
        "tables",
        multiple=True,
        metavar="NAME",
        help="Only this table (schema.name or name); repeatable.",
    )(fn)
    fn = click.option(
        "--now",
        metavar="ISO",
        help="Pretend it is this time (tests, backfills); default: the clock, UTC if no offset.",
    )(fn)
    fn = click.option(
        "--database-url",
        envvar="DATABASE_URL",
        metavar="URL",
        help="PostgreSQL URL (postgresql://, or a SQLAlchemy postgresql+driver:// URL); "
        "default: $DATABASE_URL.",
    )(fn)
    return fn


@main.command(epilog=EXIT_CODES)
@_database_options
@click.option(
    "--dry-run", is_flag=True, help="Print the SQL it would run, with its locks; change nothing."
)
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
@click.option(
    "--lock-timeout",
    default="3s",
    show_default=True,
    help="Longest wait for any lock; a DDL statement waiting in the lock queue blocks the "
    "readers and writers behind it.",
)
@click.option(
    "--statement-timeout",
    default="10min",
    show_default=True,
    help="Longest any statement may run (the move of rows out of a DEFAULT partition is the "
    "long one).",
)
@click.option(
    "--retries", default=4, show_default=True, help="Retries after a lock timeout, with backoff."
)
@click.option(
    "--batch-size",
    default=50_000,
    show_default=True,
    help="Rows moved per transaction when many rows wait in a DEFAULT partition.",
)
@click.option(
    "--schedule",
    metavar="CRON",
    help="The cron schedule this runs on (UTC); premake then covers until the next run.",
)
@click.option(
    "--every",
    metavar="CRON",
    help="Keep running, on this cron schedule (UTC), instead of once: no cron needed.",
)
@click.option(
    "--metrics",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write Prometheus metrics here (for node_exporter's textfile collector).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log every statement to stderr as it runs.")
@_user_errors
def roll(
    database_url: str | None,
    now: str | None,
    tables: tuple[str, ...],
    dry_run: bool,
    as_json: bool,
    lock_timeout: str,
    statement_timeout: str,
    retries: int,
    batch_size: int,
    schedule: str | None,
    every: str | None,
    metrics: Path | None,
    verbose: bool,
) -> None:
    """Create partitions ahead, move rows out of DEFAULT, expire old partitions.

    Reads the policies that migrations recorded in the database: it needs only a
    database URL. Safe to run concurrently and on every node (a standby is left alone).
    """
    from .rolling import run_every, run_roll

    if retries < 0 or batch_size < 1:
        raise click.BadParameter("--retries must be >= 0 and --batch-size >= 1")
    args = {
        "database_url": database_url,
        "tables": tables,
        "dry_run": dry_run,
        "as_json": as_json,
        "lock_timeout_ms": _parse_duration_ms(lock_timeout, "--lock-timeout"),
        "statement_timeout_ms": _parse_duration_ms(statement_timeout, "--statement-timeout"),
        "retries": retries,
        "batch_size": batch_size,
        "schedule": schedule or every,
        "metrics": metrics,
        "verbose": verbose,
        "echo": click.echo,
    }
    if every:
        sys.exit(run_every(every, **args))
    sys.exit(run_roll(_parse_now(now), **args))


@main.command()
@_database_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_user_errors
def status(
    database_url: str | None, now: str | None, tables: tuple[str, ...], as_json: bool
) -> None:
    """Show each managed table: partitions, coverage, DEFAULT rows, expiry, timeline."""
    from .rolling import run_status

    run_status(database_url, _parse_now(now), tables, as_json, click.echo)


@main.command()
@_database_options
@click.option(
    "--max-age",
    default="25h",
    show_default=True,
    help="A table not rolled for longer is overdue (e.g. 25h, 90min).",
)
@click.option(
    "--schedule", metavar="CRON", help="Also check this roll schedule bridges the premake."
)
@_user_errors
def check(
    database_url: str | None,
    now: str | None,
    tables: tuple[str, ...],
    max_age: str,
    schedule: str | None,
) -> None:
    """Exit 1 with a one-line reason when something needs attention (for monitoring).

    Checks that partitions cover now through premake, that no rows wait in a DEFAULT
    partition, and that roll ran recently.
    """
    from .rolling import run_check

    sys.exit(
        run_check(database_url, _parse_now(now), tables, _parse_age(max_age), schedule, click.echo)
    )


@main.command()
@click.argument("files", nargs=-1, required=True, metavar="FILE|-")
@click.option(
    "--database-url",
    metavar="URL",
    help="Read which tables are partitioned and which have a DEFAULT partition from this "
    "database (otherwise only what the SQL itself shows is known).",
)
@click.option("--json", "as_json", is_flag=True, help="Print findings as JSON.")
@_user_errors
def lint(files: tuple[str, ...], database_url: str | None, as_json: bool) -> None:
    """Check SQL for partition DDL that would block the application.

    Reads `alembic upgrade --sql` output or `roll --dry-run` output ("-" for stdin) with
    PostgreSQL's own parser. Rules: partition-of-live-parent, attach-without-check,
    attach-scans-default, detach-without-concurrently, index-on-partitioned-parent,
    ddl-without-lock-timeout. Accept a finding with a reason on a comment line right
    above the statement:

    \b
        -- sqla-partition: allow detach-without-concurrently: tiny table, maintenance window

    Exit code 0 when clean, 1 with findings, 2 when a file cannot be read or parsed.
    """
    import json

    from .lint import Knowledge, lint_sql

    known = None
    if database_url:
        from .catalog import read_snapshot
        from .connect import connect

        with connect(database_url) as conn:
            known = Knowledge.from_snapshot(read_snapshot(lambda q: conn.execute(q).fetchall()))
    results = []
    for name in files:
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text()
        except OSError as exc:
            raise SqlaPartitionError(f"cannot read {name}: {exc.strerror}") from None
        try:
            found = lint_sql(text, known)
        except SqlaPartitionError as exc:
            raise SqlaPartitionError(f"{name}: {exc}") from None
        results += [(name, f) for f in found]
    open_findings = [(n, f) for n, f in results if f.accepted is None]
    if as_json:
        click.echo(
            json.dumps([{"file": n, **f.__dict__} for n, f in results], indent=2, sort_keys=True)
        )
    else:
        for name, f in results:
            if f.accepted is None:
                click.echo(f.format(name))
            else:
                click.echo(f"{name}:{f.line}: [{f.rule}] accepted: {f.accepted}")
        checked = ", ".join(files)
        if open_findings:
            click.echo(f"{len(open_findings)} findings in {checked}", err=True)
        else:
            click.echo(f"clean: {checked}", err=True)
    sys.exit(1 if open_findings else 0)


@main.command()
@click.option(
    "--database-url", envvar="DATABASE_URL", metavar="URL", help="default: $DATABASE_URL."
)
@click.option(
    "--queries",
    "queries_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the workload from this file (statements separated by ;) instead of "
    "pg_stat_statements.",
)
@click.option(
    "--min-calls",
    default=50,
    show_default=True,
    help="pg_stat_statements: only statements run at least this often.",
)
@click.option(
    "--limit",
    default=100,
    show_default=True,
    help="pg_stat_statements: the most expensive statements, at most this many.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of operations.")
@_user_errors
def advise(
    database_url: str | None,
    queries_file: Path | None,
    min_calls: int,
    limit: int,
    as_json: bool,
) -> None:
    """Propose the indexes that halve the planned cost of frequent queries.

    Reads the workload from pg_stat_statements (or --queries), tries each candidate index
    as a hypopg hypothetical index, on every partition of a partitioned table, and prints
    the winners as migration operations with the queries they serve. Nothing is built.

    \b
    Needs the hypopg extension (CREATE EXTENSION hypopg; Debian: postgresql-15-hypopg)
    and, without --queries, pg_stat_statements readable by this role (pg_read_all_stats).
    Exit code 0 (with or without advice), 2 when something is missing.
    """
    import json

    from .advise import Advisor, read_queries
    from .connect import connect
    from .runner import bound_session

    if not database_url:
        raise SqlaPartitionError("no database: pass --database-url or set DATABASE_URL")
    with connect(database_url, application_name="sqla-partition advise") as conn:
        bound_session(conn)  # planning waits for no lock longer than roll would
        advisor = Advisor(conn)
        advisor.check(statements=queries_file is None)
        if queries_file is not None:
            workload = read_queries(queries_file.read_text())
        else:
            workload = advisor.workload(min_calls, limit)
        advice = advisor.advise(workload)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "table": f"{a.candidate.schema}.{a.candidate.table}",
                        "columns": list(a.candidate.columns),
                        "partitioned": a.candidate.partitioned,
                        "index": a.candidate.name,
                        "queries": [
                            {"query": q.text, "calls": q.calls, "cost": b, "cost_with": c}
                            for q, b, c in a.queries
                        ],
                    }
                    for a in advice
                ],
                indent=2,
            )
        )
        return
    click.echo(
        f"-- {len(workload)} statements planned; {len(advice)} indexes would halve the cost of some"
    )
    for a in advice:
        c = a.candidate
        for query, before, after in a.queries:
            text = " ".join(query.text.split())[:90]
            click.echo(
                f"# {before:.0f} -> {after:.0f} ({after / before:.1%}), {query.calls} calls: {text}"
            )
        kind = "create_partitioned_index" if c.partitioned else "create_index_online"
        schema = f", schema={c.schema!r}" if c.schema != "public" else ""
        click.echo(f"op.{kind}({c.name!r}, {c.table!r}, {list(c.columns)!r}{schema})")


@main.command()
@click.argument("table", metavar="[SCHEMA.]TABLE")
@click.option(
    "--database-url", envvar="DATABASE_URL", metavar="URL", help="default: $DATABASE_URL."
)
@click.option(
    "--timezone",
    default="UTC",
    show_default=True,
    help="Where the set's period boundaries fall (an IANA name).",
)
@_user_errors
def adopt(table: str, database_url: str | None, timezone: str) -> None:
    """Take over a partition set made by hand or by pg_partman, changing nothing.

    Reads the table's partitions (and pg_partman's part_config, if it made them) and
    prints the __partitioning__ declaration that describes the set as it is, and the
    operation of a baseline migration that records it. After that migration, roll
    manages the set, naming new partitions as the set does, and autogenerate is empty.
    """
    from .adopt import adopt as read_set
    from .connect import connect
    from .runner import bound_session

    if not database_url:
        raise SqlaPartitionError("no database: pass --database-url or set DATABASE_URL")
    schema, _, name = table.rpartition(".")
    with connect(database_url, application_name="sqla-partition adopt") as conn:
        bound_session(conn)
        adoption = read_set(conn, name, schema or "public", timezone)
    click.echo(f"# {schema or 'public'}.{name}, partitioned {adoption.source}; on the model:")
    click.echo(f"    {adoption.declaration()}")
    click.echo(
        "# and in a new migration (alembic revision -m 'adopt'), which changes no partition:"
    )
    click.echo(f"    {adoption.operation()}")
    for note in adoption.notes:
        click.echo(f"# {note}")


@main.command("split-legacy")
@click.argument("table", metavar="[SCHEMA.]TABLE")
@click.option(
    "--database-url", envvar="DATABASE_URL", metavar="URL", help="default: $DATABASE_URL."
)
@click.option(
    "--lock-timeout",
    default="5s",
    show_default=True,
    help="Longest wait for a lock per attempt (e.g. 500ms, 5s).",
)
@_user_errors
def split_legacy_command(table: str, database_url: str | None, lock_timeout: str) -> None:
    """Split the legacy partition of a converted table into its periods, online.

    The period tables are filled from TABLE_legacy in batches while a trigger logs the
    keys written meanwhile; their rows are checked against it in one snapshot; then one
    short transaction swaps them in for it. Run it again after an interruption: it goes
    on where it stopped. Exit code 0, or 2 with the reason.
    """
    from .connect import connect
    from .legacy import plan_split, split_legacy
    from .runner import RollOptions, bound_session

    if not database_url:
        raise SqlaPartitionError("no database: pass --database-url or set DATABASE_URL")
    schema, _, name = table.rpartition(".")
    lock_ms = _parse_duration_ms(lock_timeout, "--lock-timeout")
    with connect(database_url, application_name="sqla-partition split-legacy") as conn:
        bound_session(conn, RollOptions(lock_timeout_ms=lock_ms))
        split = plan_split(conn, name, schema or "public", lock_timeout_ms=lock_ms)
        click.echo(
            f"-- splitting {split.child} into {len(split.targets)} partitions: "
            f"{split.targets[0].final} … {split.targets[-1].final}"
        )
        split_legacy(conn, split, click.echo)


def _parse_age(value: str) -> dt.timedelta:
    text = value.strip().lower()
    for suffix, unit in (("min", "minutes"), ("h", "hours"), ("d", "days"), ("s", "seconds")):
        if text.endswith(suffix) and text[: -len(suffix)].replace(".", "", 1).isdigit():
            return dt.timedelta(**{unit: float(text[: -len(suffix)])})
    raise click.BadParameter(
        f"{value!r}: use a number and a unit, e.g. 25h or 90min", param_hint="--max-age"
    )


if __name__ == "__main__":  # pragma: no cover
    main()
