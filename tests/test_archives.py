"""The record of partitions, archives and their way back: ``reattach``, ``status``, and
``drop_partitioned_table(archives=…)`` on a real PostgreSQL."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from click.testing import CliRunner

import sqla_partition
from sqla_partition import Range
from sqla_partition.cli import main

from .test_roll import make_table, partitions, roll, roll_json

sqla_partition.register()

POLICY = Range("created_at", premake=2, retention="3 months", default=True)


def cli(db_url, *args):
    return CliRunner().invoke(main, [*args[:1], "--database-url", db_url, *args[1:]])


def run_op(db_url, fn):
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn)
        with ctx.begin_transaction():
            fn(Operations(ctx))
        conn.commit()
    engine.dispose()


def recorded(pg, name):
    return pg.execute(
        "SELECT partition_schema, state, lower_bound, detached_at IS NOT NULL "
        "FROM sqla_partition.sqla_partition_partitions WHERE partition_name = %s",
        (name,),
    ).fetchone()


def expire_november(db_url, pg):
    """A table whose November 2026 partition (3 rows) retention detached."""
    make_table(db_url, POLICY)
    pg.execute(
        "INSERT INTO events (created_at, note) SELECT '2026-11-10'::timestamptz + g * "
        "interval '1 day', 'nov' FROM generate_series(1, 3) g"
    )
    code, out = roll_json(db_url, "--now", "2027-03-05T00:00:00Z")
    assert code == 0, out
    assert out["tables"][0]["detached"] == ["events_p2026_11"]
    assert "events_p2026_11" not in partitions(pg)


def test_roll_records_what_it_makes_and_detaches(db_url, pg):
    expire_november(db_url, pg)
    # created by roll: recorded in the transaction that attached it
    assert recorded(pg, "events_p2027_05")[:2] == ("public", "attached")
    # detached by retention: an archive, with its period
    november = ("public", "detached", "2026-11-01 00:00:00+00:00", True)
    assert recorded(pg, "events_p2026_11") == november
    status = cli(db_url, "status", "--now", "2027-03-05T00:00:00Z")
    assert status.exit_code == 0, status.output
    assert "archived: public.events_p2026_11 [2026-11-01 00:00:00+00:00" in status.output
    assert "sqla-partition reattach public.events NAME" in status.output


def test_an_archive_needed_again_is_not_taken_back_by_name(db_url, pg):
    expire_november(db_url, pg)
    # the clock goes back: November is current again, and its archive has its name
    result = roll(db_url, "--now", "2026-11-20T00:00:00Z")
    assert result.exit_code == 1
    assert "public.events_p2026_11 was not created" in result.output
    assert "sqla-partition reattach events events_p2026_11" in result.output
    assert "events_p2026_11" not in partitions(pg)
    assert pg.execute("SELECT count(*) FROM events WHERE note = 'nov'").fetchone() == (0,)


def test_reattach_puts_an_archive_back_with_rows_from_the_default(db_url, pg):
    expire_november(db_url, pg)
    pg.execute("INSERT INTO events (created_at, note) VALUES ('2026-11-28', 'late')")
    assert pg.execute("SELECT count(*) FROM events_default").fetchone() == (1,)
    dry = cli(db_url, "reattach", "events", "events_p2026_11", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "ATTACH PARTITION public.events_p2026_11" in dry.output
    assert "LOCK TABLE ONLY public.events IN" in dry.output  # writers held before DEFAULT's lock
    assert "events_p2026_11" not in partitions(pg)
    done = cli(db_url, "reattach", "events", "events_p2026_11")
    assert done.exit_code == 0, done.output
    assert "1 rows of its period moved in from DEFAULT" in done.output
    assert "events_p2026_11" in partitions(pg)
    notes = pg.execute(
        "SELECT tableoid::regclass::text, count(*) FROM events "
        "WHERE created_at < '2026-12-01' GROUP BY 1"
    ).fetchall()
    assert notes == [("events_p2026_11", 4)]
    assert recorded(pg, "events_p2026_11")[:2] == ("public", "attached")
    # the bound CHECK that spared the ATTACH its scan does not stay behind
    assert pg.execute(
        "SELECT count(*) FROM pg_constraint WHERE conrelid = 'events_p2026_11'::regclass "
        "AND contype = 'c'"
    ).fetchone() == (0,)
    # a rerun of work that is done (its commit got through, its client did not hear)
    again = cli(db_url, "reattach", "events", "events_p2026_11")
    assert again.exit_code == 0, again.output
    assert "is a partition of events already: nothing to do" in again.output


def test_reattach_refuses_before_changing_anything(db_url, pg):
    expire_november(db_url, pg)
    pg.execute("CREATE TABLE stranger (LIKE events)")
    out = cli(db_url, "reattach", "events", "stranger")
    assert out.exit_code == 2 and "not in the record" in out.output
    assert "public.events_p2026_11" in out.output  # names the archives there are

    pg.execute("ALTER TABLE events ADD COLUMN tenant int")  # a column added since
    out = cli(db_url, "reattach", "events", "events_p2026_11")
    assert out.exit_code == 2
    assert "tenant (integer) is missing from the archive" in out.output
    pg.execute("ALTER TABLE events_p2026_11 ADD COLUMN tenant int")

    pg.execute(
        "INSERT INTO events_p2026_11 (id, created_at, note) VALUES (9, '2027-01-05', 'stray')"
    )
    out = cli(db_url, "reattach", "events", "events_p2026_11")
    assert out.exit_code == 2 and "1 rows outside its period" in out.output
    pg.execute("DELETE FROM events_p2026_11 WHERE note = 'stray'")

    run_op(  # someone made November again
        db_url,
        lambda op: op.create_range_partition(
            "events",
            "events_nov_again",
            "2026-11-01",
            "2026-12-01",
            column="created_at",
            default_partition="events_default",
        ),
    )
    out = cli(db_url, "reattach", "events", "events_p2026_11")
    assert out.exit_code == 2 and "events_nov_again of events cover now" in out.output
    assert "events_p2026_11" not in partitions(pg)


def test_archives_in_an_archive_schema_come_back_beside_their_table(db_url, pg):
    policy = Range("created_at", premake=2, retention="3 months", archive_schema="Old Data")
    make_table(db_url, policy)
    pg.execute("INSERT INTO events (created_at) VALUES ('2026-11-10')")
    code, out = roll_json(db_url, "--now", "2027-03-05T00:00:00Z")
    assert code == 0, out
    assert recorded(pg, "events_p2026_11")[:2] == ("Old Data", "detached")
    done = cli(db_url, "reattach", "events", "Old Data.events_p2026_11")
    assert done.exit_code == 0, done.output
    assert "events_p2026_11" in partitions(pg)
    assert recorded(pg, "events_p2026_11")[:2] == ("public", "attached")


@pytest.mark.parametrize("choice", ["refuse", "drop", "keep"])
def test_dropping_a_table_says_what_happens_to_its_archives(db_url, pg, choice):
    expire_november(db_url, pg)
    drop = lambda op: op.drop_partitioned_table("events", archives=choice)  # noqa: E731
    if choice == "refuse":
        with pytest.raises(sa.exc.DBAPIError, match="1 archived partition"):
            run_op(db_url, drop)
        assert pg.execute("SELECT to_regclass('events')").fetchone() == ("events",)
        return
    run_op(db_url, drop)
    assert pg.execute("SELECT to_regclass('events')").fetchone() == (None,)
    archive = pg.execute("SELECT to_regclass('events_p2026_11')").fetchone()[0]
    assert archive == (None if choice == "drop" else "events_p2026_11")
    # the last managed table is gone: the tool's own tables go with it
    assert pg.execute("SELECT to_regclass('sqla_partition.sqla_partition_policy')").fetchone() == (
        None,
    )
    assert pg.execute(
        "SELECT to_regclass('sqla_partition.sqla_partition_partitions')"
    ).fetchone() == (None,)


def test_drop_archives_offline_sql_is_reviewable():
    from sqla_partition import sql

    text = sql.drop_archives('Ev"il\n', "public").annotated()
    assert "\nDROP" not in text.split("DO $do$")[0]  # the name cannot leave the comment
    assert "'Ev\"il\n'" in text


def test_reattach_brings_the_foreign_keys_back_and_checks_them(db_url, pg):
    pg.execute("CREATE TABLE users (id int PRIMARY KEY)")
    pg.execute("INSERT INTO users VALUES (1), (2)")
    make_table(db_url, POLICY)
    pg.execute("ALTER TABLE events ADD COLUMN user_id int REFERENCES users (id)")
    pg.execute(
        "INSERT INTO events (created_at, user_id) VALUES ('2026-11-10', 1), ('2026-11-11', 2)"
    )
    code, out = roll_json(db_url, "--now", "2027-03-05T00:00:00Z")
    assert code == 0 and out["tables"][0]["unlinked"] == ["events_p2026_11"], out
    pg.execute("DELETE FROM users WHERE id = 2")  # referenced only by the archive: allowed
    refused = cli(db_url, "reattach", "events", "events_p2026_11")
    assert refused.exit_code == 2, refused.output
    assert "was not reattached" in refused.output and "foreign key" in refused.output
    assert "events_p2026_11" not in partitions(pg)
    pg.execute("DELETE FROM events_p2026_11 WHERE user_id = 2")
    done = cli(db_url, "reattach", "events", "events_p2026_11")
    assert done.exit_code == 0, done.output
    keys = pg.execute(
        "SELECT count(*) FROM pg_constraint WHERE contype = 'f' "
        "AND conrelid = 'events_p2026_11'::regclass"
    ).fetchone()
    assert keys == (1,)


def test_reattach_never_takes_a_table_owned_by_another_role(db_url, pg):
    expire_november(db_url, pg)
    pg.execute("DROP ROLE IF EXISTS sqlp_mallory")
    pg.execute("CREATE ROLE sqlp_mallory")
    try:
        pg.execute("ALTER TABLE events_p2026_11 OWNER TO sqlp_mallory")
        out = cli(db_url, "reattach", "events", "events_p2026_11")
        assert out.exit_code == 2
        assert "is owned by sqlp_mallory" in out.output and "never attached" in out.output
        assert "events_p2026_11" not in partitions(pg)
    finally:
        pg.execute("DROP TABLE events_p2026_11")
        pg.execute("DROP ROLE sqlp_mallory")


@pytest.mark.parametrize("per_transaction", [1, 5])
def test_reattach_under_writers_into_that_period(db_url, pg, per_transaction):
    """Writers insert into the archive's period throughout (into the DEFAULT until the
    archive is back): no write fails, and every row of the period ends in the archive."""
    from .test_default_race import Writer

    expire_november(db_url, pg)
    writer = Writer(pg.info.dsn, [(2026, 11)], per_transaction)
    writer.start()
    try:
        time.sleep(0.3)
        done = cli(db_url, "reattach", "events", "events_p2026_11")
        time.sleep(0.3)
    finally:
        writer.stop.set()
        writer.join(10)
    assert done.exit_code == 0, done.output
    assert writer.failures == [] and writer.committed > 0
    placed = pg.execute(
        "SELECT tableoid::regclass::text, count(*) FROM events "
        "WHERE created_at < '2026-12-01' GROUP BY 1"
    ).fetchall()
    assert placed == [("events_p2026_11", writer.committed + 3)]
