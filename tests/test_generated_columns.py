"""Tables with stored generated columns: rows move out of a DEFAULT partition by the other
columns (an INSERT may not give a generated one), by roll and by migrations alike."""

from __future__ import annotations

import sqlalchemy as sa
from click.testing import CliRunner

from sqla_partition import List, Range
from sqla_partition.cli import main

from .test_archives import run_op


def test_roll_moves_rows_of_a_table_with_generated_columns(db_url, pg):
    def create(op):
        op.create_partitioned_table(
            "events",
            sa.Column("id", sa.BigInteger, sa.Identity(always=True), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("note", sa.Text),
            sa.Column("note_len", sa.Integer, sa.Computed("length(note)", persisted=True)),
            sa.PrimaryKeyConstraint("id", "created_at"),
            partitioning=Range("created_at", premake=1, default=True),
            start="2026-11-01",
            until="2027-01-01",
        )

    run_op(db_url, create)
    pg.execute("INSERT INTO events (created_at, note) VALUES ('2027-02-10', 'abcd')")
    result = CliRunner().invoke(
        main, ["roll", "--database-url", db_url, "--now", "2027-01-15T00:00:00Z"]
    )
    assert result.exit_code == 0, result.output
    assert pg.execute(
        "SELECT tableoid::regclass::text, note_len, id FROM events WHERE note = 'abcd'"
    ).fetchone() == ("events_p2027_02", 4, 1)  # the identity value kept, the length computed


def test_list_partitions_move_rows_of_a_table_with_generated_columns(db_url, pg):
    old = List("region", partitions={"eu": ["de"]}, default=True)
    new = List("region", partitions={"eu": ["de", "fr"], "asia": ["jp"]}, default=True)

    def create(op):
        op.create_partitioned_table(
            "orders",
            sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
            sa.Column("region", sa.Text, nullable=False),
            sa.Column("total", sa.Integer),
            sa.Column("doubled", sa.Integer, sa.Computed("total * 2", persisted=True)),
            sa.PrimaryKeyConstraint("id", "region"),
            partitioning=old,
        )

    run_op(db_url, create)
    pg.execute("INSERT INTO orders (region, total) VALUES ('jp', 3), ('fr', 5), ('de', 7)")
    run_op(db_url, lambda op: op.alter_list_partitions("orders", new, old=old))
    rows = pg.execute(
        "SELECT region, tableoid::regclass::text, doubled FROM orders ORDER BY region"
    ).fetchall()
    assert rows == [("de", "orders_eu", 14), ("fr", "orders_eu", 10), ("jp", "orders_asia", 6)]


def test_rows_move_by_name_from_a_default_that_orders_its_columns_otherwise(db_url, pg):
    def create(op):
        op.create_partitioned_table(
            "people",
            sa.Column("id", sa.BigInteger, nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("first_name", sa.Text),
            sa.Column("last_name", sa.Text),
            sa.PrimaryKeyConstraint("id", "created_at"),
            partitioning=Range("created_at", premake=1),
            start="2026-11-01",
            until="2027-01-01",
        )

    run_op(db_url, create)
    # a DEFAULT made by hand, its columns in another order
    pg.execute(
        "CREATE TABLE people_default (id bigint NOT NULL, created_at timestamptz NOT NULL, "
        "last_name text, first_name text, PRIMARY KEY (id, created_at))"
    )
    pg.execute("ALTER TABLE people ATTACH PARTITION people_default DEFAULT")
    pg.execute("INSERT INTO people VALUES (1, '2027-02-10', 'Ada', 'Lovelace')")
    result = CliRunner().invoke(
        main, ["roll", "--database-url", db_url, "--now", "2027-01-15T00:00:00Z"]
    )
    assert result.exit_code == 0, result.output
    assert pg.execute(
        "SELECT tableoid::regclass::text, first_name, last_name FROM people"
    ).fetchone() == ("people_p2027_02", "Ada", "Lovelace")
