"""The commands people run by hand: ``init``, ``demo``, ``lint``, ``advise``, ``adopt``,
``split-legacy``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ..errors import SqlaPartitionError
from ..sql.statement import inert
from .options import parse_duration_ms, parse_now, split_table_name, user_errors


@click.command()
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
@user_errors
def init(directory: Path, metadata: str | None, url: str | None, ini: Path | None) -> None:
    """Create an Alembic environment in DIRECTORY wired for sqla-partition.

    Sync (postgresql+psycopg) and async (postgresql+asyncpg,
    postgresql+psycopg_async) URLs both work.
    """
    from ..tools.scaffold import init_environment

    ini_path = init_environment(directory, ini_path=ini, metadata=metadata, url=url)
    click.echo(f"Created {directory}/ (env.py, script.py.mako, versions/) and {ini_path}")
    if not metadata:
        click.echo("Next: set target_metadata in alembic.ini to your MetaData (module:attr).")
    click.echo("Then: alembic revision --autogenerate -m 'partitioned tables'")


@click.command()
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
@click.option(
    "--now",
    metavar="ISO",
    help="Pretend it is this time: the migration, the rows and the roll follow it "
    "(default: the clock, UTC if no offset).",
)
@user_errors
def demo(database_url: str | None, directory: Path | None, now: str | None) -> None:
    """Run the whole flow on a sample project: no server needed.

    Starts an embedded PostgreSQL, writes a model partitioned by month, autogenerates
    and applies its migration, shows the partitions it made, then rolls months ahead and
    moves a row out of the DEFAULT partition.
    """
    from ..tools.demo import run_demo

    run_demo(click.echo, database_url, directory, parse_now(now))


@click.command()
@click.argument("files", nargs=-1, required=True, metavar="FILE|-")
@click.option(
    "--database-url",
    metavar="URL",
    help="Read which tables are partitioned and which have a DEFAULT partition from this "
    "database (otherwise only what the SQL itself shows is known).",
)
@click.option("--json", "as_json", is_flag=True, help="Print findings as JSON.")
@user_errors
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

    from ..tools.lint import Knowledge, lint_sql

    known = None
    if database_url:
        from ..catalog.connect import connect
        from ..catalog.snapshot import read_snapshot

        with connect(database_url) as conn:
            known = Knowledge.from_snapshot(read_snapshot(lambda q: conn.execute(q).fetchall()))
    results = []
    for name in files:
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
        except OSError as exc:
            raise SqlaPartitionError(f"cannot read {name}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise SqlaPartitionError(f"{name} is not UTF-8 text (SQL expected)") from None
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


@click.command()
@click.option(
    "--database-url", envvar="DATABASE_URL", metavar="URL", help="default: $DATABASE_URL."
)
@click.option(
    "--queries",
    "queries_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the workload from this file (statements separated by ;) instead of "
    "pg_stat_statements. Placeholders of any DB-API paramstyle (%s, %(name)s, ?, :name) are "
    "read as $1, $2, …: a log of what an application runs will do.",
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
@click.option(
    "--role",
    metavar="NAME",
    help="Plan the statements as this role (SET ROLE; pg_read_all_data is enough), from a "
    "session of a role that is a member of it. Planning runs the functions a statement calls "
    "with the session's rights, so advise never plans in a superuser's session, with or "
    "without --role: connect as the planning role.",
)
@click.option(
    "--pruning",
    is_flag=True,
    help="Report the statements that read every partition of a partitioned table (the "
    "planner could not prune), with the reason and the fix, instead of indexes; those that "
    "prune only at run time and those that could not be planned are listed apart. Needs no "
    "hypopg.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of operations.")
@user_errors
def advise(
    database_url: str | None,
    queries_file: Path | None,
    min_calls: int,
    limit: int,
    role: str | None,
    pruning: bool,
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

    from .. import sql
    from ..catalog.connect import connect
    from ..cron.session import bound_session
    from ..tools.advise import Advisor, read_limited, read_queries

    if not database_url:
        raise SqlaPartitionError("no database: pass --database-url or set DATABASE_URL")
    with connect(database_url, application_name="sqla-partition advise") as conn:
        # planning waits for no lock longer than roll would; the application's statements
        # are planned under the search_path they are written for, the tool's own queries
        # under the pinned one
        application_path = conn.execute(sql.APPLICATION_PATH_QUERY).fetchone()[0]
        bound_session(conn)
        advisor = Advisor(conn, application_path)
        advisor.check(statements=queries_file is None, hypothetical=not pruning)
        if queries_file is not None:
            workload = read_queries(read_limited(queries_file))
        else:
            workload = advisor.workload(min_calls, limit)
        advisor.plan_as(role)
        if pruning:
            _report_pruning(workload, advisor.pruning(workload), advisor.skipped, as_json)
            return
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


def _report_pruning(
    workload: list[Any], found: list[Any], skipped: list[tuple[Any, str]], as_json: bool
) -> None:
    import json

    if as_json:
        rows = [{"query": q.text, "calls": q.calls, **u.as_dict()} for q, u in found]
        rows += [
            {"query": q.text, "calls": q.calls, "verdict": "skipped", "reason": why}
            for q, why in skipped
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    full = [(q, u) for q, u in found if u.verdict == "full"]
    run_time = [(q, u) for q, u in found if u.verdict != "full"]
    not_planned = f" ({len(skipped)} could not be planned here)" if skipped else ""
    click.echo(
        f"-- {len(workload) - len(skipped)} statements planned{not_planned}; {len(full)} read "
        "every partition of a partitioned table"
        + (f"; {len(run_time)} prune only at run time" if run_time else "")
    )
    for query, u in full + run_time:
        text = " ".join(query.text.split())[:100]
        click.echo(f"# {query.calls} calls: {inert(text)}")
        click.echo(f"#   {inert(u.line())}")
    for query, why in skipped:
        text = " ".join(query.text.split())[:100]
        click.echo(f"# skipped, {query.calls} calls: {inert(text)}")
        click.echo(f"#   could not be planned here: {inert(why)}")


@click.command()
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
@click.option(
    "--epoch",
    type=click.Choice(["seconds", "milliseconds", "microseconds", "nanoseconds"]),
    help="The integer key holds time since 1970 in this unit (read from pg_partman's "
    "part_config when it made the set).",
)
@click.option(
    "--partition",
    "partitions",
    multiple=True,
    metavar="NAME",
    help="Instead: record this attached partition of a managed table as sqla-partition's, "
    "so that retention may expire it (repeatable). Run it as the table's owner.",
)
@user_errors
def adopt(
    table: str,
    database_url: str | None,
    timezone: str,
    epoch: str | None,
    partitions: tuple[str, ...],
) -> None:
    """Take over a partition set made by hand or by pg_partman, changing nothing.

    Reads the table's partitions (and pg_partman's part_config, if it made them) and
    prints the __partitioning__ declaration that describes the set as it is, and the
    operation of a baseline migration that records it. After that migration, roll
    manages the set, naming new partitions as the set does, and autogenerate is empty.

    With --partition, records partitions someone else attached to a managed table as
    the tool's: retention expires only partitions the tool made or adopted (status
    and check name the others once they are past retention).
    """
    from ..catalog.connect import connect
    from ..cron.session import bound_session
    from ..tools.adopt import adopt as read_set
    from ..tools.adopt import adopt_partitions

    if not database_url:
        raise SqlaPartitionError("no database: pass --database-url or set DATABASE_URL")
    schema, name = split_table_name(table)
    with connect(database_url, application_name="sqla-partition adopt") as conn:
        bound_session(conn)
        if partitions:
            done = adopt_partitions(conn, name, schema or "public", partitions)
            where = f"{schema or 'public'}.{name}"
            click.echo(f"{inert(where)}: recorded as sqla-partition's: {inert(', '.join(done))}")
            return
        adoption = read_set(conn, name, schema or "public", timezone, epoch)
    where = inert(f"{schema or 'public'}.{name}")
    click.echo(f"# {where}, partitioned {adoption.source}; on the model:")
    click.echo(f"    {adoption.declaration()}")
    click.echo(
        "# and in a new migration (alembic revision -m 'adopt'), which changes no partition:"
    )
    click.echo(f"    {adoption.operation()}")
    for note in adoption.notes:
        click.echo(f"# {inert(note)}")


@click.command("split-legacy")
@click.argument("table", metavar="[SCHEMA.]TABLE")
@click.option(
    "--database-url", envvar="DATABASE_URL", metavar="URL", help="default: $DATABASE_URL."
)
@click.option(
    "--lock-timeout",
    default="3s",
    show_default=True,
    help="Longest wait for a lock per attempt (e.g. 500ms, 3s): as roll's, since both run "
    "beside the application's writes (a migration, run by a person, waits 5s).",
)
@click.option(
    "--wait-for-other-run",
    default="60s",
    show_default=True,
    help="How long to wait for another run on the table (roll, or the server process of a "
    "killed split-legacy, which finishes its statement first) before giving up (exit 2).",
)
@user_errors
def split_legacy_command(
    table: str, database_url: str | None, lock_timeout: str, wait_for_other_run: str
) -> None:
    """Split the legacy partition of a converted table into its periods, online.

    The period tables are filled from TABLE_legacy in batches while a trigger logs the
    keys written meanwhile; their rows are checked against it in one snapshot; then one
    short transaction swaps them in for it. Run it again after an interruption: it goes
    on where it stopped, or, once the swap is done, removes what is left of the old
    partition. Exit code 0 (also when the table is split already), or 2 with the reason.
    """
    from ..catalog.connect import connect
    from ..cron.results import RollOptions
    from ..cron.session import bound_session
    from ..cron.table_lock import take_table
    from ..tools.split_legacy import finish_done_split, plan_split, split_legacy

    if not database_url:
        raise SqlaPartitionError("no database: pass --database-url or set DATABASE_URL")
    schema, name = split_table_name(table)
    lock_ms = parse_duration_ms(lock_timeout, "--lock-timeout")
    wait_s = parse_duration_ms(wait_for_other_run, "--wait-for-other-run") / 1000
    with connect(database_url, application_name="sqla-partition split-legacy") as conn:
        options = RollOptions(lock_timeout_ms=lock_ms)
        bound_session(conn, options)
        holder = take_table(
            conn,
            name,
            schema or "public",
            wait_s,
            restore=lambda: bound_session(conn, options),
            log=click.echo,
        )
        if isinstance(holder, str):
            raise SqlaPartitionError(f"{table}: {holder}")
        left = finish_done_split(conn, name, schema or "public")
        if left is not None:
            removed = f"; removed what a stopped run left: {', '.join(left)}" if left else ""
            click.echo(f"-- {inert(table)}: its legacy partition is split already{inert(removed)}")
            return
        split = plan_split(conn, name, schema or "public", lock_timeout_ms=lock_ms)
        click.echo(
            f"-- splitting {inert(split.child)} into {len(split.targets)} partitions: "
            f"{inert(split.targets[0].final)} … {inert(split.targets[-1].final)}"
        )
        split_legacy(conn, split, click.echo)
