"""``roll --place-default``: rows in the DEFAULT partition that no usual period covers."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from sqla_partition import Range
from sqla_partition.cli import main

from .test_roll import make_table, partitions, roll, roll_json

NOW = "2026-11-27T10:00:00Z"
POLICY = Range("created_at", premake=2, retention="12 months", default=True)


def stray_rows(db_url, pg):
    """Two rows far ahead, one behind the oldest partition but within retention, one older
    than retention: a plain roll leaves all four in the DEFAULT."""
    make_table(db_url, POLICY)
    pg.execute(
        "INSERT INTO events (created_at, note) VALUES ('2030-05-10', 'ahead'), "
        "('2030-05-20', 'ahead'), ('2026-03-15', 'behind'), ('2024-01-01', 'expired')"
    )
    code, out = roll_json(db_url, "--now", NOW)
    assert code == 0 and out["totals"]["created"] == 0
    assert pg.execute("SELECT count(*) FROM events_default").fetchone() == (4,)


def where(pg):
    return pg.execute(
        "SELECT note, tableoid::regclass::text FROM events ORDER BY created_at"
    ).fetchall()


def test_check_points_at_place_default(db_url, pg):
    stray_rows(db_url, pg)
    result = CliRunner().invoke(
        main, ["check", "--database-url", db_url, "--now", NOW, "--max-age", "1h"]
    )
    assert result.exit_code == 1
    assert "--place-default places the others" in result.output


def test_rows_far_ahead_and_behind_get_their_partitions(db_url, pg):
    stray_rows(db_url, pg)
    dry = roll(db_url, "--now", NOW, "--place-default", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "ATTACH PARTITION public.events_p2030_05" in dry.output
    assert "ATTACH PARTITION public.events_p2026_03" in dry.output
    assert "events_p2024_01" not in dry.output  # past retention: kept unless asked
    assert pg.execute("SELECT count(*) FROM events_default").fetchone() == (4,)

    result = roll(db_url, "--now", NOW, "--place-default")
    assert result.exit_code == 0, result.output
    assert "moved 3 rows out of DEFAULT" in result.output
    assert "1 rows older than retention (before 2025-11-27" in result.output
    assert "--expired archive" in result.output
    assert where(pg) == [
        ("expired", "events_default"),
        ("behind", "events_p2026_03"),
        ("ahead", "events_p2030_05"),
        ("ahead", "events_p2030_05"),
    ]
    # the next plain roll keeps them: no gap is filled, nothing is detached early
    code, out = roll_json(db_url, "--now", NOW)
    assert code == 0 and out["totals"]["created"] == 0 and out["totals"]["detached"] == 0
    assert {"events_p2026_03", "events_p2030_05"} <= set(partitions(pg))


@pytest.mark.parametrize("choice", ["archive", "delete"])
def test_rows_past_retention_go_only_as_asked(db_url, pg, choice):
    stray_rows(db_url, pg)
    result = roll(db_url, "--now", NOW, "--place-default", "--expired", choice)
    assert result.exit_code == 0, result.output
    assert pg.execute("SELECT count(*) FROM events_default").fetchone() == (0,)
    assert "events_p2024_01" not in partitions(pg)
    kept = pg.execute("SELECT to_regclass('events_p2024_01')").fetchone()[0]
    if choice == "archive":  # placed, then detached at once: an archive, with its row
        assert kept == "events_p2024_01"
        assert pg.execute("SELECT note FROM events_p2024_01").fetchall() == [("expired",)]
        state = pg.execute(
            "SELECT state FROM sqla_partition.sqla_partition_partitions "
            "WHERE partition_name = 'events_p2024_01'"
        ).fetchone()
        assert state == ("detached",)
    else:
        assert kept is None
        assert "deleted 1 row older than retention" in result.output
    assert pg.execute("SELECT count(*) FROM events").fetchone() == (3,)


def test_expired_needs_place_default(db_url):
    result = roll(db_url, "--expired", "delete")
    assert result.exit_code == 2 and "--place-default" in result.output


def test_status_counts_coverage_without_the_placed_future(db_url, pg):
    stray_rows(db_url, pg)
    assert roll(db_url, "--now", NOW, "--place-default").exit_code == 0
    result = CliRunner().invoke(main, ["status", "--database-url", db_url, "--now", NOW])
    # not 2030: the months between are missing
    assert "covered until 2027-03-01T00:00:00+00:00" in result.output, result.output


def test_placing_past_retention_obeys_the_expiry_hold(db_url, pg):
    """With the policies writable by other roles, nothing is detached: not even the
    partitions --expired archive makes for rows past retention."""
    stray_rows(db_url, pg)
    pg.execute("GRANT UPDATE ON sqla_partition.sqla_partition_policy TO PUBLIC")
    result = roll(db_url, "--now", NOW, "--place-default", "--expired", "archive", "--json")
    out = json.loads(result.stdout)
    assert out["tables"][0]["detached"] == [], out
    assert any("expiry held" in n for n in out["tables"][0]["notes"]), out
    assert "events_p2024_01" in partitions(pg)  # placed, and left attached
