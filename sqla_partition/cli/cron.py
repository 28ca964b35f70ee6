"""The commands a scheduler runs: ``roll``, ``status`` and ``check``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .options import (
    EXIT_CODES,
    database_options,
    parse_age,
    parse_duration_ms,
    parse_now,
    user_errors,
)


@click.command(epilog=EXIT_CODES)
@database_options
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
@user_errors
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
    from ..cron.commands import run_every, run_roll

    if retries < 0 or batch_size < 1:
        raise click.BadParameter("--retries must be >= 0 and --batch-size >= 1")
    args = {
        "database_url": database_url,
        "tables": tables,
        "dry_run": dry_run,
        "as_json": as_json,
        "lock_timeout_ms": parse_duration_ms(lock_timeout, "--lock-timeout"),
        "statement_timeout_ms": parse_duration_ms(statement_timeout, "--statement-timeout"),
        "retries": retries,
        "batch_size": batch_size,
        "schedule": schedule or every,
        "metrics": metrics,
        "verbose": verbose,
        "echo": click.echo,
    }
    if every:
        sys.exit(run_every(every, **args))
    sys.exit(run_roll(parse_now(now), **args))


@click.command()
@database_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@user_errors
def status(
    database_url: str | None, now: str | None, tables: tuple[str, ...], as_json: bool
) -> None:
    """Show each managed table: partitions, coverage, DEFAULT rows, expiry, timeline."""
    from ..cron.commands import run_status

    run_status(database_url, parse_now(now), tables, as_json, click.echo)


@click.command()
@database_options
@click.option(
    "--max-age",
    default="25h",
    show_default=True,
    help="A table not rolled for longer is overdue (e.g. 25h, 90min).",
)
@click.option(
    "--schedule", metavar="CRON", help="Also check this roll schedule bridges the premake."
)
@user_errors
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
    from ..cron.commands import run_check

    sys.exit(
        run_check(database_url, parse_now(now), tables, parse_age(max_age), schedule, click.echo)
    )
