"""roll while the application works: writers never fail or wait past lock_timeout."""

from __future__ import annotations

import datetime as dt
import threading
import time

import psycopg
import pytest

from sqla_partition import Range
from sqla_partition.cron.results import RollOptions
from sqla_partition.cron.run import roll

from .test_roll import make_table, partitions

LOCK_TIMEOUT_MS = 500
#: Scheduling noise on a shared 2-core machine; the bound under test is lock_timeout.
SLACK_S = 0.5


class Writer(threading.Thread):
    """Inserts one row per transaction into a live partition and times each insert."""

    def __init__(self, dsn: str, at: str):
        super().__init__(daemon=True)
        self.dsn, self.at = dsn, at
        self.stop = threading.Event()
        self.waits: list[float] = []
        self.failures: list[str] = []

    def run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self.stop.is_set():
                started = time.monotonic()
                try:
                    conn.execute(
                        "INSERT INTO events (created_at, note) VALUES (%s, 'w')", (self.at,)
                    )
                except psycopg.Error as exc:
                    self.failures.append(str(exc))
                self.waits.append(time.monotonic() - started)


@pytest.mark.parametrize("default", [True, False])
def test_busy_writer_never_fails_nor_waits_past_lock_timeout(db_url, pg, default):
    make_table(
        db_url,
        Range("created_at", premake=3, retention="3 months", default=default),
        start="2026-06-01",
        until="2027-03-01",
    )
    writer = Writer(pg.info.dsn, "2027-02-15 12:00+00")
    writer.start()
    time.sleep(0.2)
    options = RollOptions(lock_timeout_ms=LOCK_TIMEOUT_MS, retries=6, backoff_s=0.05)
    with psycopg.connect(pg.info.dsn, autocommit=True) as conn:
        for month in (4, 5):  # two runs: create ahead, detach behind (not February)
            now = dt.datetime(2027, month, 10, tzinfo=dt.timezone.utc)
            report = roll(conn, now, options)
            assert report.exit_code == 0, report.as_dict()
    time.sleep(0.2)
    writer.stop.set()
    writer.join(10)
    longest = max(writer.waits)
    print(f"inserts: {len(writer.waits)}, longest wait {longest * 1000:.0f} ms")
    assert writer.failures == []
    assert len(writer.waits) > 50
    assert longest < LOCK_TIMEOUT_MS / 1000 + SLACK_S
    assert "events_p2027_08" in partitions(pg) and "events_p2026_06" not in partitions(pg)
    count = pg.execute("SELECT count(*) FROM events WHERE note = 'w'").fetchone()[0]
    assert count == len(writer.waits)  # every insert landed


def test_reader_holding_the_parent_delays_others_by_at_most_lock_timeout(db_url, pg):
    make_table(db_url, Range("created_at", premake=1, retention="3 months", default=True))
    dsn = pg.info.dsn
    holder = psycopg.connect(dsn)  # an open transaction that read the parent
    holder.execute("SELECT count(*) FROM events")
    waits: list[float] = []
    done = threading.Event()

    def second_reader() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SET statement_timeout = '10s'")
            while not done.is_set():
                started = time.monotonic()
                conn.execute("SELECT count(*) FROM events")
                waits.append(time.monotonic() - started)
                time.sleep(0.02)

    reader = threading.Thread(target=second_reader, daemon=True)
    reader.start()
    options = RollOptions(lock_timeout_ms=LOCK_TIMEOUT_MS, retries=2, backoff_s=0.05)
    now = dt.datetime(2027, 4, 10, tzinfo=dt.timezone.utc)
    with psycopg.connect(dsn, autocommit=True) as conn:
        report = roll(conn, now, options)
    done.set()
    reader.join(10)
    holder.rollback()
    table = report.tables[0]
    assert report.exit_code == 3 and table.status == "locked"
    assert table.lock_retries == 2
    assert max(waits) < LOCK_TIMEOUT_MS / 1000 + SLACK_S
    print(f"second reader: {len(waits)} reads, longest {max(waits) * 1000:.0f} ms")
    # the reader is gone: the next run finishes the work
    with psycopg.connect(dsn, autocommit=True) as conn:
        again = roll(conn, now, options)
    assert again.exit_code == 0
    assert "events_p2026_11" not in partitions(pg) and "events_p2027_05" in partitions(pg)
