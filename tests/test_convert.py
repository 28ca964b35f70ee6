"""Partitioning a live table without copying it: the old table becomes the legacy
partition while a writer keeps inserting."""

from __future__ import annotations

import datetime as dt
import sys
import textwrap
import threading
import time

import psycopg
import pytest

from . import clock
from .alembic_project import models_project
from .test_roll import hold_roll_lock

MODELS = textwrap.dedent(
    """
    import os

    import sqlalchemy as sa
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

    from sqla_partition import Range


    class Base(DeclarativeBase):
        pass


    class Account(Base):
        __tablename__ = "accounts"
        id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)


    class Event(Base):
        __tablename__ = "events"
        if os.environ.get("PARTITIONED"):
            __partitioning__ = Range("created_at", premake=2, default=True)
        id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
        created_at = mapped_column(
            sa.DateTime(timezone=True), primary_key=True, server_default=sa.func.now()
        )
        account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"))
        note: Mapped[str] = mapped_column(sa.Text, index=True)
    """
)
ROWS = 1_000_000


def next_months() -> tuple[dt.date, dt.date]:
    """The first days of next month and the one after, by the real clock: a conversion's
    first new period must still be ahead when it runs."""
    today = clock.wall().date()
    nxt = (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    return nxt, (nxt + dt.timedelta(days=32)).replace(day=1)


class Writer(threading.Thread):
    def __init__(self, dsn: str):
        super().__init__(daemon=True)
        self.dsn = dsn
        self.stop = threading.Event()
        self.failures: list[str] = []
        self.inserted = 0
        self.longest = 0.0

    def run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self.stop.is_set():
                started = time.monotonic()
                try:
                    conn.execute("INSERT INTO events (account_id, note) VALUES (1, 'live')")
                    self.inserted += 1
                except psycopg.Error as exc:
                    self.failures.append(str(exc))
                self.longest = max(self.longest, time.monotonic() - started)


def digest(pg, upto: int) -> tuple[int, str]:
    return pg.execute(
        "SELECT count(*), md5(string_agg(id::text || note || created_at::text, ',' ORDER BY id))"
        " FROM events WHERE id <= %s",
        (upto,),
    ).fetchone()


def test_a_live_table_is_partitioned_online(tmp_path, db_url, pg, monkeypatch):
    monkeypatch.delenv("PARTITIONED", raising=False)
    with models_project(tmp_path, db_url, monkeypatch, "convert_models", MODELS) as project:
        # the real clock: the migration's first new period must still be ahead when it runs
        monkeypatch.setenv("SQLA_PARTITION_NOW", clock.wall().isoformat())
        project.revision("plain")
        project.upgrade()
        pg.execute("INSERT INTO accounts VALUES (1), (2)")
        pg.execute(
            "INSERT INTO events (created_at, account_id, note) SELECT now() - g * "
            "interval '1 second', 1 + g %% 2, 'n' || g FROM generate_series(1, %s) g",
            (ROWS,),
        )
        pg.execute("GRANT SELECT ON events TO PUBLIC")
        (last_id,) = pg.execute("SELECT max(id) FROM events").fetchone()
        before = digest(pg, last_id)

        monkeypatch.setenv("PARTITIONED", "1")
        sys.modules.pop("convert_models", None)  # the model as edited
        text = project.revision("partition events").split("def downgrade")[0]
        assert "op.partition_existing_table('events', sqla_partition.Range(" in text
        assert "drop_table" not in text and "create_table" not in text

        writer = Writer(pg.info.dsn)
        writer.start()
        time.sleep(0.3)
        project.upgrade()
        time.sleep(0.3)
        writer.stop.set()
        writer.join()

    assert writer.failures == [] and writer.inserted > 0
    assert writer.longest < 5.0 + 0.5  # within lock_timeout (5 s) and scheduling noise
    assert digest(pg, last_id) == before  # every old row, unchanged
    total = pg.execute("SELECT count(*) FROM events").fetchone()[0]
    assert total == ROWS + writer.inserted
    kinds = dict(
        pg.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass"
        ).fetchall()
    )
    assert kinds["events_legacy"].startswith("FOR VALUES FROM (MINVALUE) TO (")
    assert "events_default" in kinds and len(kinds) == 4  # legacy, 2 new months, DEFAULT
    # identity goes on, the foreign key and the grant came along, the note index is used
    (new_id,) = pg.execute(
        "INSERT INTO events (account_id, note) VALUES (2, 'after') RETURNING id"
    ).fetchone()
    assert new_id > last_id
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        pg.execute("INSERT INTO events (account_id, note) VALUES (99, 'x')")
    grants = pg.execute(
        "SELECT count(*) FROM information_schema.role_table_grants "
        "WHERE table_name = 'events' AND grantee = 'PUBLIC' AND privilege_type = 'SELECT'"
    ).fetchone()
    assert grants == (1,)
    valid = pg.execute(
        "SELECT bool_and(x.indisvalid) FROM pg_index x WHERE x.indrelid = 'events'::regclass"
    ).fetchone()
    assert valid == (True,)
    project.check()


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("", None),  # converted twice: the second run changes nothing
        (
            "ALTER TABLE events DROP CONSTRAINT events_pkey, ADD PRIMARY KEY (id)",
            "does not include",
        ),
        (
            "CREATE TABLE refs (e bigint, c timestamptz, FOREIGN KEY (e, c) REFERENCES events)",
            "referenced by a foreign key",
        ),
        ("CREATE VIEW recent AS SELECT * FROM events", "views depend on"),
        ("ALTER TABLE events ADD EXCLUDE USING btree (id WITH =)", "exclusion constraint"),
        ("CREATE PUBLICATION everything FOR ALL TABLES", "published for logical replication"),
        (
            "CREATE INDEX half ON events (created_at); UPDATE pg_index SET indisvalid = false "
            "WHERE indexrelid = 'half'::regclass",
            "invalid index",
        ),
    ],
)
def test_what_cannot_be_carried_over_is_refused(db_url, pg, setup, message):
    from sqla_partition import Range, register

    from .test_hash import run_online

    register()
    pg.execute(
        "CREATE TABLE events (id bigint GENERATED BY DEFAULT AS IDENTITY, created_at "
        "timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (id, created_at))"
    )
    pg.execute("INSERT INTO events DEFAULT VALUES")
    if setup:
        pg.execute(setup)
    nxt, until = next_months()

    def convert(op):
        op.partition_existing_table(
            "events",
            Range("created_at", premake=1),
            legacy_until=nxt.isoformat(),
            until=until.isoformat(),
        )

    if message is None:
        run_online(db_url, convert)
        run_online(db_url, convert)
        assert pg.execute("SELECT count(*) FROM events").fetchone() == (1,)
        return
    with pytest.raises(Exception, match=message):
        run_online(db_url, convert)
    kind = pg.execute("SELECT relkind FROM pg_class WHERE relname = 'events'").fetchone()
    assert kind == ("r",)  # nothing changed
    assert pg.execute(
        "SELECT count(*) FROM pg_constraint WHERE conname = 'sqla_partition_bound'"
    ).fetchone() == (0,)


def test_serial_sequences_checks_and_owner_follow_the_new_table(db_url, pg):
    from sqla_partition import Range, register

    from .test_hash import run_online

    register()
    pg.execute(
        "CREATE TABLE events (id bigserial, created_at timestamptz NOT NULL DEFAULT now(), "
        "note text NOT NULL CHECK (note <> ''), PRIMARY KEY (id, created_at))"
    )
    pg.execute("INSERT INTO events (note) VALUES ('old')")
    nxt, until = next_months()
    run_online(
        db_url,
        lambda op: op.partition_existing_table(
            "events",
            Range("created_at", premake=1, default=True),
            legacy_until=nxt.isoformat(),
            until=until.isoformat(),
        ),
    )
    with pytest.raises(psycopg.errors.CheckViolation):  # the table's own CHECK came along
        pg.execute("INSERT INTO events (note) VALUES ('')")
    assert pg.execute("SELECT pg_get_serial_sequence('events', 'id')").fetchone()[0]
    # the legacy partition can go without taking the id sequence with it
    pg.execute("ALTER TABLE events DETACH PARTITION events_legacy")
    pg.execute("DROP TABLE events_legacy")
    (new_id,) = pg.execute("INSERT INTO events (note) VALUES ('new') RETURNING id").fetchone()
    assert new_id > 1  # the sequence went on (the refused insert used one value)
    checks = pg.execute(
        "SELECT count(*) FROM pg_constraint WHERE conname = 'sqla_partition_bound'"
    ).fetchone()
    assert checks == (0,)


def test_a_failed_swap_leaves_no_check_behind(db_url, pg):
    from sqla_partition import Range, register

    from .test_hash import run_online

    register()
    pg.execute(
        "CREATE TABLE events (id bigint GENERATED BY DEFAULT AS IDENTITY, created_at "
        "timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (id, created_at))"
    )
    nxt, until = next_months()

    def convert(op):
        op.partition_existing_table(
            "events",
            Range("created_at", premake=1),
            legacy_until=nxt.isoformat(),
            until=until.isoformat(),
        )

    with psycopg.connect(pg.info.dsn) as reader:  # a long report: the swap cannot get its lock
        reader.execute("SELECT count(*) FROM events")
        with pytest.raises(Exception, match="lock timeout"):
            run_online(db_url, convert, sqla_partition_lock_timeout=100, sqla_partition_retries=1)
    assert pg.execute("SELECT relkind FROM pg_class WHERE relname = 'events'").fetchone() == ("r",)
    left = pg.execute("SELECT count(*) FROM pg_constraint WHERE conname = 'sqla_partition_bound'")
    assert left.fetchone() == (0,)  # rows of the next period are not refused
    pg.execute("INSERT INTO events (created_at) VALUES (%s)", (until,))
    pg.execute("DELETE FROM events")  # (a row past the bound would stop the rerun, rightly)
    run_online(db_url, convert)  # and a rerun converts it
    assert pg.execute("SELECT relkind FROM pg_class WHERE relname = 'events'").fetchone() == ("p",)


def test_a_rerun_too_late_to_convert_first_removes_the_check_a_killed_run_left(db_url, pg):
    """Killed once its bound CHECK was added: a rerun that must refuse (the first new period
    starts in less than an hour) drops that CHECK before it refuses, so writes of that
    period never wait for a human."""
    from sqla_partition import Range, register

    from .test_hash import run_online

    register()
    pg.execute(
        "CREATE TABLE events (id bigint GENERATED BY DEFAULT AS IDENTITY, created_at "
        "timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (id, created_at))"
    )
    soon = clock.wall().replace(microsecond=0) + dt.timedelta(minutes=30)
    # what the killed run left: the bound CHECK, NOT VALID, refusing rows from `soon` on
    pg.execute(
        "ALTER TABLE events ADD CONSTRAINT sqla_partition_bound CHECK (created_at IS NOT NULL "
        "AND created_at < %s::timestamptz) NOT VALID".replace("%s", f"'{soon.isoformat()}'")
    )
    with pytest.raises(psycopg.errors.CheckViolation):
        pg.execute("INSERT INTO events (created_at) VALUES (%s)", (soon,))

    def convert(op):
        op.partition_existing_table(
            "events",
            Range("created_at", premake=1),
            legacy_until=soon.isoformat(),
            until=(soon + dt.timedelta(days=40)).isoformat(),
        )

    with pytest.raises(Exception, match="generate the migration again"):
        run_online(db_url, convert)
    left = pg.execute("SELECT count(*) FROM pg_constraint WHERE conname = 'sqla_partition_bound'")
    assert left.fetchone() == (0,)
    pg.execute("INSERT INTO events (created_at) VALUES (%s)", (soon,))  # accepted again
    assert pg.execute("SELECT relkind FROM pg_class WHERE relname = 'events'").fetchone() == ("r",)


def converted_events(db_url, pg, rows: int) -> tuple[dt.date, dt.date]:
    """``events`` with ``rows`` rows an hour apart back from now, converted: everything
    before next month in ``events_legacy``, then monthly partitions and a DEFAULT; the
    first days of next month and the one after, as the conversion used them."""
    from sqla_partition import Range, register

    from .test_hash import run_online

    register()
    pg.execute(
        "CREATE TABLE events (id bigint GENERATED BY DEFAULT AS IDENTITY, created_at "
        "timestamptz NOT NULL DEFAULT now(), account_id int, note text, "
        "PRIMARY KEY (id, created_at))"
    )
    pg.execute(
        "INSERT INTO events (created_at, note) SELECT now() - g * interval '1 hour', 'o' || g "
        "FROM generate_series(1, %s) g",
        (rows,),
    )
    nxt, until = next_months()
    run_online(
        db_url,
        lambda op: op.partition_existing_table(
            "events",
            Range("created_at", premake=1, default=True),
            legacy_until=nxt.isoformat(),
            until=until.isoformat(),
        ),
    )
    return nxt, until


def test_split_legacy_moves_old_rows_into_their_months_online(db_url, pg):
    from click.testing import CliRunner

    from sqla_partition.cli import main

    converted_events(db_url, pg, 3000)  # about four months back
    before = pg.execute(
        "SELECT count(*), md5(string_agg(id::text || note, ',' ORDER BY id)) FROM events"
    ).fetchone()
    with psycopg.connect(pg.info.dsn) as reader:  # interrupted: the swap cannot get its lock
        reader.execute("SELECT count(*) FROM events")
        stopped = CliRunner().invoke(
            main, ["split-legacy", "events", "--database-url", db_url, "--lock-timeout", "100ms"]
        )
    assert stopped.exit_code == 2 and "lock timeout" in stopped.output
    writer = Writer(pg.info.dsn)
    writer.start()
    result = CliRunner().invoke(main, ["split-legacy", "events", "--database-url", db_url])
    writer.stop.set()
    writer.join()
    assert result.exit_code == 0, result.output
    assert "splitting events_legacy into" in result.output
    assert "the swap held writers back" in result.output
    assert writer.failures == []
    names = [
        r
        for (r,) in pg.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'events'::regclass ORDER BY 1"
        ).fetchall()
    ]
    assert "events_legacy" not in names and len(names) >= 5  # months, next ones, DEFAULT
    recorded = dict(
        pg.execute(
            "SELECT partition_name, state FROM sqla_partition.sqla_partition_partitions"
        ).fetchall()
    )
    assert all(recorded.get(n) == "attached" for n in names), (names, recorded)
    assert "events_legacy" not in recorded  # the months are the tool's: retention expires them
    after = pg.execute(
        "SELECT count(*), md5(string_agg(id::text || note, ',' ORDER BY id)) FROM events "
        "WHERE note <> 'live'"
    ).fetchone()
    assert after == before
    again = CliRunner().invoke(main, ["split-legacy", "events", "--database-url", db_url])
    assert again.exit_code == 0, again.output
    assert "events: its legacy partition is split already" in again.output
    assert "removed" not in again.output  # nothing was left to remove
    from sqla_partition.cron.run import roll

    with psycopg.connect(pg.info.dsn, autocommit=True) as conn:  # roll goes on around it
        report = roll(conn, clock.wall() + dt.timedelta(days=62))
    assert report.tables[0].status == "ok" and report.tables[0].created


def test_split_legacy_stopped_right_after_its_swap_is_finished_by_a_rerun(db_url, pg):
    """The client dies right after the swap committed: the old legacy table, the key log
    and its trigger function are left. A rerun recognises the finished swap, removes them
    and exits 0."""
    from click.testing import CliRunner

    from sqla_partition import sql
    from sqla_partition.cli import main
    from sqla_partition.tools.split_legacy import plan_split

    converted_events(db_url, pg, 2000)
    before = pg.execute("SELECT count(*), sum(id) FROM events").fetchone()
    split = plan_split(pg, "events", "public")
    for stmt in [  # every step up to the swap: the client is killed once it committed
        sql.split_trigger_function(split),
        sql.split_prepare(split),
        sql.split_copy(split),
        sql.split_catch_up(split),
        sql.split_swap(split),
    ]:
        pg.execute(stmt.sql)
    leftovers = sql.split_leftovers_query(split.retired, split.log, "public")
    assert pg.execute(leftovers).fetchone() == (True, True, True)
    result = CliRunner().invoke(main, ["split-legacy", "events", "--database-url", db_url])
    assert result.exit_code == 0, result.output
    assert "split already; removed what a stopped run left: events_legacy_old" in result.output
    assert pg.execute(leftovers).fetchone() == (False, False, False)
    assert pg.execute("SELECT count(*), sum(id) FROM events").fetchone() == before
    # a table that was never converted is still a mistake, said in one line
    pg.execute("CREATE TABLE plain (id int)")
    wrong = CliRunner().invoke(main, ["split-legacy", "plain", "--database-url", db_url])
    assert wrong.exit_code == 2 and "not a range-partitioned table" in wrong.output


def test_split_legacy_waits_for_the_leftover_server_process_of_a_killed_run(db_url, pg):
    """The killed run's server process finishes its statement (here: sleeps) holding the
    table; a rerun waits for it instead of failing on a lock timeout, then splits."""
    from click.testing import CliRunner

    from sqla_partition.cli import main

    converted_events(db_url, pg, 500)
    orphan = psycopg.connect(pg.info.dsn, autocommit=True)
    assert hold_roll_lock(orphan)
    orphan_pid = orphan.info.backend_pid

    def finish() -> None:  # the killed run's statement ends once the rerun waits for it
        with psycopg.connect(pg.info.dsn, autocommit=True) as watch:
            deadline = time.monotonic() + 60
            while (
                time.monotonic() < deadline
                and not watch.execute(
                    "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                ).fetchone()
            ):
                time.sleep(0.05)
        orphan.execute("SELECT pg_sleep(0.3)")
        orphan.close()

    threading.Thread(target=finish, daemon=True).start()
    result = CliRunner().invoke(main, ["split-legacy", "events", "--database-url", db_url])
    assert result.exit_code == 0, result.output
    assert f"another run (process {orphan_pid}" in result.output
    assert "splitting events_legacy into" in result.output
    # and one that outlives the wait is one line, exit 2, nothing changed
    holder = psycopg.connect(pg.info.dsn, autocommit=True)
    assert hold_roll_lock(holder)
    busy = CliRunner().invoke(
        main,
        ["split-legacy", "events", "--database-url", db_url, "--wait-for-other-run", "200ms"],
    )
    holder.close()
    assert busy.exit_code == 2 and "held this table for longer than" in busy.output


def test_a_conversion_that_could_only_fail_is_not_written(tmp_path, db_url, pg, monkeypatch):
    """The live table's primary key lacks the partition key: PostgreSQL would refuse the
    conversion at upgrade, so autogenerate says what to change first and writes nothing."""
    from alembic.util import CommandError

    pg.execute("CREATE TABLE accounts (id int PRIMARY KEY)")
    pg.execute(
        "CREATE TABLE events (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
        "created_at timestamptz NOT NULL DEFAULT now(), account_id int REFERENCES accounts, "
        "note text)"
    )
    pg.execute("CREATE INDEX ix_events_note ON events (note)")
    monkeypatch.setenv("PARTITIONED", "1")
    with models_project(tmp_path, db_url, monkeypatch, "convert_pk_models", MODELS) as project:
        with pytest.raises(CommandError) as refused:
            project.revision("partition events")
        message = str(refused.value)
        assert "PRIMARY KEY events_pkey (id)" in message and "'created_at'" in message
        assert "op.create_primary_key('events_pkey', 'events', ['id', 'created_at'])" in message
        assert project.versions() == []  # nothing written


def test_a_conversions_downgrade_makes_the_table_plain_again(tmp_path, db_url, pg, monkeypatch):
    """The downgrade of a conversion (it only forgot the policy, leaving the table
    partitioned): the old table is the table again, with the rows written since, its
    indexes' names, its identity going on, its foreign key; writers wait and go on; then
    the upgrade converts it again."""
    monkeypatch.delenv("PARTITIONED", raising=False)
    with models_project(tmp_path, db_url, monkeypatch, "unconvert_models", MODELS) as project:
        monkeypatch.setenv("SQLA_PARTITION_NOW", clock.wall().isoformat())
        project.revision("plain")
        project.upgrade()
        pg.execute("INSERT INTO accounts VALUES (1), (2)")
        pg.execute(
            "INSERT INTO events (created_at, account_id, note) SELECT now() - g * "
            "interval '1 minute', 1 + g % 2, 'n' || g FROM generate_series(1, 2000) g"
        )
        before = digest(pg, 2000)
        indexes = pg.execute(
            "SELECT array_agg(indexrelid::regclass::text ORDER BY 1) FROM pg_index "
            "WHERE indrelid = 'events'::regclass"
        ).fetchone()
        monkeypatch.setenv("PARTITIONED", "1")
        sys.modules.pop("unconvert_models", None)
        text = project.revision("partition events")
        assert "op.unpartition_table('events', sqla_partition.Range(" in text
        project.upgrade()
        nxt, _ = next_months()
        pg.execute(  # rows of the new partitions, which the old table must take back
            "INSERT INTO events (created_at, account_id, note) VALUES (%s, 2, 'later')",
            (dt.datetime.combine(nxt, dt.time(12), dt.timezone.utc),),
        )

        writer = Writer(pg.info.dsn)
        writer.start()
        time.sleep(0.2)
        project.downgrade("-1")
        time.sleep(0.2)
        writer.stop.set()
        writer.join()
        assert writer.failures == [] and writer.inserted > 0
        assert pg.execute("SELECT relkind FROM pg_class WHERE relname = 'events'").fetchone() == (
            "r",
        )
        assert pg.execute("SELECT to_regclass('events_legacy')").fetchone() == (None,)
        assert digest(pg, 2000) == before
        total = pg.execute("SELECT count(*) FROM events").fetchone()[0]
        assert total == 2000 + 1 + writer.inserted
        assert (
            pg.execute(
                "SELECT array_agg(indexrelid::regclass::text ORDER BY 1) FROM pg_index "
                "WHERE indrelid = 'events'::regclass"
            ).fetchone()
            == indexes
        )
        (new_id,) = pg.execute(
            "INSERT INTO events (account_id, note) VALUES (1, 'after') RETURNING id"
        ).fetchone()
        assert new_id > pg.execute("SELECT max(id) FROM events WHERE note <> 'after'").fetchone()[0]
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            pg.execute("INSERT INTO events (account_id, note) VALUES (99, 'x')")
        assert pg.execute(  # no table is managed: nothing of the tool is left
            "SELECT to_regclass('sqla_partition.sqla_partition_policy')"
        ).fetchone() == (None,)
        # converted once more (the row of next month first goes: the migration's legacy
        # partition ends where that month begins, as its CHECK, which refused it, says)
        pg.execute("DELETE FROM events WHERE note = 'later'")
        project.upgrade()
        assert pg.execute("SELECT relkind FROM pg_class WHERE relname = 'events'").fetchone() == (
            "p",
        )


def test_status_right_after_a_conversion_counts_the_legacy_partition(db_url, pg):
    """The legacy partition (from MINVALUE) holds now: status says the table is covered
    until the end of the next partition, and its timeline shows now as present."""
    from click.testing import CliRunner

    from sqla_partition.cli import main

    nxt, until = converted_events(db_url, pg, 50)
    # the last day of the month the conversion ran in, whenever the test reads the clock
    now = dt.datetime.combine(nxt - dt.timedelta(days=1), dt.time(12), dt.UTC)
    status = CliRunner().invoke(
        main, ["status", "--database-url", db_url, "--now", now.isoformat()]
    )
    assert status.exit_code == 0, status.output
    assert f"covered until {until.isoformat()}" in status.output, status.output
    timeline = status.output.split("timeline from ")[1].split("\n")[0]
    assert "-" not in timeline.split(": ")[1] and timeline.endswith("##.")
