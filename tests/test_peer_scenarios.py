"""pg_partman as the oracle: for each interval its users ask for, a set pg_partman makes
and one sqla-partition makes at the same moment have the same bounds, period by period,
and roll goes on where pg_partman's maintenance would."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from sqla_partition import Range
from sqla_partition.cli import main

from .test_hash import run_online

UTC = dt.timezone.utc

#: pg_partman 4.7's interval names, with sqla-partition's interval and naming for them.
CASES = [
    ("quarter-hour", "15 minutes", "sqla"),
    ("hourly", "1 hour", "sqla"),
    ("daily", "1 day", "sqla"),
    ("weekly", "1 week", "partman4"),
    ("monthly", "1 month", "sqla"),
    ("quarterly", "3 months", "partman4"),
    ("yearly", "1 year", "sqla"),
]


def bounds(pg, table):
    rows = pg.execute(
        "SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
        (table,),
    ).fetchall()
    out = set()
    for (bound,) in rows:
        if bound == "DEFAULT":
            continue
        lo, hi = bound.removeprefix("FOR VALUES FROM (").removesuffix(")").split(") TO (")
        out.add(pg.execute(f"SELECT {lo}::timestamptz, {hi}::timestamptz").fetchone())
    return out


@pytest.mark.parametrize(("partman", "interval", "naming"), CASES)
def test_the_same_bounds_as_pg_partman(db_url, pg, partman, interval, naming):
    if not pg.execute(
        "SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_partman'"
    ).fetchone()[0]:
        pytest.skip("pg_partman is not installed on this server (.ci/run installs it on Debian)")
    pg.execute("CREATE SCHEMA partman")
    pg.execute("CREATE EXTENSION pg_partman SCHEMA partman")
    pg.execute("SET TimeZone = 'UTC'")
    pg.execute("CREATE TABLE theirs (at timestamptz NOT NULL) PARTITION BY RANGE (at)")
    with pg.transaction():  # pg_partman reads the server's clock: now(), fixed in one
        (now,) = pg.execute("SELECT now()").fetchone()  # transaction, is what it read
        pg.execute(
            "SELECT partman.create_parent('public.theirs', 'at', 'native', %s, p_premake := 2)",
            (partman,),
        )
    theirs = bounds(pg, "theirs")
    policy = Range("at", interval=interval, premake=2, naming=naming)

    def create(op):
        op.create_partitioned_table(
            "ours",
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            partitioning=policy,
            start=now.isoformat(),
            until=now.isoformat(),
        )

    run_online(db_url, create)
    ours = bounds(pg, "ours")
    # the period holding now and the two ahead: the same in both, bound for bound
    assert len(ours) == 1 and ours <= theirs, (sorted(ours), sorted(theirs))
    result = CliRunner().invoke(main, ["roll", "--database-url", db_url, "--now", now.isoformat()])
    assert result.exit_code == 0, result.output
    ahead = {b for b in bounds(pg, "ours") if b[1] > now}
    assert ahead == {b for b in theirs if b[1] > now}, (sorted(ahead), sorted(theirs))
