"""Integer keys: the position is where the rows of the partitions have reached. Stray rows
in the DEFAULT never move it, so retention never expires real rows because of them."""

from __future__ import annotations

import json

import sqlalchemy as sa
from click.testing import CliRunner

from sqla_partition import Range
from sqla_partition.cli import main

from .test_hash import run_online
from .test_roll import partitions


def ids_table(db_url: str, policy: Range, until: int) -> None:
    def create(op):
        op.create_partitioned_table(
            "ids",
            sa.Column("id", sa.BigInteger, primary_key=True),
            sa.Column("note", sa.Text),
            partitioning=policy,
            start=0,
            until=until,
        )

    run_online(db_url, create)


def cli(db_url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--database-url", db_url])
    return result.exit_code, result.output


def test_strays_in_the_default_never_move_the_position(db_url, pg):
    ids_table(db_url, Range("id", interval=10, premake=1, retention=20, default=True), 40)
    pg.execute("INSERT INTO ids SELECT g, 'real' FROM generate_series(1, 38) g")
    pg.execute("INSERT INTO ids SELECT 3000000200 + g, 'stray' FROM generate_series(0, 10) g")
    code, out = cli(db_url, "roll", "--json")
    assert code == 0, out
    (table,) = json.loads(out)["tables"]
    # the rows reach 38: premake 1 wants [40, 50); retention 20 keeps [10, 20) on
    assert table["created"] == ["ids_p0000000040"]
    assert table["detached"] == ["ids_p0000000000"]
    assert pg.execute("SELECT count(*) FROM ids WHERE note = 'real'").fetchone() == (29,)
    assert pg.execute("SELECT count(*) FROM ids_p0000000000").fetchone() == (9,)  # archived
    assert pg.execute("SELECT count(*) FROM ids_default").fetchone() == (11,)

    # the strays are reported, with the command that places them
    code, out = cli(db_url, "check")
    assert code == 1 and "11 rows in the DEFAULT partition" in out, out
    assert "--place-default" in out
    code, out = cli(db_url, "status")
    assert "11 after the timeline" in out, out

    # placed only when asked: their partitions are made, no real row expires
    code, out = cli(db_url, "roll", "--place-default", "--json")
    assert code == 0, out
    (table,) = json.loads(out)["tables"]
    assert table["created"] == ["ids_p3000000200", "ids_p3000000210"]
    assert table["detached"] == [] and table["moved_rows"] == 11
    assert pg.execute("SELECT count(*) FROM ids").fetchone() == (29 + 11,)
    again = json.loads(cli(db_url, "roll", "--json")[1])["tables"][0]
    assert again["created"] == [] and again["detached"] == []  # the strays moved nothing
    assert "ids_p0000000010" in partitions(pg, "ids")


def test_no_rows_in_any_partition_starts_at_the_lowest(db_url, pg):
    ids_table(db_url, Range("id", interval=100, premake=1, default=True), 200)
    pg.execute("INSERT INTO ids VALUES (900000, 'stray')")
    code, out = cli(db_url, "roll", "--json")
    assert code == 0, out
    (table,) = json.loads(out)["tables"]
    assert table["created"] == [] and table["moved_rows"] == 0
    assert partitions(pg, "ids") == ["ids_p0000000000", "ids_p0000000100"]


def test_a_table_of_one_integer_partition_rolls(db_url, pg):
    """The position read from a single partition (its max key, alone in the query)."""
    ids_table(db_url, Range("id", interval=10, premake=1), 10)
    pg.execute("INSERT INTO ids SELECT g, 'real' FROM generate_series(1, 9) g")
    code, out = cli(db_url, "roll", "--json")
    assert code == 0, out
    assert json.loads(out)["tables"][0]["created"] == ["ids_p0000000010"]
