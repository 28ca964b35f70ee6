"""Writers inserting into the very period being attached beside a DEFAULT partition.

An INSERT routes its row with the partitions it saw when it started. Routed to the DEFAULT
before an ATTACH, and queued on the DEFAULT's lock, it would fail once the ATTACH commits
("new row for relation … violates partition constraint"). Every path that attaches a
partition beside a DEFAULT holds the parent's writers first, so they route afresh: these
tests run writers flat out into the periods being attached and count their failures.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time

import psycopg
import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations

from sqla_partition import Range
from sqla_partition.cron.results import RollOptions
from sqla_partition.cron.run import roll

from .test_roll import make_table, partitions

UTC = dt.timezone.utc


class Writer(threading.Thread):
    """Inserts rows dated in ``months`` as fast as it can: one per transaction, or
    ``per_transaction`` per transaction; records every committed row and every failure."""

    def __init__(self, dsn: str, months: list[tuple[int, int]], per_transaction: int = 1):
        super().__init__(daemon=True)
        self.dsn, self.months, self.per_transaction = dsn, months, per_transaction
        self.stop = threading.Event()
        self.committed = 0
        self.failures: list[str] = []
        self.rng = random.Random(len(months) * 31 + per_transaction)

    def _moment(self) -> str:
        year, month = self.rng.choice(self.months)
        day, hour = self.rng.randint(1, 28), self.rng.randint(0, 23)
        return f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:30+00"

    def run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=self.per_transaction == 1) as conn:
            while not self.stop.is_set():
                try:
                    if self.per_transaction == 1:
                        conn.execute(
                            "INSERT INTO events (created_at, note) VALUES (%s, 'w')",
                            (self._moment(),),
                        )
                    else:
                        with conn.transaction():
                            for _ in range(self.per_transaction):
                                conn.execute(
                                    "INSERT INTO events (created_at, note) VALUES (%s, 'w')",
                                    (self._moment(),),
                                )
                    self.committed += self.per_transaction
                except psycopg.Error as exc:
                    self.failures.append(str(exc).splitlines()[0])


class Reader(threading.Thread):
    """Counts the table, and the months being attached, over and over, each statement
    planned afresh: with rows only ever added, a count must never go down. A query planned
    before an ATTACH and run after it would look for moved rows in the DEFAULT only."""

    QUERIES = (
        "SELECT count(*) FROM events",
        "SELECT count(*) FROM events "
        "WHERE created_at >= '2027-01-01' AND created_at < '2027-09-01'",
    )

    def __init__(self, dsn: str):
        super().__init__(daemon=True)
        self.dsn = dsn
        self.stop = threading.Event()
        self.drops: list[str] = []
        self.reads = 0

    def run(self) -> None:
        last = dict.fromkeys(self.QUERIES, 0)
        with psycopg.connect(self.dsn, autocommit=True, prepare_threshold=None) as conn:
            while not self.stop.is_set():
                for query in self.QUERIES:
                    (count,) = conn.execute(query).fetchone()
                    if count < last[query]:
                        self.drops.append(f"{query}: {last[query]} then {count}")
                    last[query] = max(last[query], count)
                    self.reads += 1


def _months(first: tuple[int, int], count: int) -> list[tuple[int, int]]:
    year, month = first
    out = []
    for _ in range(count):
        out.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _run_writers(dsn: str, months: list[tuple[int, int]]) -> list[Writer | Reader]:
    workers: list[Writer | Reader] = [
        Writer(dsn, months),
        Writer(dsn, months),
        Writer(dsn, months, per_transaction=5),
        Reader(dsn),
    ]
    for w in workers:
        w.start()
    time.sleep(0.3)  # rows of the coming months pile up in the DEFAULT partition
    return workers


def _stop(workers: list[Writer | Reader]) -> None:
    time.sleep(0.2)
    for w in workers:
        w.stop.set()
    for w in workers:
        w.join(20)


def _assert_every_row_in_its_period(pg: psycopg.Connection, workers: list[Writer | Reader]) -> None:
    readers = [w for w in workers if isinstance(w, Reader)]
    writers = [w for w in workers if isinstance(w, Writer)]
    drops = [d for r in readers for d in r.drops]
    assert drops == [], f"rows out of sight of {len(drops)} reads, first: {drops[0]}"
    assert sum(r.reads for r in readers) > 20
    failures = [f for w in writers for f in w.failures]
    assert failures == [], f"{len(failures)} failed writes, first: {failures[0]}"
    committed = sum(w.committed for w in writers)
    assert committed > 200  # the writers did run through the changes
    assert pg.execute("SELECT count(*) FROM events WHERE note = 'w'").fetchone()[0] == committed
    misplaced = pg.execute(
        "SELECT count(*) FROM events e JOIN pg_class c ON c.oid = e.tableoid "
        "WHERE c.relname <> 'events_p' || to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY_MM') "
        "AND c.relname <> 'events_default'"
    ).fetchone()[0]
    assert misplaced == 0


@pytest.mark.parametrize("backlog", [False, True], ids=["default-empty", "default-backlog"])
def test_roll_attaches_beside_a_default_while_writers_insert_into_that_period(db_url, pg, backlog):
    """roll walks forward a month at a time; writers insert into the months it attaches.

    ``default-empty``: the DEFAULT starts empty (new partitions are attached in groups,
    the move only when rows arrived); ``default-backlog``: every month has rows waiting.
    """
    make_table(db_url, Range("created_at", premake=1, default=True), until="2027-01-01")
    if backlog:
        pg.execute(
            "INSERT INTO events (created_at, note) SELECT '2027-01-01'::timestamptz "
            "+ (g || ' hours')::interval, 'old' FROM generate_series(0, 5000) g"
        )
    writers = _run_writers(pg.info.dsn, _months((2027, 1), 8))
    options = RollOptions(lock_timeout_ms=1000, retries=8, backoff_s=0.05)
    try:
        with psycopg.connect(pg.info.dsn, autocommit=True) as conn:
            for month in range(1, 7):  # each run attaches the next month (premake 1)
                report = roll(conn, dt.datetime(2027, month, 15, tzinfo=UTC), options)
                assert report.exit_code == 0, report.as_dict()
    finally:
        _stop(writers)
    assert "events_p2027_07" in partitions(pg)
    _assert_every_row_in_its_period(pg, writers)


def test_create_range_partition_beside_a_default_while_writers_insert_into_it(db_url, pg):
    make_table(db_url, Range("created_at", premake=1, default=True), until="2027-01-01")
    writers = _run_writers(pg.info.dsn, _months((2027, 1), 4))
    engine = sa.create_engine(db_url)
    try:
        for month in range(1, 5):
            with engine.connect() as conn:
                ctx = MigrationContext.configure(
                    conn, opts={"sqla_partition_lock_timeout": 1000, "sqla_partition_retries": 8}
                )
                with ctx.begin_transaction():
                    Operations(ctx).create_range_partition(
                        "events",
                        f"events_p2027_{month:02d}",
                        lower=dt.datetime(2027, month, 1, tzinfo=UTC),
                        upper=dt.datetime(2027 + month // 12, month % 12 + 1, 1, tzinfo=UTC),
                        column="created_at",
                        key_type="timestamptz",
                        default_partition="events_default",
                    )
                conn.commit()
    finally:
        _stop(writers)
        engine.dispose()
    assert "events_p2027_04" in partitions(pg)
    _assert_every_row_in_its_period(pg, writers)


def test_roll_killed_while_it_moves_a_backlog_leaves_every_row_in_sight(db_url, pg):
    """The server process of roll is terminated in the middle of moving a month's rows out
    of the DEFAULT partition: the move rolls back with the ATTACH, every row stays where
    queries find it, and the next run moves them."""
    import subprocess
    import sys

    make_table(db_url, Range("created_at", premake=1, default=True), until="2027-01-01")
    pg.execute(
        "INSERT INTO events (created_at, note) SELECT '2027-01-01'::timestamptz "
        "+ (g % 2678400) * interval '1 second', 'old' FROM generate_series(1, 300000) g"
    )
    before = pg.execute("SELECT count(*), sum(id) FROM events").fetchone()
    command = [sys.executable, "-m", "sqla_partition.cli", "roll", "--database-url", db_url]
    command += ["--now", "2027-01-15T00:00:00Z", "--max-move-rows", "1000000", "--json"]
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = None
    deadline = time.monotonic() + 60
    while killed is None and run.poll() is None and time.monotonic() < deadline:
        killed = pg.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE query LIKE 'WITH moved AS (DELETE FROM public.events_default%%' "
            "AND pid <> pg_backend_pid()"
        ).fetchone()
    out, err = run.communicate(timeout=60)
    assert killed == (True,), f"the move was not caught running: {out} {err}"
    assert run.returncode != 0
    # nothing moved, nothing lost: all rows still in the DEFAULT, no January partition
    assert pg.execute("SELECT count(*), sum(id) FROM events").fetchone() == before
    assert pg.execute("SELECT count(*) FROM events_default").fetchone()[0] == 300000
    assert "events_p2027_01" not in partitions(pg)
    again = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert pg.execute("SELECT count(*) FROM events_p2027_01").fetchone()[0] == 300000
    assert pg.execute("SELECT count(*), sum(id) FROM events").fetchone() == before


def test_an_application_that_reads_then_writes_is_never_a_deadlock_victim(db_url, pg):
    """The application's transaction reads the table (holding the DEFAULT against roll's
    ATTACH), then writes it (waiting for roll's lock on the parent): a deadlock. roll waits
    for a lock at most half of deadlock_timeout, so it always gives up first and retries;
    the application's write goes through."""
    make_table(db_url, Range("created_at", premake=1, default=True), until="2027-01-01")
    app = psycopg.connect(pg.info.dsn)
    app.execute("SELECT count(*) FROM events")  # ACCESS SHARE on the parent and DEFAULT
    options = RollOptions(lock_timeout_ms=3000, retries=20, backoff_s=0.05)
    reports = []

    def run() -> None:
        with psycopg.connect(pg.info.dsn, autocommit=True) as conn:
            reports.append(roll(conn, dt.datetime(2027, 1, 15, tzinfo=UTC), options))

    rolling = threading.Thread(target=run, daemon=True)
    rolling.start()
    time.sleep(1.5)  # past roll's own deadlock check: the application's would pick it
    app.execute("INSERT INTO events (created_at, note) VALUES ('2026-12-05', 'app')")
    app.commit()
    app.close()
    rolling.join(30)
    (report,) = reports
    assert report.exit_code == 0, report.as_dict()
    assert report.tables[0].lock_retries >= 1  # it did step back for the application
    assert pg.execute("SELECT count(*) FROM events WHERE note = 'app'").fetchone() == (1,)
    assert "events_p2027_01" in partitions(pg)
