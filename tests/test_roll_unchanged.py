"""roll leaves alone the tables a run found needing nothing, unchanged since and not yet
due; such a run makes, detaches and records exactly what a run that reads every table
(``--full``) does, while time walks forward and back and the tables change by hand."""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid

import psycopg
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from psycopg import sql as pgsql
from sqlalchemy.engine import make_url

from sqla_partition import Hash, List, Range
from sqla_partition.cli import main
from sqla_partition.cron.unchanged import read_unchanged

from .conftest import _libpq
from .test_hash import run_online
from .test_roll import make_table
from .test_security import roles  # noqa: F401 (a fixture)

#: name, key column type, policy, first and last partition
TABLES = [
    (
        "monthly",
        sa.DateTime(timezone=True),
        Range("at", premake=2, retention="3 months", default=True),
        "2026-08-01",
        "2026-12-01",
    ),
    (
        "daily local",
        sa.DateTime(timezone=False),
        Range("at", interval="1 day", premake=3, retention="10 days", timezone="America/New_York"),
        "2026-10-12",
        "2026-10-24",
    ),
    (
        "weekly dates",
        sa.Date(),
        Range("at", interval="1 week", premake=2, retention="40 days", timezone="Europe/Berlin"),
        "2026-09-07",
        "2026-10-26",
    ),
    (
        'odd "q".name',  # quotes and a dot: the server finds it by its quoted name
        sa.Date(),
        Range("at", premake=1, retention="2 months"),
        "2026-09-01",
        "2026-11-01",
    ),
    (
        "epoch ms",
        sa.BigInteger(),
        Range("at", interval="1 day", premake=2, retention="5 days", epoch="milliseconds"),
        "2026-10-16",
        "2026-10-24",
    ),
]
START = dt.datetime(2026, 10, 20, 6, 0, tzinfo=dt.timezone.utc)


def _make(url: str) -> None:
    def create(op):
        for name, key_type, policy, start, until in TABLES:
            op.create_partitioned_table(
                name,
                sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
                sa.Column("at", key_type, nullable=False),
                sa.PrimaryKeyConstraint("id", "at"),
                partitioning=policy,
                start=start,
                until=until,
            )

    run_online(url, create)


def _roll(url: str, now: dt.datetime, *extra: str) -> dict:
    result = CliRunner().invoke(
        main, ["roll", "--database-url", url, "--json", "--now", now.isoformat(), *extra]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _state(pg: psycopg.Connection) -> tuple:
    """What a run decides: every partition and its bound, the tables detached, the record."""
    parts = pg.execute(
        "SELECT p.relname, c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
        "WHERE p.relkind = 'p' AND c.relkind = 'r' ORDER BY 1, 2"
    ).fetchall()
    tables = pg.execute(
        "SELECT relname FROM pg_class WHERE relkind = 'r' "
        "AND relnamespace = 'public'::regnamespace ORDER BY 1"
    ).fetchall()
    record = pg.execute(
        "SELECT table_name, partition_name, state FROM sqla_partition.sqla_partition_partitions "
        "ORDER BY 1, 2"
    ).fetchall()
    return parts, tables, record


@pytest.fixture
def second_url(server_url: str):
    name = f"sqlp_test_{uuid.uuid4().hex[:10]}"
    admin = _libpq(server_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name)))
    yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(pgsql.SQL("DROP DATABASE {} WITH (FORCE)").format(pgsql.Identifier(name)))


def _by_hand(rng: random.Random, conns: list[psycopg.Connection], now: dt.datetime) -> str:
    """One change an operator or an application makes, the same in both databases."""
    kind = rng.choice(["default row", "drop", "policy", "none"])
    for pg in conns:
        if kind == "default row":  # far ahead: it waits in the DEFAULT
            pg.execute("INSERT INTO monthly (at) VALUES (%s)", (now + dt.timedelta(days=400),))
        elif kind == "drop":  # a partition dropped by hand: a gap roll makes again
            name = pg.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = '\"daily local\"'::regclass ORDER BY c.relname "
                "OFFSET 1 LIMIT 1"
            ).fetchone()
            if name:
                pg.execute(pgsql.SQL("DROP TABLE {}").format(pgsql.Identifier(name[0])))
        elif kind == "policy":
            pg.execute(
                "UPDATE sqla_partition.sqla_partition_policy SET policy = jsonb_set(policy, "
                "'{premake}', to_jsonb((policy->>'premake')::int % 4 + 1)) "
                "WHERE table_name = 'weekly dates'"
            )
    return kind


@pytest.mark.parametrize("seed", [1, 2])
def test_a_run_that_leaves_tables_alone_does_what_a_full_run_does(db_url, second_url, seed):
    """Two identical databases, one rolled with --full: after every run, through 40 steps
    of a clock that mostly walks forward (minutes to weeks, over both DST changes) and
    sometimes back, with changes by hand between runs, they hold the same partitions, the
    same detached tables and the same record."""
    _make(db_url)
    _make(second_url)
    rng = random.Random(seed)
    now, left = START, 0
    with (
        psycopg.connect(_libpq(db_url), autocommit=True) as full,
        psycopg.connect(_libpq(second_url), autocommit=True) as lean,
    ):
        for step in range(40):
            kind = _by_hand(rng, [full, lean], now) if step % 2 else "none"
            a = _roll(db_url, now, "--full")
            b = _roll(second_url, now)
            assert a["totals"]["unchanged"] == 0
            left += b["totals"]["unchanged"]
            assert _state(full) == _state(lean), (step, now, kind)
            for key in ("created", "detached"):
                assert a["totals"][key] == b["totals"][key], (step, now, kind, key)
            minutes = rng.choice([7, 50, 180, 660, 1440, 4620, 12960, -120, -1440])
            now += dt.timedelta(minutes=minutes)
    # the runs did leave tables alone: else this compares two full runs
    assert left >= 15, left


def test_what_sends_a_table_back_to_a_full_read(db_url, pg):
    """Each change that can alter a plan ends the table's rest: rows in the DEFAULT, a
    partition dropped by hand, a new policy, the clock walked back, and the
    end of the period (less the margin); a change to another table does not."""
    _make(db_url)
    now = START
    _roll(db_url, now)  # makes what premake asks for
    _roll(db_url, now)  # finds nothing to do

    def unchanged(at: dt.datetime) -> set[str]:
        out = _roll(db_url, at)
        return {t["table"] for t in out["tables"] if t.get("unchanged")}

    everything = {f"public.{t[0]}" for t in TABLES}
    assert unchanged(now) == everything
    pg.execute("INSERT INTO monthly (at) VALUES ('2030-01-01')")  # into the DEFAULT
    assert unchanged(now) == everything - {"public.monthly"}
    assert unchanged(now) == everything - {"public.monthly"}  # as long as it has rows
    pg.execute("DELETE FROM monthly WHERE at = '2030-01-01'")
    pg.execute("VACUUM monthly_default")  # no pages left
    _roll(db_url, now)
    assert unchanged(now) == everything
    pg.execute('DROP TABLE "epoch ms_p2026_10_22"')
    out = _roll(db_url, now)
    (epoch,) = [t for t in out["tables"] if t["table"] == "public.epoch ms"]
    assert not epoch.get("unchanged") and epoch["created"] == ["epoch ms_p2026_10_22"]
    _roll(db_url, now)  # a run that did work keeps no state: the next one finds nothing
    assert unchanged(now) == everything
    pg.execute(
        "UPDATE sqla_partition.sqla_partition_policy SET policy = jsonb_set(policy, "
        "'{premake}', '5') WHERE table_name = 'monthly'"
    )
    out = _roll(db_url, now)
    (monthly,) = [t for t in out["tables"] if t["table"] == "public.monthly"]
    assert not monthly.get("unchanged") and len(monthly["created"]) == 3
    _roll(db_url, now)
    assert unchanged(now) == everything
    assert unchanged(now - dt.timedelta(hours=1)) == set()  # the clock walked back
    assert unchanged(now) == everything
    # monthly: the end of October, less the margin (its oldest month expires later)
    edge = dt.datetime(2026, 10, 31, 21, 0, tzinfo=dt.timezone.utc)
    assert "public.monthly" in unchanged(edge - dt.timedelta(seconds=1))
    assert "public.monthly" not in unchanged(edge)


def test_no_other_role_can_make_roll_leave_a_table_alone(roles, pg):  # noqa: F811
    """A state says "nothing to do until …": a role that could write one for another
    role's table could keep its partitions from being made. The roll role (a member of the
    owner) keeps the states, in a table it makes as the owner; other roles, even with
    usage of the tool's schema, see and write no row of it (row-level security, forced)."""
    names, urls = roles
    make_table(urls["owner"], Range("created_at", premake=2, default=True))
    for _ in range(2):
        _roll(urls["roll"], START)
    assert _roll(urls["roll"], START)["totals"]["unchanged"] == 1
    owner = pg.execute(
        "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'sqla_partition_roll_state'"
    ).fetchone()
    assert owner == (names["owner"],)
    pg.execute(f'GRANT USAGE ON SCHEMA sqla_partition TO "{names["app"]}"')
    with psycopg.connect(_libpq(urls["app"]), autocommit=True) as app:
        seen = app.execute("SELECT count(*) FROM sqla_partition.sqla_partition_roll_state")
        assert seen.fetchone() == (0,)
        changed = app.execute(
            "UPDATE sqla_partition.sqla_partition_roll_state SET due_at = 'infinity'"
        )
        assert changed.rowcount == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            app.execute(
                "INSERT INTO sqla_partition.sqla_partition_roll_state VALUES "
                "('public', 'events', 'x', now(), 'infinity')"
            )
    due = pg.execute("SELECT max(due_at) FROM sqla_partition.sqla_partition_roll_state")
    assert due.fetchone()[0] < dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc)


def test_a_state_it_cannot_read_never_stops_a_roll(db_url, pg):
    """A session holding the state table (a long migration, a stuck VACUUM FULL) makes the
    run read every table instead, within its lock_timeout; the next run finds the tables
    left alone again."""
    _make(db_url)
    _roll(db_url, START)
    _roll(db_url, START)
    with psycopg.connect(_libpq(db_url)) as holder:
        holder.execute("LOCK sqla_partition.sqla_partition_roll_state IN ACCESS EXCLUSIVE MODE")
        out = _roll(db_url, START + dt.timedelta(minutes=5), "--lock-timeout", "300ms")
        holder.rollback()
    assert out["totals"]["unchanged"] == 0 and out["totals"]["tables"] == len(TABLES)
    assert _roll(db_url, START + dt.timedelta(minutes=10))["totals"]["unchanged"] == len(TABLES)


def test_list_and_hash_tables_are_not_read_by_a_plain_run(db_url, pg):
    """roll never touches a list or hash table: a plain run reads neither its catalog rows
    nor its policy, unless the table is missing (the run warns of that, as --full does)."""

    def create(op):
        op.create_partitioned_table(
            "regions",
            sa.Column("id", sa.BigInteger, nullable=False),
            sa.Column("region", sa.Text, nullable=False),
            partitioning=List("region", partitions={"eu": ["de", "fr"]}, default=True),
        )
        op.create_partitioned_table(
            "shards",
            sa.Column("id", sa.BigInteger, nullable=False),
            partitioning=Hash("id", partitions=4),
        )
        op.create_partitioned_table(
            "gone",
            sa.Column("id", sa.BigInteger, nullable=False),
            partitioning=Hash("id", partitions=2),
        )
        op.create_partitioned_table(
            "monthly",
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            partitioning=Range("at", premake=1),
            start="2026-10-01",
            until="2026-12-01",
        )

    run_online(db_url, create)
    pg.execute("DROP TABLE gone")
    with psycopg.connect(_libpq(db_url), autocommit=True) as conn:
        read = read_unchanged(conn, START, None)
    assert read is not None
    assert sorted(read.names) == [("public", "gone"), ("public", "monthly")]
    assert read.oids == [pg.execute("SELECT 'monthly'::regclass::oid").fetchone()[0]]
    for extra in ((), ("--full",)):
        out = _roll(db_url, START, *extra)
        assert [t["table"] for t in out["tables"]] == ["public.monthly"]
        assert out["warnings"] == ["public.gone: a policy is recorded but the table does not exist"]
