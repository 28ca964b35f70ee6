"""``sqla-partition roll`` against a real PostgreSQL: premake, catch-up, rescue, retention."""

from __future__ import annotations

import json
import time

import psycopg
import psycopg.sql
import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from click.testing import CliRunner

import sqla_partition
from sqla_partition import Range
from sqla_partition.catalog.snapshot import read_snapshot
from sqla_partition.cli import main

from . import clock

sqla_partition.register()


def make_table(db_url, policy=None, name="events", start="2026-11-01", until="2027-03-01"):
    policy = policy or Range("created_at", premake=3, default=True)
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn)
        with ctx.begin_transaction():
            Operations(ctx).create_partitioned_table(
                name,
                sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
                sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
                sa.Column("note", sa.Text),
                sa.PrimaryKeyConstraint("id", "created_at"),
                partitioning=policy,
                start=start,
                until=until,
            )
        conn.commit()
    engine.dispose()


def roll(db_url, *args):
    result = CliRunner().invoke(main, ["roll", "--database-url", db_url, *args])
    return result


def roll_json(db_url, *args):
    result = roll(db_url, "--json", *args)
    assert result.output.strip(), result.output
    return result.exit_code, json.loads(result.output)


def partitions(pg, table="events"):
    snap = read_snapshot(lambda q: pg.execute(q).fetchall())
    return [c.name for c in snap.parents[("public", table)].ranges()]


def test_premake_counts_from_the_clock_and_is_idempotent(db_url, pg):
    make_table(db_url)
    code, out = roll_json(db_url, "--now", "2026-11-27T10:00:00Z")
    assert code == 0 and out["totals"]["created"] == 0
    code, out = roll_json(db_url, "--now", "2027-01-10T00:00:00Z")
    assert code == 0
    assert out["tables"][0]["created"] == ["events_p2027_03", "events_p2027_04"]
    code, out = roll_json(db_url, "--now", "2027-01-10T00:00:00Z")
    assert out["totals"]["created"] == 0
    assert partitions(pg)[-1] == "events_p2027_04"
    # new, empty partitions need no CHECK: ATTACH's scan of them is free
    checked = pg.execute(
        "SELECT count(*) FROM pg_constraint WHERE conname = 'sqla_partition_bound'"
    ).fetchone()
    assert checked == (0,)


def test_catch_up_after_months_without_a_run(db_url, pg):
    make_table(db_url)
    code, out = roll_json(db_url, "--now", "2027-09-02T00:00:00Z")
    assert code == 0
    assert out["tables"][0]["created"][0] == "events_p2027_03"
    assert out["tables"][0]["created"][-1] == "events_p2027_12"
    names = partitions(pg)
    assert names == sorted(names) and len(names) == 14  # 2026-11 .. 2027-12, no gap


def test_rows_in_default_are_moved_into_their_new_partition(db_url, pg):
    make_table(db_url)
    pg.execute(
        "INSERT INTO events (created_at, note) SELECT '2027-03-01'::timestamptz + "
        "(g || ' hours')::interval, 'early' FROM generate_series(0, 99) g"
    )
    pg.execute("INSERT INTO events (created_at, note) VALUES ('2030-01-01', 'far')")
    assert pg.execute("SELECT count(*) FROM events_default").fetchone()[0] == 101
    before = pg.execute("SELECT count(*), sum(id) FROM events").fetchone()
    code, out = roll_json(db_url, "--now", "2027-01-10T00:00:00Z")
    assert code == 0, out
    assert out["tables"][0]["moved_rows"] == 100
    assert out["tables"][0]["longest_write_hold_s"] > 0
    assert pg.execute("SELECT count(*), sum(id) FROM events").fetchone() == before
    assert pg.execute("SELECT count(*) FROM events_p2027_03").fetchone()[0] == 100
    assert pg.execute("SELECT note FROM events_default").fetchall() == [("far",)]


def test_a_backlog_over_max_move_rows_waits_visible_for_the_operator(db_url, pg):
    make_table(db_url)
    pg.execute(
        "INSERT INTO events (created_at, note) SELECT '2027-03-01'::timestamptz + "
        "(g || ' hours')::interval, 'early' FROM generate_series(0, 99) g"
    )
    before = pg.execute("SELECT count(*), sum(id) FROM events").fetchone()
    args = ("--now", "2027-01-10T00:00:00Z")
    dry = roll(db_url, "--dry-run", "--max-move-rows", "7", *args)
    assert "100 rows of events_p2027_03's period are in events_default" in dry.output
    code, out = roll_json(db_url, "--max-move-rows", "7", *args)
    table = out["tables"][0]
    assert code == 4 and table["status"] == "backlog", out
    assert "--max-move-rows 100" in table["errors"][0]
    # the other periods went ahead; the backlog's period did not, and its rows stayed in
    # sight of every query through the parent
    assert "events_p2027_04" in partitions(pg) and "events_p2027_03" not in partitions(pg)
    assert pg.execute("SELECT count(*), sum(id) FROM events").fetchone() == before
    text = roll(db_url, "--max-move-rows", "7", *args).output
    assert "BACKLOG" in text and "1 with a DEFAULT backlog to move" in text
    status = CliRunner().invoke(main, ["status", "--database-url", db_url, *args]).output
    assert "rows in DEFAULT by period: p2027_03 100" in status
    # the clock passes the period: its rows are not forgotten, the table still says so
    later = ("--now", "2027-04-10T00:00:00Z")
    code, out = roll_json(db_url, "--max-move-rows", "7", *later)
    assert code == 4 and "events_p2027_03's period" in out["tables"][0]["errors"][0], out
    code, out = roll_json(db_url, "--max-move-rows", "100", *later)
    assert code == 0 and out["tables"][0]["moved_rows"] == 100, out
    assert pg.execute("SELECT count(*) FROM events_p2027_03").fetchone()[0] == 100
    assert pg.execute("SELECT count(*), sum(id) FROM events").fetchone() == before


def test_batch_size_is_still_accepted_with_a_warning(db_url, pg):
    make_table(db_url)
    result = CliRunner().invoke(
        main, ["roll", "--database-url", db_url, "--batch-size", "10", "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert "--batch-size no longer applies" in result.output


def test_retention_detach_keeps_the_table(db_url, pg):
    make_table(db_url, Range("created_at", premake=1, retention="3 months"))
    code, out = roll_json(db_url, "--now", "2027-04-10T00:00:00Z")
    assert code == 0
    # cutoff 2027-01-10: November and December 2026 are entirely older
    assert out["tables"][0]["detached"] == ["events_p2026_11", "events_p2026_12"]
    assert "events_p2026_11" not in partitions(pg)
    assert pg.execute("SELECT to_regclass('events_p2026_11')").fetchone()[0] is not None


def test_a_table_with_a_partitions_name_is_never_taken_as_the_partition(db_url, pg):
    """An archive detached by retention, needed again when time goes back; and a table
    someone made under a future partition's name: roll stops that table, naming it."""
    make_table(db_url, Range("created_at", premake=1, retention="3 months", default=True))
    make_table(db_url, Range("created_at", premake=1), name="other")
    code, out = roll_json(db_url, "--now", "2027-04-10T00:00:00Z")
    assert code == 0 and "events_p2026_12" in out["tables"][0]["detached"]
    pg.execute(
        "INSERT INTO events_p2026_12 (id, created_at, note) VALUES (-1, '2026-12-05', 'archived')"
    )
    pg.execute("ALTER TABLE events_p2026_12 ADD COLUMN extra int")  # drifted since
    pg.execute("CREATE TABLE events_p2027_06 (LIKE events)")  # not roll's
    pg.execute("INSERT INTO events_p2027_06 (id, created_at, note) VALUES (1, '2027-06-02', 'x')")
    code, out = roll_json(db_url, "--now", "2027-05-10T00:00:00Z")
    by_name = {t["table"]: t for t in out["tables"]}
    assert code == 1 and by_name["public.events"]["status"] == "failed", out
    (error,) = by_name["public.events"]["errors"]
    assert error.startswith(
        'public.events_p2027_06 was not created: relation "events_p2027_06" already exists'
    )
    assert "sqla-partition reattach events events_p2027_06" in error
    assert by_name["public.other"]["status"] == "ok"  # the other tables went on
    assert "events_p2027_06" not in partitions(pg)
    # going back in time: the retention's archive is not brought back by its name
    pg.execute("DROP TABLE events_p2027_06")
    code, out = roll_json(db_url, "--now", "2026-12-10T00:00:00Z")
    assert code == 1
    assert 'relation "events_p2026_12" already exists' in out["tables"][0]["errors"][0]
    assert "events_p2026_12" not in partitions(pg)
    archived = pg.execute("SELECT note FROM events_p2026_12 WHERE note = 'archived'").fetchall()
    assert archived == [("archived",)]


@pytest.mark.parametrize("keep", [False, True])
def test_a_detached_partition_loses_its_foreign_keys_unless_kept(db_url, pg, keep):
    """An archive keeps the foreign keys it inherited: deleting a user its rows still name
    would fail, and so would a downgrade dropping users. They go on detach unless kept."""
    make_table(db_url, Range("created_at", premake=1, retention="3 months", keep_foreign_keys=keep))
    pg.execute("CREATE TABLE users (id int PRIMARY KEY)")
    pg.execute("INSERT INTO users VALUES (1), (2)")
    pg.execute("ALTER TABLE events ADD COLUMN user_id int REFERENCES users")
    pg.execute(
        "INSERT INTO events (created_at, user_id) VALUES ('2026-11-05', 1), ('2027-02-05', 2)"
    )
    code, out = roll_json(db_url, "--now", "2027-04-10T00:00:00Z")
    assert code == 0 and out["tables"][0]["detached"] == ["events_p2026_11", "events_p2026_12"]
    fks = pg.execute(
        "SELECT count(*) FROM pg_constraint WHERE conrelid = 'events_p2026_11'::regclass "
        "AND contype = 'f'"
    ).fetchone()[0]
    if keep:
        assert fks == 1 and out["tables"][0]["unlinked"] == []
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            pg.execute("DELETE FROM users WHERE id = 1")
    else:
        assert fks == 0 and out["tables"][0]["unlinked"] == ["events_p2026_11", "events_p2026_12"]
        pg.execute("DELETE FROM users WHERE id = 1")  # only the archive named it
        with pytest.raises(psycopg.errors.ForeignKeyViolation):  # live rows still protected
            pg.execute("DELETE FROM users WHERE id = 2")
        assert pg.execute("SELECT count(*) FROM events_p2026_11").fetchone() == (1,)


def test_retention_drop_only_when_the_policy_says_so(db_url, pg):
    make_table(
        db_url, Range("created_at", premake=1, retention="3 months", on_expire="drop", default=True)
    )
    code, out = roll_json(db_url, "--now", "2027-04-10T00:00:00Z")
    assert code == 0
    assert out["tables"][0]["dropped"] == ["events_p2026_11", "events_p2026_12"]
    assert pg.execute("SELECT to_regclass('events_p2026_11')").fetchone()[0] is None
    assert "events_p2027_01" in partitions(pg)


def test_retention_archive_schema(db_url, pg):
    make_table(
        db_url, Range("created_at", premake=1, retention="3 months", archive_schema="archive")
    )
    code, out = roll_json(db_url, "--now", "2027-04-10T00:00:00Z")
    assert code == 0 and out["tables"][0]["archived"] == ["events_p2026_11", "events_p2026_12"]
    assert pg.execute("SELECT to_regclass('archive.events_p2026_11')").fetchone()[0] is not None


def test_interrupted_concurrent_detach_is_finished_by_the_next_run(db_url, pg, server_url):
    make_table(db_url, Range("created_at", premake=1, retention="3 months"))
    # a reader keeps a transaction open on the parent, so DETACH CONCURRENTLY's second
    # phase waits for it; cancelling it there leaves the partition "detach pending"
    with (
        psycopg.connect(pg.info.dsn) as reader,
        psycopg.connect(pg.info.dsn, autocommit=True) as other,
    ):
        reader.execute("SELECT count(*) FROM events")
        other.execute("SET statement_timeout = '300ms'")
        with pytest.raises(psycopg.errors.QueryCanceled):
            other.execute("ALTER TABLE events DETACH PARTITION events_p2026_11 CONCURRENTLY")
        reader.rollback()
    pending = pg.execute(
        "SELECT inhdetachpending FROM pg_inherits WHERE inhrelid = 'events_p2026_11'::regclass"
    ).fetchone()
    assert pending == (True,)
    # monitoring sees both before the next roll: the pending detach, and a partition past
    # retention for longer than --max-age that is still attached
    now = ("--now", "2027-04-10T00:00:00Z")
    check = CliRunner().invoke(main, ["check", "--database-url", db_url, *now])
    assert check.exit_code == 1
    assert "DETACH CONCURRENTLY is pending for events_p2026_11" in check.output
    assert "past retention for more than 25 h are still attached (events_p2026_12)" in check.output
    status = CliRunner().invoke(main, ["status", "--database-url", db_url, "--json", *now])
    (table,) = json.loads(status.output)
    assert table["pending_detach"] == ["events_p2026_11"]
    expired = "2027-04-01T00:00:00+00:00"
    assert table["overdue_expiry"] == [{"partition": "events_p2026_12", "expired": expired}]
    text = CliRunner().invoke(main, ["status", "--database-url", db_url, *now]).output
    assert "detach pending (interrupted; roll finishes it): events_p2026_11" in text
    code, out = roll_json(db_url, *now)
    assert code == 0
    assert out["tables"][0]["finalized"] == ["events_p2026_11"]
    assert out["tables"][0]["detached"] == ["events_p2026_12"]
    assert "events_p2026_11" not in partitions(pg)


def hold_roll_lock(conn, table="events", schema="public"):
    """Take a table's roll lock as a run would (a role that may roll it reads its key)."""
    from sqla_partition.sql import roll_lock

    params = {"schema": schema, "table": table}
    key = conn.execute(roll_lock.key_query(), params).fetchone()[0]
    return conn.execute(roll_lock.try_keyed_lock(), {"key": key}).fetchone()[0]


def test_a_second_concurrent_run_waits_then_skips_the_table_with_exit_3(db_url, pg):
    make_table(db_url)

    with psycopg.connect(pg.info.dsn, autocommit=True) as first:
        assert hold_roll_lock(first)
        started = time.monotonic()
        code, out = roll_json(
            db_url, "--now", "2027-01-10T00:00:00Z", "--wait-for-other-run", "300ms"
        )
        assert time.monotonic() - started >= 0.3  # it waited before giving up
        assert code == 3  # not a success for a scheduler: the next run does the work
        assert out["tables"][0]["status"] == "skipped"
        skipped = out["tables"][0]["skipped"]
        assert f"another run of sqla-partition (process {first.info.backend_pid}" in skipped
        assert "--wait-for-other-run (0.3 s)" in skipped
    code, out = roll_json(db_url, "--now", "2027-01-10T00:00:00Z")
    assert out["tables"][0]["created"] == ["events_p2027_03", "events_p2027_04"]


def test_a_rerun_waits_for_the_leftover_server_process_of_a_killed_run(db_url, pg):
    """A killed client's server process runs its last statement to the end, holding the
    table's lock: the re-run waits for it, then does the work."""
    import threading

    make_table(db_url)

    orphan = psycopg.connect(pg.info.dsn, autocommit=True)
    assert hold_roll_lock(orphan)

    waited = []

    def finish() -> None:  # its statement ends once the rerun waits for the lock
        with psycopg.connect(pg.info.dsn, autocommit=True) as watch:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not waited:
                waited.extend(
                    watch.execute(
                        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                    ).fetchall()
                )
                time.sleep(0.05)
        orphan.execute("SELECT pg_sleep(0.3)")  # the statement it was running
        orphan.close()  # then it notices its client is gone, and exits

    threading.Thread(target=finish, daemon=True).start()
    code, out = roll_json(db_url, "--now", "2027-01-10T00:00:00Z")
    assert code == 0, out
    assert waited  # the rerun did wait for the leftover process
    assert out["tables"][0]["created"] == ["events_p2027_03", "events_p2027_04"]


def test_dry_run_prints_annotated_sql_and_changes_nothing(db_url, pg):
    import pglast

    make_table(db_url)
    result = roll(db_url, "--dry-run", "--now", "2027-01-10T00:00:00Z")
    assert result.exit_code == 0
    # --lock-timeout 3 s, but each wait at most half of the server's deadlock_timeout (1 s)
    assert "BEGIN;" in result.output and "SET LOCAL lock_timeout = 500;" in result.output
    assert "-- SHARE UPDATE EXCLUSIVE on events" in result.output
    statements = [s for s in result.stdout.split("\n\n") if "BEGIN;" in s]
    for group in statements:
        assert pglast.parse_sql(group)
    assert partitions(pg)[-1] == "events_p2027_02"


def test_integer_keys_roll_from_the_current_maximum(db_url, pg):
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn)
        with ctx.begin_transaction():
            Operations(ctx).create_partitioned_table(
                "blobs",
                sa.Column("id", sa.BigInteger, primary_key=True),
                partitioning=Range("id", interval=1000, premake=2),
                start=0,
                until=3000,
            )
        conn.commit()
    engine.dispose()
    pg.execute("INSERT INTO blobs SELECT g FROM generate_series(1, 2500) g")
    code, out = roll_json(db_url)
    assert code == 0
    assert out["tables"][0]["created"] == ["blobs_p0000003000", "blobs_p0000004000"]


def test_metrics_file(db_url, tmp_path):
    make_table(db_url)
    target = tmp_path / "sqla_partition.prom"
    result = roll(db_url, "--now", "2027-01-10T00:00:00Z", "--metrics", str(target))
    assert result.exit_code == 0, result.output
    text = target.read_text()
    assert 'sqla_partition_roll_success{table="public.events"} 1' in text
    assert 'sqla_partition_default_rows{table="public.events"} 0' in text
    assert "sqla_partition_coverage_until_seconds" in text
    assert 'sqla_partition_last_success_seconds{table="public.events"}' in text
    assert "sqla_partition_last_run_success 1" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--database-url", "mysql://x@y/z"], "not a PostgreSQL URL"),
        (["--database-url", "postgresql://u:secret@127.0.0.1:1/none"], "cannot connect"),
        (["--table", "nope"], "not a range-partitioned table managed"),
        (["--schedule", "every day"], "does not parse"),
        (["--lock-timeout", "soon"], "lock-timeout"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(db_url, pg, args, message):
    make_table(db_url)
    if "--database-url" not in args:
        args = ["--database-url", db_url, *args]
    result = CliRunner().invoke(main, ["roll", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "secret" not in result.output and "Traceback" not in result.output
    assert partitions(pg)[-1] == "events_p2027_02"  # nothing changed


def test_policy_the_database_disagrees_with_changes_nothing(db_url, pg):
    make_table(db_url)
    pg.execute(
        "UPDATE sqla_partition.sqla_partition_policy "
        "SET policy = jsonb_set(policy, '{column}', '\"note\"')"
    )
    result = roll(db_url, "--now", "2027-01-10T00:00:00Z")
    assert result.exit_code == 2
    assert "partitioned by created_at" in result.output
    assert partitions(pg)[-1] == "events_p2027_02"


@pytest.mark.clock
def test_status_and_check(db_url, pg):
    runner = CliRunner()
    # nothing managed here: monitoring pointed at the wrong database must not stay green
    empty = runner.invoke(main, ["check", "--database-url", db_url])
    assert empty.exit_code == 1 and "no table is managed by sqla-partition" in empty.output
    allowed = runner.invoke(main, ["check", "--database-url", db_url, "--allow-empty"])
    assert allowed.exit_code == 0 and allowed.output.startswith("OK: 0 tables")
    make_table(db_url)
    status = runner.invoke(
        main, ["status", "--database-url", db_url, "--now", "2026-11-27T10:00:00Z"]
    )
    assert status.exit_code == 0
    assert "4 partitions, covered until 2027-03-01" in status.output
    assert "timeline from p2026_05: ------####." in status.output  # before the table: -
    check = runner.invoke(
        main, ["check", "--database-url", db_url, "--now", "2026-11-27T10:00:00Z"]
    )
    assert check.exit_code == 1 and "never rolled" in check.output
    # rolled and checked by the test clock; the record of the run keeps the server's time
    # of it, so the age check allows for the distance between the two clocks
    apart = abs((clock.NOW - clock.wall()).total_seconds()) / 3600
    now = ["--now", clock.NOW.isoformat(), "--max-age", f"{apart + 25:.0f}h"]
    assert roll(db_url, *now[:2]).exit_code == 0
    pg.execute("INSERT INTO events (created_at) VALUES (%s)", (clock.month(60),))  # far ahead
    pg.execute("INSERT INTO events (created_at) VALUES ('2020-05-01'), ('2020-06-01')")
    where = runner.invoke(
        main, ["status", "--database-url", db_url, "--now", "2026-11-27T10:00:00Z"]
    )
    assert "rows in DEFAULT by period: 2 before p2026_05, 1 after the timeline" in where.output
    pg.execute("DELETE FROM events WHERE created_at < '2021-01-01'")
    check = runner.invoke(main, ["check", "--database-url", db_url, *now])
    assert check.exit_code == 1
    assert check.output.startswith("CRITICAL: public.events: 1 rows in the DEFAULT partition")
    pg.execute("DELETE FROM events_default")
    check = runner.invoke(main, ["check", "--database-url", db_url, *now])
    assert check.exit_code == 0 and check.output.startswith("OK:")
    sparse = runner.invoke(
        main, ["check", "--database-url", db_url, "--schedule", "0 0 1 */6 *", *now]
    )
    assert sparse.exit_code == 1 and "run more often" in sparse.output


def test_read_only_node_changes_nothing_and_says_so(db_url, pg):
    make_table(db_url)
    db = psycopg.sql.Identifier(pg.info.dbname)
    pg.execute(
        psycopg.sql.SQL("ALTER DATABASE {} SET default_transaction_read_only = on").format(db)
    )
    try:
        result = roll(db_url, "--now", "2027-01-10T00:00:00Z")
        assert result.exit_code == 0
        assert "read-only" in result.output and "nothing to do" in result.output
        code, out = roll_json(db_url, "--now", "2027-01-10T00:00:00Z")
        assert code == 0 and out["standby"] is True and out["tables"] == []
    finally:
        pg.execute(
            psycopg.sql.SQL("ALTER DATABASE {} RESET default_transaction_read_only").format(db)
        )
    assert partitions(pg)[-1] == "events_p2027_02"


def test_cron_path_does_not_import_sqlalchemy_or_alembic():
    import subprocess
    import sys

    code = (
        "import sys; import sqla_partition.cli, sqla_partition.cron.commands; "
        "print(sorted(m for m in ('sqlalchemy', 'alembic') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_runs_on_a_schedule_until_stopped(db_url, pg):
    import signal
    import subprocess
    import sys
    import time

    make_table(db_url)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sqla_partition.cli",
            "roll",
            "--database-url",
            db_url,
            "--every",
            "* * * * *",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "next roll at" in err


def test_a_table_an_older_version_left_unattached_is_put_back_by_a_migration(db_url, pg):
    """Older versions moved a large backlog into the new table before attaching it; a run
    killed then left the table with rows. roll does not take it by its name: the operator
    attaches it with op.attach_partition, which checks its rows against the bounds."""
    make_table(db_url)
    pg.execute("CREATE TABLE events_p2027_03 (LIKE events INCLUDING DEFAULTS)")
    pg.execute("INSERT INTO events_p2027_03 (id, created_at, note) VALUES (1, '2027-03-02', 'x')")
    pg.execute("INSERT INTO events (created_at, note) VALUES ('2027-03-03', 'y')")
    code, out = roll_json(db_url, "--now", "2027-01-10T00:00:00Z")
    assert code == 1 and '"events_p2027_03" already exists' in out["tables"][0]["errors"][0]
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn)
        with ctx.begin_transaction():
            Operations(ctx).attach_partition(
                "events",
                "events_p2027_03",
                lower="2027-03-01T00:00:00+00:00",
                upper="2027-04-01T00:00:00+00:00",
                column="created_at",
                key_type="timestamptz",
                default_partition="events_default",
            )
        conn.commit()
    engine.dispose()
    assert pg.execute(  # the CHECK that spared the ATTACH its scan is gone
        "SELECT count(*) FROM pg_constraint WHERE conname = 'sqla_partition_bound'"
    ).fetchone() == (0,)
    code, out = roll_json(db_url, "--now", "2027-01-10T00:00:00Z")
    assert code == 0, out
    assert "events_p2027_03" in partitions(pg)
    rows = pg.execute(
        "SELECT note FROM events WHERE created_at >= '2027-03-01' ORDER BY note"
    ).fetchall()
    assert rows == [("x",), ("y",)]


def test_tables_without_a_policy_are_never_touched(db_url, pg):
    make_table(db_url)
    pg.execute("CREATE TABLE handmade (at date NOT NULL) PARTITION BY RANGE (at)")
    pg.execute(
        "CREATE TABLE handmade_old PARTITION OF handmade FOR VALUES FROM "
        "('2000-01-01') TO ('2000-02-01')"
    )
    code, out = roll_json(db_url, "--now", "2027-01-10T00:00:00Z")
    assert code == 0
    assert [t["table"] for t in out["tables"]] == ["public.events"]
    assert partitions(pg, "handmade") == ["handmade_old"]


def test_rows_arriving_after_the_default_was_counted_are_still_moved(db_url, pg, monkeypatch):
    from sqla_partition.cron import runner

    make_table(db_url)
    pg.execute("INSERT INTO events (created_at, note) VALUES ('2027-03-02', 'late')")
    # as if the DEFAULT was empty when counted and the row came in just after
    monkeypatch.setattr(runner.sql, "default_rows_query", lambda *a: "SELECT 0")
    code, out = roll_json(db_url, "--now", "2027-01-10T00:00:00Z")
    assert code == 0, out
    assert out["tables"][0]["moved_rows"] == 1
    assert out["tables"][0]["created"] == ["events_p2027_03", "events_p2027_04"]
    assert pg.execute(
        "SELECT tableoid::regclass::text FROM events WHERE note = 'late'"
    ).fetchone() == ("events_p2027_03",)


def test_a_table_locked_by_someone_else_is_reported_and_the_others_still_roll(db_url, pg):
    make_table(db_url)  # events
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn)
        with ctx.begin_transaction():
            Operations(ctx).create_partitioned_table(
                "blobs",
                sa.Column("id", sa.BigInteger, primary_key=True),
                partitioning=Range("id", interval=1000, premake=2),
                start=0,
                until=3000,
            )
        conn.commit()
    engine.dispose()
    with psycopg.connect(pg.info.dsn) as holder:  # e.g. a long migration on blobs
        holder.execute("LOCK TABLE blobs IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        code, out = roll_json(db_url, "--now", "2027-01-10T00:00:00Z", "--lock-timeout", "300ms")
        waited = time.monotonic() - started
        holder.rollback()
    by_table = {t["table"]: t for t in out["tables"]}
    assert code == 3
    assert by_table["public.blobs"]["status"] == "locked"
    assert "lock timeout" in by_table["public.blobs"]["errors"][0]
    assert by_table["public.events"]["created"] == ["events_p2027_03", "events_p2027_04"]
    assert waited < 10  # bounded by lock_timeout, not by the holder


def test_rolled_at_is_recorded_for_a_schema_with_a_dot(db_url, pg):
    pg.execute('CREATE SCHEMA "odd.schema"')
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn)
        with ctx.begin_transaction():
            Operations(ctx).create_partitioned_table(
                "events",
                sa.Column("id", sa.BigInteger, nullable=False),
                sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
                sa.PrimaryKeyConstraint("id", "created_at"),
                partitioning=Range("created_at", premake=1),
                start="2026-11-01",
                until="2027-01-01",
                schema="odd.schema",
            )
        conn.commit()
    engine.dispose()
    code, out = roll_json(db_url, "--now", "2026-11-27T00:00:00Z")
    assert code == 0 and out["warnings"] == []
    rolled = pg.execute(
        "SELECT rolled_at IS NOT NULL FROM sqla_partition.sqla_partition_policy "
        "WHERE schema_name = 'odd.schema'"
    ).fetchone()
    assert rolled == (True,)


def test_a_busy_default_fails_only_its_own_table(db_url, pg):
    """Another session holds one table's DEFAULT exclusively (a killed run's server process,
    a run moving rows): the other tables roll; that table waits as long as a lock may and
    is reported locked (exit 3); status and check answer, saying the DEFAULT is busy."""
    make_table(db_url)
    make_table(db_url, name="other")
    holder = psycopg.connect(pg.info.dsn)
    try:
        holder.execute("LOCK TABLE events_default IN ACCESS EXCLUSIVE MODE")
        now = ["--now", "2027-01-10T00:00:00Z", "--lock-timeout", "300ms"]
        code, out = roll_json(db_url, *now)
        by_name = {t["table"]: t for t in out["tables"]}
        assert by_name["public.other"]["status"] == "ok"
        assert by_name["public.other"]["created"] == ["other_p2027_03", "other_p2027_04"]
        assert by_name["public.events"]["status"] in ("locked", "skipped"), out
        assert code == 3, out
        for command in ("status", "check"):
            result = CliRunner().invoke(
                main, [command, "--database-url", db_url, "--now", "2027-01-10T00:00:00Z"]
            )
            assert result.exit_code in (0, 1), result.output
            assert "Traceback" not in result.output
        status = CliRunner().invoke(
            main, ["status", "--database-url", db_url, "--now", "2027-01-10T00:00:00Z"]
        )
        assert "DEFAULT busy (another session holds it)" in status.output
    finally:
        holder.close()
    # a run moving rows holds the table's lock as well: waited for, then skipped
    with psycopg.connect(pg.info.dsn) as other_run:
        other_run.autocommit = True
        assert hold_roll_lock(other_run)
        other_run.autocommit = False
        other_run.execute("LOCK TABLE events_default IN ACCESS EXCLUSIVE MODE")
        code, out = roll_json(
            db_url, "--now", "2027-01-10T00:00:00Z", "--wait-for-other-run", "200ms"
        )
        (events,) = [t for t in out["tables"] if t["table"] == "public.events"]
        assert events["status"] == "skipped" and "another run" in events["skipped"], out
        assert code == 3
    code, out = roll_json(db_url, "--now", "2027-01-10T00:00:00Z")
    (events,) = [t for t in out["tables"] if t["table"] == "public.events"]
    assert code == 0 and events["created"] == ["events_p2027_03", "events_p2027_04"]
