"""The commands a scheduler runs (``roll``, ``status``, ``check``) and the operator's
``reattach``."""

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
    writable_file,
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
    "--max-move-rows",
    default=100_000,
    show_default=True,
    help="Most rows of one period moved out of a DEFAULT partition in the transaction that "
    "attaches its partition; writes to the table wait while they move. A larger backlog "
    "stays in the DEFAULT (visible) and the table reports BACKLOG (exit 4) with the command "
    "to move it when a pause is acceptable.",
)
@click.option("--batch-size", type=int, hidden=True, help="No longer used: see --max-move-rows.")
@click.option(
    "--wait-for-other-run",
    default="60s",
    show_default=True,
    help="How long to wait for another roll working on a table (or the server process of a "
    "killed one, which finishes its statement first) before skipping the table (exit 3).",
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
    callback=writable_file,
    help="Write Prometheus metrics here (for node_exporter's textfile collector).",
)
@click.option(
    "--place-default",
    is_flag=True,
    help="Also place the DEFAULT partition's rows that no partition of the usual window "
    "covers (dated far ahead or behind): create the partitions of the periods they fall in "
    "and move them there, period by period, as for any new partition.",
)
@click.option(
    "--expired",
    type=click.Choice(["keep", "archive", "delete"]),
    default="keep",
    show_default=True,
    help="With --place-default, rows older than retention: keep them in the DEFAULT "
    "(reported), archive them (placed, then detached as archives), or delete them.",
)
@click.option(
    "--jobs",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Tables worked on at once, each on a connection of its own: a catch-up over "
    "thousands of tables goes faster with as many as the server has cores to spare (2 cut "
    "one by a third on 2 cores). Each table still takes its own lock.",
)
@click.option(
    "--full",
    is_flag=True,
    help="Read and plan every table. By default a run leaves alone the tables a run found "
    "needing nothing, as long as their partitions, policy and DEFAULT are unchanged and the "
    "clock has not reached the moment their plan may change (the end of the current period, "
    "or the oldest partition passing out of retention, three hours early).",
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
    max_move_rows: int,
    batch_size: int | None,
    wait_for_other_run: str,
    schedule: str | None,
    every: str | None,
    metrics: Path | None,
    place_default: bool,
    expired: str,
    jobs: int,
    full: bool,
    verbose: bool,
) -> None:
    """Create partitions ahead, move rows out of DEFAULT, expire old partitions.

    Reads the policies that migrations recorded in the database: it needs only a
    database URL. Safe to run concurrently and on every node (a standby is left alone).
    """
    from ..cron.commands import run_every, run_roll

    if retries < 0 or max_move_rows < 0:
        raise click.BadParameter("--retries and --max-move-rows must be >= 0")
    if expired != "keep" and not place_default:
        raise click.BadParameter("--expired applies with --place-default only")
    if place_default and every:
        raise click.BadParameter("--place-default is for one run, not with --every")
    if batch_size is not None:
        click.echo(
            "warning: --batch-size no longer applies (rows move in the transaction that "
            "attaches their partition, never in batches out of sight); see --max-move-rows",
            err=True,
        )
    args = {
        "database_url": database_url,
        "tables": tables,
        "dry_run": dry_run,
        "as_json": as_json,
        "lock_timeout_ms": parse_duration_ms(lock_timeout, "--lock-timeout"),
        "statement_timeout_ms": parse_duration_ms(statement_timeout, "--statement-timeout"),
        "retries": retries,
        "max_move_rows": max_move_rows,
        "wait_for_other_s": parse_duration_ms(wait_for_other_run, "--wait-for-other-run") / 1000,
        "schedule": schedule or every,
        "metrics": metrics,
        "place": expired if place_default else None,
        "jobs": jobs,
        "full": full,
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
@click.option(
    "--allow-empty",
    is_flag=True,
    help="A database with no managed table is fine (otherwise exit 1: monitoring pointed at "
    "the wrong database would stay green).",
)
@user_errors
def check(
    database_url: str | None,
    now: str | None,
    tables: tuple[str, ...],
    max_age: str,
    schedule: str | None,
    allow_empty: bool,
) -> None:
    """Exit 1 with a one-line reason when something needs attention (for monitoring).

    Checks that partitions cover now through premake, that no rows wait in a DEFAULT
    partition, that no detach is pending and nothing past retention stays attached, that
    roll ran recently, and that the database has managed tables at all.

    \b
    Exit codes:
      0  OK: every check passed
      1  something needs attention (the line says what)
      2  no check could run: the database cannot be reached or refuses (a missing
         privilege), or an option is wrong
    """
    from ..cron.commands import run_check

    sys.exit(
        run_check(
            database_url,
            parse_now(now),
            tables,
            parse_age(max_age),
            schedule,
            click.echo,
            allow_empty=allow_empty,
        )
    )


REATTACH_EXIT_CODES = """\b
Exit codes:
  0  reattached (or, with --dry-run, printed)
  2  refused, or PostgreSQL refused the ATTACH (e.g. a foreign key no longer
     holds for its rows): the line says why; nothing changed
  3  a lock was not granted within --lock-timeout after every retry, or a
     roll held the table; nothing changed, run it again
"""


@click.command(epilog=REATTACH_EXIT_CODES)
@click.argument("table")
@click.argument("archive")
@click.option(
    "--database-url",
    envvar="DATABASE_URL",
    metavar="URL",
    help="PostgreSQL URL; default: $DATABASE_URL.",
)
@click.option("--dry-run", is_flag=True, help="Print the SQL with its locks; change nothing.")
@click.option(
    "--lock-timeout",
    default="3s",
    show_default=True,
    help="Longest wait for each lock before retrying (e.g. 500ms, 3s): as roll's, since "
    "both run beside the application's writes.",
)
@click.option("--retries", default=5, show_default=True, help="Retries after a lock timeout.")
@click.option("-v", "--verbose", is_flag=True, help="Log every statement to stderr as it runs.")
@user_errors
def reattach(
    table: str,
    archive: str,
    database_url: str | None,
    dry_run: bool,
    lock_timeout: str,
    retries: int,
    verbose: bool,
) -> None:
    """Put ARCHIVE, a partition retention detached from TABLE, back as its partition.

    Only archives in the record of partitions (what `status` lists as archived) qualify:
    their period comes from the record. Refused, before anything changes, if the archive's
    columns differ from the table's, if a row lies outside its period, or if partitions
    cover the period now. Rows of the period that wait in the DEFAULT partition move into
    it, in the transaction that attaches it.
    """
    from ..cron.commands import run_reattach

    if retries < 0:
        raise click.BadParameter("--retries must be >= 0")
    sys.exit(
        run_reattach(
            table,
            archive,
            database_url=database_url,
            dry_run=dry_run,
            lock_timeout_ms=parse_duration_ms(lock_timeout, "--lock-timeout"),
            retries=retries,
            verbose=verbose,
            echo=click.echo,
        )
    )
