"""A range of hashes: monthly partitions, each hash-partitioned by tenant, made by a
migration and by roll alike, and invisible to autogenerate."""

from __future__ import annotations

import json
import textwrap

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from sqla_partition import Hash, PolicyError, Range, partition_table
from sqla_partition.cli import main

from .alembic_project import models_project

MODELS = textwrap.dedent(
    """
    import sqlalchemy as sa
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

    from sqla_partition import Hash, Range


    class Base(DeclarativeBase):
        pass


    class Event(Base):
        __tablename__ = "events"
        __partitioning__ = Range(
            "created_at",
            premake=2,
            retention="3 months",
            default=True,
            on_expire="drop",
            subpartition=Hash("tenant_id", partitions=4),
        )
        id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
        created_at = mapped_column(sa.DateTime(timezone=True), primary_key=True)
        tenant_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
        body: Mapped[str] = mapped_column(sa.Text)
    """
)


@pytest.fixture
def project(tmp_path, db_url, monkeypatch):
    with models_project(tmp_path, db_url, monkeypatch, "range_hash_models", MODELS) as p:
        yield p


def tree(pg) -> dict[str, list[str]]:
    """Each range partition with its hash partitions (a DEFAULT has none)."""
    rows = pg.execute(
        "SELECT c.relname, coalesce(array_agg(g.relname ORDER BY g.relname) "
        "FILTER (WHERE g.relname IS NOT NULL), '{}') "
        "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "LEFT JOIN pg_inherits gi ON gi.inhparent = c.oid "
        "LEFT JOIN pg_class g ON g.oid = gi.inhrelid "
        "WHERE i.inhparent = 'events'::regclass GROUP BY 1 ORDER BY 1"
    ).fetchall()
    return dict(rows)


def roll(db_url, now):
    result = CliRunner().invoke(main, ["roll", "--database-url", db_url, "--now", now, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_range_of_hashes_by_migration_and_roll(project, db_url, pg):
    text = project.revision("events")
    assert "subpartition=Hash('tenant_id', partitions=4)" in text
    assert "from sqla_partition import Hash" in text
    project.upgrade()
    layout = tree(pg)
    assert list(layout) == [
        "events_default",
        "events_p2026_11",
        "events_p2026_12",
        "events_p2027_01",
    ]
    assert layout["events_p2026_12"] == [f"events_p2026_12_h{r}" for r in range(4)]
    assert layout["events_default"] == []

    pg.execute(
        "INSERT INTO events (created_at, tenant_id, body) "
        "SELECT timestamptz '2026-11-01' + g * interval '1 hour', g % 10, 'b' "
        "FROM generate_series(0, 3000) g"
    )  # through March: February and March rows wait in the DEFAULT
    waiting = pg.execute("SELECT count(*) FROM events_default").fetchone()[0]
    assert waiting > 0

    out = roll(db_url, "2027-01-15T00:00:00Z")
    assert out["tables"][0]["created"] == ["events_p2027_02", "events_p2027_03"]
    assert out["totals"]["moved_rows"] == waiting
    layout = tree(pg)
    assert layout["events_p2027_03"] == [f"events_p2027_03_h{r}" for r in range(4)]
    assert pg.execute("SELECT count(*) FROM events_default").fetchone() == (0,)
    # every row is in the month and the hash partition its key names
    placed = pg.execute(
        "SELECT count(*), count(DISTINCT tableoid) FROM events "
        "WHERE tableoid::regclass::text LIKE 'events_p2027_03_h%'"
    ).fetchone()
    assert placed[0] > 0 and placed[1] == 4
    project.check()  # roll's new partitions and their hash partitions are not drift

    out = roll(db_url, "2027-03-05T00:00:00Z")  # November expires and is dropped
    assert "events_p2026_11" in out["tables"][0]["dropped"]
    assert "events_p2026_11" not in tree(pg)
    leftover = pg.execute(
        "SELECT count(*) FROM pg_class WHERE relname LIKE 'events_p2026_11%'"
    ).fetchone()
    assert leftover == (0,)
    project.check()

    # a month roll made (rows moved into it from the DEFAULT) expires in turn: on PostgreSQL
    # 17 and later its hash partitions must carry the identity column for the DETACH
    out = roll(db_url, "2027-06-05T00:00:00Z")
    assert "events_p2027_02" in out["tables"][0]["dropped"]
    pg.execute("INSERT INTO events (created_at, tenant_id, body) VALUES ('2027-06-10', 1, 'n')")
    assert pg.execute("SELECT count(*) FROM events WHERE body = 'n'").fetchone() == (1,)
    project.check()


def test_subpartition_key_is_checked_at_declaration():
    md = sa.MetaData()
    table = sa.Table(
        "events",
        md,
        sa.Column("id", sa.BigInteger),
        sa.Column("created_at", sa.DateTime(timezone=True)),
        sa.Column("tenant_id", sa.Integer),
        sa.PrimaryKeyConstraint("id", "created_at"),
    )
    with pytest.raises(PolicyError, match="add 'tenant_id' to it"):
        partition_table(table, Range("created_at", subpartition=Hash("tenant_id", 4)))
    with pytest.raises(PolicyError, match="'shop' is not a column"):
        partition_table(table, Range("created_at", subpartition=Hash("shop", 4)))
    with pytest.raises(PolicyError, match="hashes the range key itself"):
        Range("created_at", subpartition=Hash("created_at", 4))
    with pytest.raises(PolicyError, match="subpartition must be Hash"):
        Range("created_at", subpartition="tenant_id")
    with pytest.raises(PolicyError, match="partitions by the range key itself"):
        Range("created_at", subpartition=Range("created_at", interval="1 day"))


def test_a_table_named_like_a_new_hash_partition_stops_that_period(db_url, pg):
    """roll's new month gets its hash partitions with plain CREATE TABLE … PARTITION OF:
    a table that has one's name is never skipped over (the month would miss a remainder)."""
    from .test_roll import make_table, partitions, roll_json

    make_table(
        db_url,
        Range("created_at", premake=1, subpartition=Hash("id", 2)),
        start="2026-11-01",
        until="2027-01-01",
    )
    pg.execute("CREATE TABLE events_p2027_01_h0 (x int)")
    code, out = roll_json(db_url, "--now", "2027-01-10T00:00:00Z")
    assert code == 1
    (error,) = out["tables"][0]["errors"]
    assert error.startswith(
        'public.events_p2027_01 was not created: relation "events_p2027_01_h0" already exists'
    )
    assert "events_p2027_01" not in partitions(pg)
    assert "events_p2027_02" in partitions(pg)  # its other periods went on
