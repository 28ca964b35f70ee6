"""A period missing between a table's partitions (dropped by hand, never made) is made
again inside retention; an archive detached on purpose, a period past retention and the
far-off partitions made for outliers are no gap."""

from __future__ import annotations

import json
import time

from click.testing import CliRunner

from sqla_partition import Range
from sqla_partition.cli import main

from .test_archives import run_op
from .test_integer_keys import ids_table
from .test_roll import make_table, partitions, roll_json
from .test_roll_under_load import Writer

NOW = ["--now", "2027-01-10T00:00:00Z"]


def test_a_partition_dropped_by_hand_is_made_again(db_url, pg):
    make_table(db_url, Range("created_at", premake=2, retention="6 months", default=True))
    pg.execute("DROP TABLE events_p2026_12")
    status = CliRunner().invoke(main, ["status", "--database-url", db_url, "--json", *NOW])
    (table,) = json.loads(status.output)
    assert "events_p2026_12" in table["missing"]
    dry = CliRunner().invoke(main, ["roll", "--database-url", db_url, "--dry-run", *NOW])
    assert "1 missing between its partitions, made again: events_p2026_12" in dry.output
    assert "CREATE TABLE public.events_p2026_12 (LIKE" in dry.output, dry.output
    code, out = roll_json(db_url, *NOW)
    assert code == 0, out
    assert "events_p2026_12" in out["tables"][0]["created"]
    assert "events_p2026_12" in partitions(pg)
    assert "made again: events_p2026_12" in out["tables"][0]["notes"][0]
    code, out = roll_json(db_url, *NOW)
    assert out["tables"][0]["created"] == [] and out["tables"][0]["notes"] == []


def test_a_gap_with_rows_in_the_default_is_filled_while_writers_write(db_url, pg):
    """Rows of the missing month wait in the DEFAULT and a writer keeps adding more: the
    month made again takes every one of them, and no insert fails."""
    make_table(db_url, Range("created_at", premake=2, retention="6 months", default=True))
    pg.execute("DROP TABLE events_p2026_12")
    pg.execute(
        "INSERT INTO events (created_at, note) SELECT timestamptz '2026-12-01 00:00+00' + "
        "g * interval '1 hour', 'old' FROM generate_series(0, 99) g"
    )
    writer = Writer(pg.info.dsn, "2026-12-15 12:00+00")
    writer.start()
    time.sleep(0.2)
    try:
        code, out = roll_json(db_url, *NOW)
    finally:
        time.sleep(0.2)
        writer.stop.set()
        writer.join()
    assert code == 0, out
    assert writer.failures == [] and len(writer.waits) > 0
    assert "events_p2026_12" in out["tables"][0]["created"]
    assert out["tables"][0]["moved_rows"] >= 100, out
    assert pg.execute("SELECT count(*) FROM events_default").fetchone() == (0,)
    counts = pg.execute(
        "SELECT count(*) FILTER (WHERE note = 'old'), count(*) FILTER (WHERE note = 'w') "
        "FROM events_p2026_12"
    ).fetchone()
    assert counts == (100, len(writer.waits)), counts


def test_an_archive_and_a_period_past_retention_stay_gaps(db_url, pg):
    make_table(
        db_url,
        Range("created_at", premake=2, retention="2 months"),
        start="2026-09-01",
        until="2027-03-01",
    )
    run_op(db_url, lambda op: op.detach_partition("events", "events_p2026_12"))
    pg.execute("DROP TABLE events_p2026_09")  # past retention on 10 January: stays away
    code, out = roll_json(db_url, *NOW)
    assert code == 0, out
    made = out["tables"][0]["created"]
    assert "events_p2026_12" not in made and "events_p2026_09" not in made
    assert "events_p2026_12" not in partitions(pg)


def test_integer_gaps_are_filled_but_not_up_to_a_far_off_outlier(db_url, pg):
    ids_table(db_url, Range("id", interval=10, premake=1, default=True), 50)
    pg.execute("INSERT INTO ids SELECT g, 'real' FROM generate_series(1, 45) g")
    pg.execute("INSERT INTO ids VALUES (9000000005, 'stray')")
    result = CliRunner().invoke(
        main, ["roll", "--place-default", "--database-url", db_url, "--json"]
    )
    assert result.exit_code in (0, 1), result.output
    pg.execute("ALTER TABLE ids DETACH PARTITION ids_p0000000020")
    pg.execute("DROP TABLE ids_p0000000020")
    code, out = roll_json(db_url)
    assert code == 0, out
    assert out["tables"][0]["created"] == ["ids_p0000000020"]
    names = partitions(pg, "ids")
    assert len(names) < 10  # nothing made between the real rows and the outlier
