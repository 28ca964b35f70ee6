"""Indexes on partitioned tables built without blocking writes, rerunnable, kept by roll."""

from __future__ import annotations

import datetime as dt
import sys
import textwrap
import threading
import time

import pglast
import psycopg

from sqla_partition import Hash, Range
from sqla_partition.cron.run import roll

from .alembic_project import models_project
from .test_hash import run_online
from .test_ops import run_offline
from .test_roll import make_table

STRONG = ("ShareLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock")


class LockProbe(threading.Thread):
    """Polls pg_locks for table locks that would block writers on any partition of
    ``events`` (not a writer's own relation-extension lock, which is not a table lock)."""

    def __init__(self, dsn: str):
        super().__init__(daemon=True)
        self.dsn = dsn
        self.stop = threading.Event()
        self.seen: set[tuple[str, str]] = set()
        self.polls = 0

    def run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self.stop.is_set():
                rows = conn.execute(
                    "SELECT c.relname, l.mode FROM pg_locks l JOIN pg_class c "
                    "ON c.oid = l.relation WHERE l.locktype = 'relation' "
                    "AND c.relname LIKE 'events\\_%%' "
                    "AND c.relkind = 'r' AND l.mode = ANY (%s)",
                    (list(STRONG),),
                ).fetchall()
                self.seen.update(rows)
                self.polls += 1
                time.sleep(0.002)


class Writer(threading.Thread):
    def __init__(self, dsn: str):
        super().__init__(daemon=True)
        self.dsn = dsn
        self.stop = threading.Event()
        self.failures: list[str] = []
        self.count = 0

    def run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self.stop.is_set():
                try:
                    conn.execute("INSERT INTO events (created_at, note) VALUES ('2026-12-15', 'w')")
                    self.count += 1
                except psycopg.Error as exc:
                    self.failures.append(str(exc))


def index_state(pg, index: str) -> tuple[bool, list[str]]:
    valid = pg.execute(
        "SELECT indisvalid FROM pg_index WHERE indexrelid = %s::regclass", (index,)
    ).fetchone()[0]
    partitions = pg.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class ci ON ci.oid = i.inhrelid "
        "JOIN pg_index x ON x.indexrelid = ci.oid JOIN pg_class c ON c.oid = x.indrelid "
        "WHERE i.inhparent = %s::regclass ORDER BY 1",
        (index,),
    ).fetchall()
    return valid, [p for (p,) in partitions]


def build(op):
    op.create_partitioned_index("ix_events_note", "events", ["note"])


def test_index_built_on_every_partition_while_writing_then_kept_by_roll(db_url, pg):
    make_table(db_url, Range("created_at", premake=3, default=True))
    pg.execute(
        "INSERT INTO events (created_at, note) SELECT timestamptz '2026-11-01' "
        "+ g * interval '1 minute', 'n' || g FROM generate_series(1, 100000) g"
    )
    probe, writer = LockProbe(pg.info.dsn), Writer(pg.info.dsn)
    probe.start()
    writer.start()
    run_online(db_url, build)
    writer.stop.set()
    probe.stop.set()
    writer.join()
    probe.join()

    assert writer.failures == [] and writer.count > 0
    assert probe.polls > 10 and probe.seen == set()  # no lock that blocks writers
    valid, partitions = index_state(pg, "ix_events_note")
    assert valid
    assert partitions == [
        "events_default",
        "events_p2026_11",
        "events_p2026_12",
        "events_p2027_01",
        "events_p2027_02",
    ]

    run_online(db_url, build)  # a rerun changes nothing
    assert index_state(pg, "ix_events_note") == (valid, partitions)

    # roll's new partitions get the index when they are attached
    with psycopg.connect(pg.info.dsn, autocommit=True) as conn:
        roll(conn, dt.datetime(2027, 1, 10, tzinfo=dt.timezone.utc))
    valid, partitions = index_state(pg, "ix_events_note")
    assert valid and "events_p2027_04" in partitions


def test_a_half_built_index_is_finished_by_a_rerun(db_url, pg):
    make_table(db_url, Range("created_at", premake=3, default=True))
    pg.execute("INSERT INTO events (created_at, note) VALUES ('2026-11-05', 'a')")
    # an earlier run stopped: the parent's index, one partition's index left invalid
    pg.execute("CREATE INDEX ix_events_note ON ONLY events (note)")
    pg.execute("CREATE INDEX events_p2026_11_note_idx ON events_p2026_11 (note)")
    pg.execute(
        "UPDATE pg_index SET indisvalid = false "
        "WHERE indexrelid = 'events_p2026_11_note_idx'::regclass"
    )
    assert index_state(pg, "ix_events_note") == (False, [])
    run_online(db_url, build)
    valid, partitions = index_state(pg, "ix_events_note")
    assert valid and len(partitions) == 5
    assert pg.execute(
        "SELECT indisvalid FROM pg_index WHERE indexrelid = 'events_p2026_11_note_idx'::regclass"
    ).fetchone() == (True,)


def test_a_rerun_waits_for_the_index_build_a_killed_run_left_running(db_url, pg):
    """The server process of a killed migration keeps building a partition's index (here
    it waits for a writer's open transaction, as CREATE INDEX CONCURRENTLY does). A rerun
    beside it would deadlock: it waits instead, bounded, then finishes the index."""
    make_table(db_url, Range("created_at", premake=3, default=True))
    pg.execute("INSERT INTO events (created_at, note) VALUES ('2026-11-05', 'a')")
    pg.execute("CREATE INDEX ix_events_note ON ONLY events (note)")
    writer = psycopg.connect(pg.info.dsn)  # a transaction the build waits for
    writer.execute(
        "INSERT INTO events_p2026_11 (id, created_at, note) VALUES (-1, '2026-11-06', 'b')"
    )
    orphan = psycopg.connect(pg.info.dsn, autocommit=True)
    orphan_pid = orphan.info.backend_pid

    def killed_run_still_building() -> None:
        orphan.execute(
            "CREATE INDEX CONCURRENTLY events_p2026_11_note_idx ON events_p2026_11 (note)"
        )
        orphan.close()

    building = threading.Thread(target=killed_run_still_building, daemon=True)
    building.start()
    while not pg.execute(
        "SELECT 1 FROM pg_stat_progress_create_index WHERE pid = %s", (orphan_pid,)
    ).fetchone():
        time.sleep(0.05)
    # bounded: one line naming the build it waited for
    try:
        run_online(db_url, build, sqla_partition_wait_for_other_run=300)
        raise AssertionError("the rerun did not wait for the build")
    except Exception as exc:  # noqa: BLE001 - Alembic wraps it
        assert f"events_p2026_11 (process {orphan_pid})" in str(exc)
    # the build ends (the writer commits) while a rerun waits: that rerun finishes the index
    threading.Timer(1.0, writer.commit).start()
    run_online(db_url, build)
    building.join(10)
    valid, partitions = index_state(pg, "ix_events_note")
    assert valid and len(partitions) == 5


def test_index_on_a_range_of_hashes(db_url, pg):
    make_table(
        db_url,
        Range("created_at", premake=1, subpartition=Hash("id", 2)),
        start="2026-11-01",
        until="2027-01-01",
    )
    run_online(db_url, build)
    valid, partitions = index_state(pg, "ix_events_note")
    assert valid and partitions == ["events_p2026_11", "events_p2026_12"]
    leaves = pg.execute(
        "SELECT count(*) FROM pg_partition_tree('events') t JOIN pg_index x "
        "ON x.indrelid = t.relid WHERE t.isleaf AND x.indisvalid AND x.indexrelid::regclass::text "
        "LIKE '%%note_idx'"
    ).fetchone()
    assert leaves == (4,)  # each month's two hash partitions


def test_offline_sql_lists_the_captured_partitions():
    def offline(op):
        op.create_partitioned_index(
            "ix_events_note",
            "events",
            ["note"],
            partitions=[("events_p2026_11", "events", False), ("events_default", "events", False)],
        )

    text = run_offline(offline)
    assert "CREATE INDEX IF NOT EXISTS ix_events_note ON ONLY events (note)" in text
    assert "CREATE INDEX CONCURRENTLY IF NOT EXISTS events_p2026_11_note_idx" in text
    assert "ALTER INDEX ix_events_note ATTACH PARTITION events_default_note_idx" in text
    assert pglast.parse_sql(text)


MODELS = textwrap.dedent(
    """
    import os

    import sqlalchemy as sa
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

    from sqla_partition import Range


    class Base(DeclarativeBase):
        pass


    class Event(Base):
        __tablename__ = "events"
        __partitioning__ = Range("created_at", premake=1, default=True)
        if os.environ.get("WITH_INDEX"):
            __table_args__ = (sa.Index("ix_events_note", "note"),)
        id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
        created_at = mapped_column(sa.DateTime(timezone=True), primary_key=True)
        note: Mapped[str]
    """
)


def test_autogenerate_builds_a_new_index_online(tmp_path, db_url, pg, monkeypatch):
    monkeypatch.delenv("WITH_INDEX", raising=False)
    with models_project(tmp_path, db_url, monkeypatch, "index_models", MODELS) as project:
        project.revision("events")
        project.upgrade()
        monkeypatch.setenv("WITH_INDEX", "1")
        sys.modules.pop("index_models", None)
        text = project.revision("index").split("def downgrade")[0]
        assert (
            "op.create_partitioned_index('ix_events_note', 'events', ['note'], partitions=["
            "('events_default', 'events', False), ('events_p2026_11', 'events', False), "
            "('events_p2026_12', 'events', False)])" in text
        )
        assert "op.create_index(" not in text
        assert "CREATE INDEX CONCURRENTLY" in project.offline_sql()
        project.upgrade()
        assert index_state(pg, "ix_events_note")[0]
        project.check()
