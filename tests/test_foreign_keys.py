"""Foreign keys to partitioned tables: expiry completes, no archive keeps a key, and no
archived row is deleted by a cascade."""

from __future__ import annotations

import json

import sqlalchemy as sa
from click.testing import CliRunner

from sqla_partition import Hash, List, Range
from sqla_partition.cli import main

from .test_hash import run_online


def foreign_keys(pg, table: str) -> int:
    return pg.execute(
        "SELECT count(*) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
        (table,),
    ).fetchone()[0]


def test_expiry_with_a_key_to_a_hash_partitioned_table(db_url, pg):
    def create(op):
        op.create_partitioned_table(
            "accounts",
            sa.Column("id", sa.BigInteger, primary_key=True),
            partitioning=Hash("id", partitions=4),
        )
        op.create_partitioned_table(
            "events",
            sa.Column("id", sa.BigInteger, nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column(
                "account_id",
                sa.BigInteger,
                sa.ForeignKey("accounts.id", ondelete="CASCADE"),
                nullable=False,
            ),
            sa.PrimaryKeyConstraint("id", "created_at"),
            partitioning=Range("created_at", premake=1, retention="2 months"),
            start="2026-11-01",
            until="2027-01-01",
        )

    run_online(db_url, create)
    pg.execute("INSERT INTO accounts SELECT g FROM generate_series(1, 8) g")
    pg.execute(
        "INSERT INTO events SELECT g, timestamptz '2026-11-03' + g * interval '4 days', "
        "1 + g % 8 FROM generate_series(1, 12) g"
    )
    assert foreign_keys(pg, "events_p2026_11") >= 1  # inherited from events

    result = CliRunner().invoke(
        main, ["roll", "--database-url", db_url, "--now", "2027-04-10T00:00:00Z", "--json"]
    )
    assert result.exit_code == 0, result.output
    (table,) = [t for t in json.loads(result.output)["tables"] if t["table"] == "public.events"]
    assert table["detached"] == ["events_p2026_11", "events_p2026_12"]
    assert table["errors"] == []
    for archive in table["detached"]:
        assert foreign_keys(pg, archive) == 0
    archived = pg.execute("SELECT count(*) FROM events_p2026_11").fetchone()[0]
    assert archived > 0
    pg.execute("DELETE FROM accounts")  # the cascade reaches live rows only
    assert pg.execute("SELECT count(*) FROM events_p2026_11").fetchone() == (archived,)


def test_a_removed_list_partition_keeps_no_foreign_key(db_url, pg):
    before = List("region", partitions={"eu": ["de"], "us": ["us"]}, default=True)
    after = List("region", partitions={"eu": ["de"]}, default=True)

    def create(op):
        op.create_table("regions", sa.Column("code", sa.Text, primary_key=True))
        op.create_partitioned_table(
            "orders",
            sa.Column("id", sa.BigInteger, nullable=False),
            sa.Column("region", sa.Text, sa.ForeignKey("regions.code"), nullable=False),
            sa.PrimaryKeyConstraint("id", "region"),
            partitioning=before,
        )

    run_online(db_url, create)
    pg.execute("INSERT INTO regions VALUES ('de'), ('us')")
    pg.execute("INSERT INTO orders VALUES (1, 'de'), (2, 'us')")
    run_online(db_url, lambda op: op.alter_list_partitions("orders", after, old=before))
    assert foreign_keys(pg, "orders_us") == 0  # the archive references nothing
    pg.execute("DELETE FROM regions WHERE code = 'us'")  # no archived row holds it back
    assert pg.execute("SELECT count(*) FROM orders_us").fetchone() == (1,)
    pg.execute("INSERT INTO regions VALUES ('us')")
    run_online(db_url, lambda op: op.alter_list_partitions("orders", before, old=after))
    assert foreign_keys(pg, "orders_us") == 1  # taken back: the parent's key with it


def test_a_partition_other_tables_refer_to_is_skipped_and_named(db_url, pg):
    from .test_record import events

    events(db_url, Range("created_at", premake=1, retention="1 month", on_expire="drop"))
    pg.execute("INSERT INTO events VALUES (1, '2026-11-15'), (2, '2026-12-15')")
    # a key to one partition itself, and a key to the table that a row of another holds
    pg.execute(
        "CREATE TABLE notes (e_id bigint, e_at timestamptz, "
        "FOREIGN KEY (e_id, e_at) REFERENCES events_p2026_11 (id, created_at))"
    )
    pg.execute(
        "CREATE TABLE links (e_id bigint, e_at timestamptz, "
        "FOREIGN KEY (e_id, e_at) REFERENCES events (id, created_at))"
    )
    pg.execute("INSERT INTO notes VALUES (1, '2026-11-15')")
    pg.execute("INSERT INTO links VALUES (2, '2026-12-15')")
    roll = ["roll", "--database-url", db_url, "--json", "--now"]

    def run(now: str) -> tuple[dict, str]:
        result = CliRunner().invoke(main, [*roll, now])
        assert result.exit_code == 0, result.output
        (table,) = json.loads(result.output)["tables"]
        assert table["status"] == "ok" and table["errors"] == []
        return table, " ".join(table["notes"])

    table, notes = run("2027-01-10T00:00:00Z")  # November expires: notes refers to it
    assert table["detached"] == ["events_p2026_11"] and table["dropped"] == []
    assert "events_p2026_11 is past retention and detached, but not dropped" in notes
    assert "constraint notes_e_id_e_at_fkey on table public.notes" in notes  # who refers

    table, notes = run("2027-03-10T00:00:00Z")  # December (a row links refers to), January
    assert table["dropped"] == ["events_p2027_01"]  # the one nothing refers to
    assert "events_p2026_12 is past retention but another table refers to its rows" in notes
    assert pg.execute("SELECT count(*) FROM events_p2026_11").fetchone() == (1,)
    assert pg.execute("SELECT count(*) FROM events WHERE id = 2").fetchone() == (1,)
