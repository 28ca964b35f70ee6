"""Retention acts only on partitions in the record: every partition the tool makes is in it
from the moment it exists; a partition someone else attached is reported, never expired."""

from __future__ import annotations

import json
import sys

import psycopg
import sqlalchemy as sa
from click.testing import CliRunner

from sqla_partition import Range
from sqla_partition.cli import main

from .conftest import _libpq
from .test_hash import run_online

RECORD = "sqla_partition.sqla_partition_partitions"


def events(db_url: str, policy: Range) -> None:
    def create(op):
        op.create_partitioned_table(
            "events",
            sa.Column("id", sa.BigInteger, nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id", "created_at"),
            partitioning=policy,
            start="2026-11-01",
            until="2027-01-01",
        )

    run_online(db_url, create)


def recorded(pg) -> dict[str, str]:
    return dict(pg.execute(f"SELECT partition_name, state FROM {RECORD}").fetchall())


def cli(db_url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--database-url", db_url])
    return result.exit_code, result.output


def test_a_partition_someone_else_attached_is_never_expired(db_url, pg):
    events(db_url, Range("created_at", premake=1, retention="3 months", on_expire="drop"))
    # the first migration's partitions are the tool's from the moment they exist
    assert recorded(pg) == {"events_p2026_11": "attached", "events_p2026_12": "attached"}
    pg.execute(
        "CREATE TABLE events_2019_jan PARTITION OF events "
        "FOR VALUES FROM ('2019-01-01') TO ('2019-02-01')"
    )
    pg.execute("INSERT INTO events VALUES (1, '2019-01-15'), (2, '2026-11-15')")

    code, out = cli(db_url, "roll", "--now", "2027-03-10T00:00:00Z", "--json")
    assert code == 0, out
    (table,) = json.loads(out)["tables"]
    assert table["dropped"] == ["events_p2026_11"]  # the tool's, past retention
    assert "events_2019_jan" not in table["dropped"] + table["detached"]
    assert any("events_2019_jan" in note and "adopt" in note for note in table["notes"])
    assert pg.execute("SELECT count(*) FROM events_2019_jan").fetchone() == (1,)

    code, out = cli(db_url, "check", "--now", "2027-03-10T00:00:00Z")
    assert code == 1 and "not made by sqla-partition" in out and "events_2019_jan" in out
    assert "sqla-partition adopt public.events --partition NAME" in out
    code, out = cli(db_url, "status", "--now", "2027-03-10T00:00:00Z")
    assert "past retention, not made by sqla-partition (left attached): events_2019_jan" in out

    # named by the operator, it is the tool's to expire
    code, out = cli(db_url, "adopt", "events", "--partition", "nope")
    assert code == 2 and "no partition named nope" in out
    code, out = cli(db_url, "adopt", "events", "--partition", "events_2019_jan")
    assert code == 0 and "recorded as sqla-partition's: events_2019_jan" in out, out
    code, out = cli(db_url, "roll", "--now", "2027-03-10T00:00:00Z", "--json")
    assert json.loads(out)["tables"][0]["dropped"] == ["events_2019_jan"]


def test_partitions_made_before_the_record_kept_them_are_recorded_once(db_url, pg):
    events(db_url, Range("created_at", premake=1, retention="3 months"))
    pg.execute(f"DELETE FROM {RECORD}")  # a database migrated by an earlier version
    pg.execute(
        "CREATE TABLE events_old (LIKE events); ALTER TABLE events ATTACH PARTITION "
        "events_old FOR VALUES FROM ('2025-01-01') TO ('2025-02-01')"
    )
    code, out = cli(db_url, "roll", "--now", "2027-03-10T00:00:00Z", "--json")
    assert code == 0, out
    (table,) = json.loads(out)["tables"]
    # made with the table (the catalog proves it): recorded, then expired as before
    assert table["detached"] == ["events_p2026_11"]
    state = recorded(pg)
    assert state["events_p2026_11"] == "detached" and state["events_p2026_12"] == "attached"
    assert "events_old" not in state  # attached later, by someone else
    assert pg.execute("SELECT to_regclass('events_old')::text").fetchone() == ("events_old",)


def test_a_first_policy_adopts_the_partitions_the_table_has(db_url, pg):
    pg.execute("CREATE TABLE logs (at date NOT NULL) PARTITION BY RANGE (at)")
    pg.execute(
        "CREATE TABLE logs_p2026_10 PARTITION OF logs FOR VALUES FROM ('2026-10-01') "
        "TO ('2026-11-01')"
    )
    policy = Range("at", premake=1, retention="1 month")
    run_online(db_url, lambda op: op.set_partition_policy("logs", policy))
    assert recorded(pg) == {"logs_p2026_10": "attached"}
    pg.execute(
        "CREATE TABLE logs_extra PARTITION OF logs FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')"
    )
    run_online(db_url, lambda op: op.set_partition_policy("logs", policy))  # a change
    assert "logs_extra" not in recorded(pg)  # only a first policy adopts


def test_raising_premake_skips_a_period_an_archive_holds(tmp_path, db_url, pg, monkeypatch):
    """Time walked forward (retention archived January) and back: a migration raising
    premake needs January's name again. Autogenerate leaves that period out (roll refuses
    it too: reattach puts the archive back); a migration written before the archive was
    made skips it with a warning. Before, both stopped with DuplicateTable."""
    import textwrap

    from .alembic_project import models_project

    source = textwrap.dedent(
        """
        import os
        import sqlalchemy as sa
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
        from sqla_partition import Range

        class Base(DeclarativeBase):
            pass

        class Event(Base):
            __tablename__ = "events"
            __partitioning__ = Range(
                "created_at", premake=int(os.environ.get("PREMAKE", "2")), retention="1 month"
            )
            id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
            created_at = mapped_column(sa.DateTime(timezone=True), primary_key=True)
        """
    )
    monkeypatch.setenv("PREMAKE", "2")
    now = "2026-11-27T10:00:00+00:00"
    with models_project(tmp_path, db_url, monkeypatch, "premake_models", source, now) as project:
        project.revision("events")  # November through January
        project.upgrade()
        code, out = cli(db_url, "roll", "--now", "2027-04-10T00:00:00Z", "--json")
        assert code == 0, out
        assert "events_p2027_01" in json.loads(out)["tables"][0]["detached"]  # an archive

        monkeypatch.setenv("PREMAKE", "4")  # back in November: four months ahead
        sys.modules.pop("premake_models", None)
        text = project.revision("premake 4").split("def downgrade")[0]
        assert "premake=4" in text and "events_p2027_02" in text
        assert "events_p2027_01" not in text  # the archive's period is left to reattach
        project.upgrade()
    assert recorded(pg)["events_p2027_01"] == "detached"

    # a migration that still names the period (written before the archive was made)
    policy = Range("created_at", premake=5, retention="1 month")
    jan = ("events_p2027_01", "2027-01-01", "2027-02-01")
    run_online(db_url, lambda op: op.set_partition_policy("events", policy, partitions=[jan]))
    assert pg.execute(
        "SELECT count(*) FROM pg_inherits WHERE inhrelid = 'events_p2027_01'::regclass"
    ).fetchone() == (0,)  # never taken as a partition


def test_the_record_says_detached_only_once_the_partition_is(db_url, pg):
    """A DETACH … CONCURRENTLY commits on its own, so its record comes after it: one that
    times out (a reader holds the partition) leaves the partition attached, its detach
    pending, and recorded as attached; the next run finishes it and records it."""
    events(db_url, Range("created_at", premake=1, retention="1 month"))
    now = ["--now", "2027-02-10T00:00:00Z"]
    with psycopg.connect(_libpq(db_url)) as blocker:
        blocker.execute("SELECT count(*) FROM events_p2026_11")  # a reader holds it
        code, out = cli(db_url, "roll", *now, "--lock-timeout", "100ms", "--retries", "0")
        assert code == 3, out
        attached = "SELECT count(*) FROM pg_inherits WHERE inhrelid = 'events_p2026_11'::regclass"
        assert pg.execute(attached).fetchone() == (1,)
        assert recorded(pg)["events_p2026_11"] == "attached"  # its detach is pending
    code, out = cli(db_url, "roll", *now, "--json")
    assert code == 0, out
    (table,) = json.loads(out)["tables"]
    assert table["finalized"] == ["events_p2026_11"] and table["detached"] == ["events_p2026_12"]
    assert pg.execute(attached).fetchone() == (0,)
    assert recorded(pg)["events_p2026_11"] == "detached"


def test_a_detach_the_record_missed_is_recorded_by_the_next_run(db_url, pg):
    """A run stopped between a DETACH … CONCURRENTLY and its record (as if killed) leaves
    an archive recorded as attached: the next run records what happened, and writes
    nothing when there is nothing to say."""
    events(db_url, Range("created_at", premake=1, retention="6 months"))
    pg.execute("ALTER TABLE events DETACH PARTITION events_p2026_11 CONCURRENTLY")
    assert recorded(pg)["events_p2026_11"] == "attached"
    code, out = cli(db_url, "roll", "--now", "2026-12-10T00:00:00Z")
    assert code == 0, out
    assert recorded(pg) == {
        "events_p2026_11": "detached",
        "events_p2026_12": "attached",
        "events_p2027_01": "attached",
    }
    code, out = cli(db_url, "status", "--now", "2026-12-10T00:00:00Z", "--json")
    assert code == 0 and "events_p2026_11" in out, out
    before = pg.execute(f"SELECT xmin::text FROM {RECORD} ORDER BY 1").fetchall()
    code, out = cli(db_url, "roll", "--now", "2026-12-10T00:00:00Z")
    assert code == 0, out
    assert pg.execute(f"SELECT xmin::text FROM {RECORD} ORDER BY 1").fetchall() == before
