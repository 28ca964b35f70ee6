"""What keeps a run over thousands of tables cheap per table, and still correct: the table
read again under its lock is planned once per session, and the roll keys are read once."""

from __future__ import annotations

import datetime as dt

import psycopg

from sqla_partition import Range
from sqla_partition.cron import run as run_module
from sqla_partition.cron.results import RollOptions
from sqla_partition.cron.run import roll
from sqla_partition.cron.table_lock import Keys

from .test_roll import hold_roll_lock, make_table, partitions

NOW = dt.datetime(2026, 12, 10, tzinfo=dt.timezone.utc)
TABLES = ("alpha", "beta", "gamma", "delta")


def _catch_up(pg):
    """premake raised by one: each table needs one more partition."""
    pg.execute(
        "UPDATE sqla_partition.sqla_partition_policy "
        "SET policy = jsonb_set(policy, '{premake}', to_jsonb((policy->>'premake')::int + 1))"
    )


def test_a_run_plans_the_read_under_each_lock_once(db_url, pg):
    for name in TABLES:
        make_table(db_url, Range("created_at", premake=2), name=name)  # through Feb
    _catch_up(pg)
    with psycopg.connect(pg.info.dsn, autocommit=True) as conn:
        report = roll(conn, NOW)
        assert report.exit_code == 0, report.as_dict()
        assert [t.status for t in report.tables] == ["ok"] * len(TABLES)
        # one statement, prepared on the server, run for every table it rolled; an ALTER
        # (each ATTACH) did not deallocate it
        prepared = conn.execute(
            "SELECT generic_plans + custom_plans FROM pg_prepared_statements "
            "WHERE name LIKE 'sqla_partition_one_table_%'"
        ).fetchall()
        assert len(prepared) == 1 and prepared[0][0] >= len(TABLES)
        # a second run on the same session uses it again
        _catch_up(pg)
        assert roll(conn, NOW).exit_code == 0
        again = conn.execute(
            "SELECT generic_plans + custom_plans FROM pg_prepared_statements "
            "WHERE name LIKE 'sqla_partition_one_table_%'"
        ).fetchall()
        assert len(again) == 1 and again[0][0] >= 2 * len(TABLES)
    for name in TABLES:
        assert len(partitions(pg, name)) == 6  # Nov to Feb made, then Mar and Apr


def test_a_first_run_makes_every_tables_key_in_one_statement(db_url, pg, monkeypatch):
    from sqla_partition.sql import roll_lock

    for name in TABLES:
        make_table(db_url, Range("created_at", premake=2), name=name)
    keys = "SELECT table_name FROM sqla_partition.sqla_partition_roll_keys ORDER BY 1"
    assert roll(pg, NOW).exit_code == 0  # nothing to do: no lock taken, no key made
    assert pg.execute(keys).fetchall() == []
    _catch_up(pg)

    def one_by_one():
        raise AssertionError("a key made for one table")

    monkeypatch.setattr(roll_lock, "key_query", one_by_one)
    report = roll(pg, NOW)
    assert report.exit_code == 0, report.as_dict()
    assert [k for (k,) in pg.execute(keys).fetchall()] == sorted(TABLES)


def test_a_key_drawn_again_after_the_run_read_the_keys_is_found_out(db_url, pg, monkeypatch):
    make_table(db_url, Range("created_at", premake=2))
    _catch_up(pg)
    assert roll(pg, NOW).exit_code == 0  # March is made, and the table's key
    (key,) = pg.execute("SELECT key FROM sqla_partition.sqla_partition_roll_keys").fetchone()
    stale = key + 1 if key < 2**31 - 1 else key - 1
    read = run_module.read_keys

    def read_keys(conn, tables=()):  # what a run read just before another drew the key again
        keys = read(conn, tables)
        return Keys(keys.exist, dict.fromkeys(keys.known, stale))

    monkeypatch.setattr(run_module, "read_keys", read_keys)
    _catch_up(pg)
    options = RollOptions(wait_for_other_s=0.2)
    with (
        psycopg.connect(pg.info.dsn, autocommit=True) as other,
        psycopg.connect(pg.info.dsn, autocommit=True) as conn,
    ):
        assert hold_roll_lock(other)  # another run works on the table, under its real key
        report = roll(conn, NOW, options)
        assert report.exit_code == 3, report.as_dict()  # it waited for it, then skipped
        assert report.tables[0].status == "skipped"
        other.execute("SELECT pg_advisory_unlock_all()")
        report = roll(conn, NOW, options)
        assert report.exit_code == 0, report.as_dict()
        assert report.tables[0].created == ["events_p2027_04"]
        # the stale key's lock was let go, and the table's own after its work
        held = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = %s",
            (conn.info.backend_pid,),
        ).fetchone()
        assert held == (0,)


def test_the_tools_sessions_compile_no_query(pg):
    """Past thousands of tables the catalog read's estimated cost crosses jit_above_cost,
    and compiling it took longer than running it."""
    from sqla_partition.cron.session import bound_session

    with psycopg.connect(pg.info.dsn, autocommit=True) as conn:
        conn.execute("SET jit = on")
        bound_session(conn)
        assert conn.execute("SHOW jit").fetchone() == ("off",)


def test_jobs_roll_tables_at_once_under_writers_as_one_would(db_url, pg):
    import json
    import threading
    import time

    from click.testing import CliRunner

    from sqla_partition.cli import main

    names = [f"t{i}" for i in range(6)]
    for name in names:
        make_table(db_url, Range("created_at", premake=2), name=name)
    _catch_up(pg)
    stop, failures, writes = threading.Event(), [], [0]

    def write():
        with psycopg.connect(pg.info.dsn, autocommit=True) as conn:
            while not stop.is_set():
                for name in names:
                    try:
                        conn.execute(
                            psycopg.sql.SQL("INSERT INTO {} (created_at) VALUES (%s)").format(
                                psycopg.sql.Identifier(name)
                            ),
                            ("2027-02-15 12:00+00",),
                        )
                        writes[0] += 1
                    except psycopg.Error as exc:
                        failures.append(str(exc))
                time.sleep(0.001)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        result = CliRunner().invoke(
            main,
            ["roll", "--database-url", db_url, "--now", NOW.isoformat(), "--jobs", "3", "--json"],
        )
    finally:
        stop.set()
        writer.join(10)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert [t["table"] for t in out["tables"]] == [f"public.{n}" for n in names]  # in order
    assert [t["created"] for t in out["tables"]] == [[f"{n}_p2027_03"] for n in names]
    assert failures == [] and writes[0] > 0
    for name in names:
        assert partitions(pg, name)[-1] == f"{name}_p2027_03"
    held = pg.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database())"
    ).fetchone()
    assert held == (0,)


def test_jobs_carry_on_with_the_connections_they_could_open(db_url, pg):
    for name in TABLES:
        make_table(db_url, Range("created_at", premake=2), name=name)
    _catch_up(pg)

    def refused():
        raise psycopg.OperationalError("too many clients already")

    with psycopg.connect(pg.info.dsn, autocommit=True) as conn:
        report = roll(conn, NOW, RollOptions(jobs=4), connect=refused)
    assert report.exit_code == 0, report.as_dict()
    assert [t.created for t in report.tables] == [[f"{n}_p2027_03"] for n in sorted(TABLES)]
    assert any("--jobs: 1 connection(s) used" in w for w in report.warnings), report.warnings


def test_jobs_must_be_at_least_one(db_url):
    from click.testing import CliRunner

    from sqla_partition.cli import main

    result = CliRunner().invoke(main, ["roll", "--database-url", db_url, "--jobs", "0"])
    assert result.exit_code == 2
    assert "--jobs" in result.output and "Traceback" not in result.output
