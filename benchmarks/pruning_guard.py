"""Benchmark: what the pruning guard costs a test suite.

Why this exists: ``sqla_partition.testing.guard_pruning(engine)`` plans every statement that
names a partitioned table before it runs, in a savepoint of the statement's own transaction,
and keeps the verdict per statement text. The claim: a test suite pays one plan per
distinct statement, so its cost is bounded by how many distinct statements it has, not by
how many it runs.

The scenario: ``events`` range-partitioned by month (24 partitions) with 100 rows each;
10,000 statements in short transactions through SQLAlchemy (psycopg 3), drawn from 100
distinct texts (each a pruned ``SELECT count(*)`` of one month, with bound parameters); run
with and without the guard, alternating, ``--repeat`` times. Reported: the median time
per run of each, the ratio, and the plans the guard made.

Run it (about 20 seconds here)::

    .venv/bin/python benchmarks/pruning_guard.py
    .venv/bin/python benchmarks/pruning_guard.py --statements 2000 --repeat 1   # quick

Needs a server where the role may create databases; the database is dropped at the end.
"""

from __future__ import annotations

import argparse
import statistics
import time

import psycopg
import sqlalchemy as sa

from sqla_partition.testing import guard_pruning

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
NAME = "sqlp_guardbench"


def build(admin: str) -> str:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {NAME}")
        conn.execute(f"CREATE DATABASE {NAME}")
    url = admin.rsplit("/", 1)[0] + f"/{NAME}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE events (id bigint, created_at timestamptz NOT NULL, note text) "
            "PARTITION BY RANGE (created_at)"
        )
        for i in range(24):
            y, m = 2025 + i // 12, i % 12 + 1
            ny, nm = 2025 + (i + 1) // 12, (i + 1) % 12 + 1
            conn.execute(
                f"CREATE TABLE events_{y}_{m:02d} PARTITION OF events FOR VALUES FROM "
                f"('{y}-{m:02d}-01') TO ('{ny}-{nm:02d}-01')"
            )
        conn.execute(
            "INSERT INTO events SELECT g, timestamptz '2025-01-01' + g * interval '7 hours', "
            "'n' FROM generate_series(1, 2400) g"
        )
        conn.execute("ANALYZE events")
    return url


def run(engine: sa.engine.Engine, statements: int) -> float:
    texts = [
        sa.text(f"SELECT count(*) /* {i} */ FROM events WHERE created_at >= :a AND created_at < :b")
        for i in range(100)
    ]
    started = time.perf_counter()
    with engine.connect() as conn:
        for n in range(statements):
            with conn.begin():
                month = n % 24
                y, m = 2025 + month // 12, month % 12 + 1
                conn.execute(texts[n % 100], {"a": f"{y}-{m:02d}-01", "b": f"{y}-{m:02d}-15"})
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--statements", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    url = build(args.database_url)
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    plain, guarded, plans = [], [], []
    try:
        for _ in range(args.repeat):
            plain.append(run(engine, args.statements))
            with guard_pruning(engine) as guard:
                guarded.append(run(engine, args.statements))
            plans.append(guard.planned)
    finally:
        engine.dispose()
        with psycopg.connect(args.database_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {NAME}")
    a, b = statistics.median(plain), statistics.median(guarded)
    print(f"{args.statements} statements, 100 distinct, {args.repeat} runs (medians)")
    print(f"{'without guard':<16}{a:8.2f} s")
    print(f"{'with guard':<16}{b:8.2f} s   plans made: {plans}")
    extra = (b - a) / 100 * 1000
    print(f"ratio guarded / plain: {b / a:.2f}x; per distinct statement: {extra:.1f} ms")


if __name__ == "__main__":
    main()
