"""Benchmark: splitting hash partitions 16 -> 32 while the application writes.

Why this exists: ``op.split_hash_partitions`` reshards a hash-partitioned table online.
Each old partition is copied into its two new partitions in batches while a trigger logs
the keys written meanwhile (copied again before the swap), the copy is verified, and only
then are the old partition and the new ones swapped, under an exclusive lock held for the
detach and the (scan-free) attaches. The claim to check is what writers feel: their worst
latency should stay in the milliseconds, where the obvious alternative blocks them for the
whole copy of a partition, and the online split should not take many times longer overall.
This script measures both approaches side by side on one PostgreSQL in one run and prints
the ratios.

The scenario, identical for both methods: ``accounts (tenant_id int NOT NULL, id bigint NOT
NULL, name text, balance int NOT NULL DEFAULT 0, PRIMARY KEY (tenant_id, id)) PARTITION BY
HASH (tenant_id)`` made by ``op.create_partitioned_table(..., partitioning=Hash("tenant_id",
partitions=16))`` (children ``accounts_h00`` .. ``accounts_h15``), loaded with N rows
(``--rows``, default 1,000,000: ``g % 1000, g, md5(g::text), 0`` for g in 1..N), vacuumed and
frozen in a template database. In every run each method gets its own fresh copy of that
template (``CREATE DATABASE ... TEMPLATE``; the order of the methods alternates from run to
run) and reshards it to 32 partitions while 2 writer threads, each on its own autocommit
psycopg connection, loop over a random mix: 45% INSERT of a new row (random tenant 0..999,
ids from a range of its own far above N), 45% UPDATE of the balance of a random seeded row,
10% DELETE of a random seeded row. The writers start together with the reshard and stop
when it returns; every write's latency and every failure is recorded.

1. ``sqla-partition``: ``Operations(ctx).split_hash_partitions("accounts", Hash("tenant_id",
   partitions=32), old_partitions=16, columns=[...], primary_key=[...])`` through Alembic
   on a SQLAlchemy ``postgresql+psycopg`` connection, with ``sqla_partition_lock_timeout``
   2000 ms. Its progress notices, logged on the ``sqla_partition`` logger, report how long
   each swap held writers back; the report shows the longest.
2. ``naive`` (detach/copy/attach), with psycopg, one transaction per old child r:
   ``DETACH PARTITION accounts_hRR`` (ACCESS EXCLUSIVE on the parent), two tables
   ``(LIKE accounts INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)``, ``INSERT
   ... SELECT * ... WHERE satisfies_hash_partition('accounts'::regclass, 32, r, tenant_id)``
   into one and the same for r + 16 into the other, DROP the old child, rename, ATTACH both
   ``FOR VALUES WITH (MODULUS 32, ...)``, COMMIT. Writers wait for the whole transaction;
   the report shows the longest one as its "held" time.

The report gives per method the wall time of the reshard, the writes done (and per second),
the failed writes, the p50/p99/max writer latency, the writes that took 100 ms or more, and
the longest hold and the sum of the 16 holds (each one locks the parent against every
writer). After each method the table is checked: exactly ``accounts_h00`` ..
``accounts_h31`` attached ``FOR VALUES WITH (modulus 32, remainder r)``, no ``_old``/``_new``
tables left, and ``count(*)`` equal to the seeded rows plus the writers' committed inserts
minus the rows their deletes removed (OK or MISMATCH). The summary shows medians over the
runs and the ratios naive / sqla-partition. The script prints; it asserts nothing.

Run it (about 30 seconds for 3 runs of 1,000,000 rows here)::

    .venv/bin/python benchmarks/reshard.py                    # 1,000,000 rows, 3 runs
    .venv/bin/python benchmarks/reshard.py --rows 300000 --repeat 1   # quick
    .venv/bin/python benchmarks/reshard.py --keep             # keep the databases
    .venv/bin/python benchmarks/reshard.py --database-url postgresql://user:pw@host/db

Needs a PostgreSQL server where the role may create databases (default: the local one).
Databases are named ``sqlp_reshardbench_*`` and dropped at the end unless ``--keep``; two
runs of this script at once would share them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import random
import re
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from psycopg import sql

import sqla_partition
from sqla_partition import Hash

from common import (
    DEFAULT_URL,
    connect,
    create_database,
    db_url,
    drop_database,
    fmt,
    maintenance_url,
    median,
    percentile,
    print_table_header,
    ratio,
    run_operations,
    sqlalchemy_url,
)

PREFIX = "sqlp_reshardbench"
TABLE = "accounts"
OLD, NEW = 16, 32
TENANTS = 1000
COLUMNS = ["tenant_id", "id", "name", "balance"]
PRIMARY_KEY = ["tenant_id", "id"]
WRITERS = 2
LOCK_TIMEOUT_MS = 2000
SLOW_MS = 100.0
METHODS = ("sqla-partition", "naive")
HELD = re.compile(r"held writers back for at most (\d+) ms.*after (\d+) lock timeouts")


def child(remainder: int) -> str:
    return f"{TABLE}_h{remainder:02d}"


# -- the template database ----------------------------------------------------------------


def build_template(admin_url: str, name: str, rows: int) -> float:
    """The 16-partition table made by sqla-partition, loaded, vacuumed and frozen; returns
    the seconds spent."""
    started = time.perf_counter()
    create_database(admin_url, name)
    url = db_url(admin_url, name)
    run_operations(
        url,
        lambda op: op.create_partitioned_table(
            TABLE,
            sa.Column("tenant_id", sa.Integer, nullable=False),
            sa.Column("id", sa.BigInteger, nullable=False),
            sa.Column("name", sa.Text),
            sa.Column("balance", sa.Integer, nullable=False, server_default="0"),
            sa.PrimaryKeyConstraint(*PRIMARY_KEY),
            partitioning=Hash("tenant_id", partitions=OLD),
        ),
    )
    with connect(url) as conn:
        conn.execute(
            "INSERT INTO accounts (tenant_id, id, name, balance) "
            "SELECT g %% %s, g, md5(g::text), 0 FROM generate_series(1, %s) g",
            (TENANTS, rows),
        )
        conn.execute("VACUUM (FREEZE, ANALYZE) accounts")
    return time.perf_counter() - started


# -- the writers --------------------------------------------------------------------------


class Writer(threading.Thread):
    """Inserts, updates and deletes, one per autocommit statement, timing each; counts the
    rows its committed statements added and removed."""

    def __init__(self, url: str, index: int, rows: int, go: threading.Event) -> None:
        super().__init__(daemon=True)
        self.url, self.index, self.rows, self.go = url, index, rows, go
        self.ready = threading.Event()
        self.stop = threading.Event()
        self.latencies: list[float] = []  # seconds
        self.failures: list[str] = []
        self.inserted = 0
        self.deleted = 0
        self.next_id = 10**12 + index * 10**10  # far above the seeded ids, one range each

    def step(self, conn: psycopg.Connection, rng: random.Random) -> None:
        action = rng.random()
        if action < 0.45:
            self.next_id += 1
            cur = conn.execute(
                "INSERT INTO accounts (tenant_id, id, name) VALUES (%s, %s, %s)",
                (rng.randrange(TENANTS), self.next_id, f"w{self.next_id}"),
            )
            self.inserted += cur.rowcount
            return
        key = rng.randint(1, self.rows)
        if action < 0.9:
            conn.execute(
                "UPDATE accounts SET balance = balance + 1 WHERE tenant_id = %s AND id = %s",
                (key % TENANTS, key),
            )
        else:
            cur = conn.execute(
                "DELETE FROM accounts WHERE tenant_id = %s AND id = %s", (key % TENANTS, key)
            )
            self.deleted += cur.rowcount

    def run(self) -> None:
        rng = random.Random(1000 + self.index)
        try:
            conn = connect(self.url)
        except psycopg.Error as exc:
            self.failures.append(f"connecting: {exc}")
            return
        finally:
            self.ready.set()
        self.go.wait()
        try:
            while not self.stop.is_set():
                started = time.perf_counter()
                try:
                    self.step(conn, rng)
                except psycopg.Error as exc:
                    state = getattr(exc, "sqlstate", None)
                    self.failures.append(f"{type(exc).__name__} [{state}]: {exc}")
                    if conn.broken:
                        conn = connect(self.url)
                self.latencies.append(time.perf_counter() - started)
        finally:
            conn.close()


# -- the two methods ----------------------------------------------------------------------


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@dataclass
class Reshard:
    """What a method reports about itself: the longest time it held writers back (ms) and
    the lock timeouts it retried after."""

    held_ms: list[float] = field(default_factory=list)
    lock_timeouts: int = 0
    notes: list[str] = field(default_factory=list)


def prepare_sqla(url: str) -> tuple[Callable[[], Reshard], Callable[[], None]]:
    """Connects first, so the timed part is the operation alone."""
    engine = sa.create_engine(sqlalchemy_url(url))
    conn = engine.connect()
    conn.exec_driver_sql("SELECT 1")
    conn.commit()  # Alembic's autocommit_block needs the transaction begin_transaction opens

    def run() -> Reshard:
        handler = Collect()
        logger = logging.getLogger("sqla_partition")
        level = logger.level
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        try:
            ctx = MigrationContext.configure(
                conn, opts={"sqla_partition_lock_timeout": LOCK_TIMEOUT_MS}
            )
            with ctx.begin_transaction():
                Operations(ctx).split_hash_partitions(
                    TABLE,
                    Hash("tenant_id", partitions=NEW),
                    old_partitions=OLD,
                    columns=COLUMNS,
                    primary_key=PRIMARY_KEY,
                )
            conn.commit()
        finally:
            logger.removeHandler(handler)
            logger.setLevel(level)
        result = Reshard(notes=handler.messages)
        for message in handler.messages:
            match = HELD.search(message)
            if match:
                result.held_ms.append(float(match.group(1)))
                result.lock_timeouts += int(match.group(2))
        if len(result.held_ms) != OLD:
            result.notes.append(f"expected {OLD} swap notices, got {len(result.held_ms)}")
        return result

    def close() -> None:
        conn.close()
        engine.dispose()

    return run, close


def naive_statements(r: int) -> list[sql.Composable]:
    old, keep, new = child(r), f"{child(r)}_new", child(r + OLD)
    like = "(LIKE accounts INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)"
    stmts: list[sql.Composable] = [
        sql.SQL("ALTER TABLE accounts DETACH PARTITION {}").format(sql.Identifier(old))
    ]
    for target in (keep, new):
        stmts.append(sql.SQL("CREATE TABLE {} " + like).format(sql.Identifier(target)))
    for target, remainder in ((keep, r), (new, r + OLD)):
        stmts.append(
            sql.SQL(
                "INSERT INTO {} SELECT * FROM {} "
                "WHERE satisfies_hash_partition('accounts'::regclass, {}, {}, tenant_id)"
            ).format(
                sql.Identifier(target),
                sql.Identifier(old),
                sql.Literal(NEW),
                sql.Literal(remainder),
            )
        )
    stmts.append(sql.SQL("DROP TABLE {}").format(sql.Identifier(old)))
    stmts.append(
        sql.SQL("ALTER TABLE {} RENAME TO {}").format(sql.Identifier(keep), sql.Identifier(old))
    )
    for target, remainder in ((old, r), (new, r + OLD)):
        stmts.append(
            sql.SQL(
                "ALTER TABLE accounts ATTACH PARTITION {} "
                "FOR VALUES WITH (MODULUS {}, REMAINDER {})"
            ).format(sql.Identifier(target), sql.Literal(NEW), sql.Literal(remainder))
        )
    return stmts


def prepare_naive(url: str) -> tuple[Callable[[], Reshard], Callable[[], None]]:
    conn = connect(url, autocommit=False)
    conn.execute("SELECT 1")
    conn.commit()

    def run() -> Reshard:
        result = Reshard()
        for r in range(OLD):
            started = time.perf_counter()
            with conn.transaction():
                for stmt in naive_statements(r):
                    conn.execute(stmt)
            result.held_ms.append((time.perf_counter() - started) * 1000)
        return result

    return run, conn.close


PREPARE = {"sqla-partition": prepare_sqla, "naive": prepare_naive}


# -- one measurement ----------------------------------------------------------------------


@dataclass
class Measurement:
    method: str
    run: int
    total_s: float = 0.0
    writes: int = 0
    failed: int = 0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    slow: int = 0
    held_ms: float | None = None
    held_sum_ms: float | None = None
    lock_timeouts: int = 0
    check: str = "-"
    error: str | None = None
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def writes_per_s(self) -> float:
        return self.writes / self.total_s if self.total_s else 0.0


def verify(url: str, expected_rows: int) -> tuple[str, list[str]]:
    """OK when the table has exactly the 32 new children, no leftovers and the rows the
    writers' committed statements imply; else MISMATCH and why."""
    problems: list[str] = []
    with connect(url) as conn:
        bounds = dict(
            conn.execute(
                "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
                "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'accounts'::regclass"
            ).fetchall()
        )
        wanted = {child(r): f"FOR VALUES WITH (modulus {NEW}, remainder {r})" for r in range(NEW)}
        if bounds != wanted:
            wrong = sorted((n, b) for n, b in bounds.items() if wanted.get(n) != b)
            missing = sorted(set(wanted) - set(bounds))
            problems.append(
                f"{len(bounds)} children; unexpected: {wrong[:4]}; missing: {missing[:4]}"
            )
        leftovers = [
            name
            for (name,) in conn.execute(
                "SELECT relname FROM pg_class WHERE relname ~ '^accounts_h[0-9]+_(old|new)$' "
                "UNION ALL SELECT proname FROM pg_proc WHERE proname LIKE 'sqla_partition_split%'"
            ).fetchall()
        ]
        if leftovers:
            problems.append(f"left over: {', '.join(sorted(leftovers))}")
        (count,) = conn.execute("SELECT count(*) FROM accounts").fetchone() or (0,)
        if count != expected_rows:
            problems.append(f"count(*) {count} != {expected_rows} expected")
    return ("MISMATCH" if problems else "OK"), problems


def measure(args: argparse.Namespace, method: str, run: int, template: str) -> Measurement:
    name = f"{PREFIX}_{method.replace('-', '_')}"
    create_database(args.database_url, name, template)
    url = db_url(args.database_url, name)
    with connect(url) as conn:  # the same warm start for both
        conn.execute("SELECT count(*) FROM accounts")
    m = Measurement(method, run)
    reshard, close = PREPARE[method](url)
    go = threading.Event()
    writers = [Writer(url, i, args.rows, go) for i in range(WRITERS)]
    for w in writers:
        w.start()
    for w in writers:
        w.ready.wait()
    result = Reshard()
    go.set()
    started = time.perf_counter()
    try:
        result = reshard()
    except Exception:
        m.error = traceback.format_exc()
    m.total_s = time.perf_counter() - started
    for w in writers:
        w.stop.set()
    for w in writers:
        w.join()
    close()

    latencies = sorted(x * 1000 for w in writers for x in w.latencies)
    m.failures = [f for w in writers for f in w.failures]
    m.writes = len(latencies) - len(m.failures)
    m.failed = len(m.failures)
    m.p50_ms = percentile(latencies, 0.50)
    m.p99_ms = percentile(latencies, 0.99)
    m.max_ms = latencies[-1] if latencies else 0.0
    m.slow = sum(1 for x in latencies if x >= SLOW_MS)
    m.held_ms = max(result.held_ms) if result.held_ms else None
    m.held_sum_ms = sum(result.held_ms) if result.held_ms else None
    m.lock_timeouts = result.lock_timeouts
    m.notes = result.notes
    expected = args.rows + sum(w.inserted - w.deleted for w in writers)
    m.check, problems = verify(url, expected)
    m.notes += problems
    if not args.keep:
        drop_database(args.database_url, name)
    return m


# -- the report ---------------------------------------------------------------------------

HEADER = (
    f"{'method':<16}{'runs':>5}{'total s':>9}{'writes':>8}{'writes/s':>10}{'failed':>8}"
    f"{'p50 ms':>8}{'p99 ms':>9}{'max ms':>9}{'>=100ms':>8}{'held ms':>9}{'held sum':>10}  check"
)


def row(label: str, runs: str, values: dict[str, float | None], check: str) -> str:
    def num(key: str, spec: str) -> str:
        return fmt(values.get(key), spec)

    return (
        f"{label:<16}{runs:>5}{num('total_s', '.2f'):>9}{num('writes', '.0f'):>8}"
        f"{num('writes_per_s', '.1f'):>10}{num('failed', '.0f'):>8}{num('p50_ms', '.2f'):>8}"
        f"{num('p99_ms', '.1f'):>9}{num('max_ms', '.1f'):>9}{num('slow', '.0f'):>8}"
        f"{num('held_ms', '.0f'):>9}{num('held_sum_ms', '.0f'):>10}  {check}"
    )


KEYS = ("total_s", "writes", "writes_per_s", "failed", "p50_ms", "p99_ms", "max_ms", "slow")


def values_of(m: Measurement) -> dict[str, float | None]:
    values: dict[str, float | None] = {k: float(getattr(m, k)) for k in KEYS}
    values["held_ms"] = m.held_ms
    values["held_sum_ms"] = m.held_sum_ms
    return values


def medians(ms: list[Measurement]) -> dict[str, float | None]:
    valid = [m for m in ms if m.error is None]
    if not valid:
        return {}
    out = {k: median(getattr(m, k) for m in valid) for k in KEYS}
    for key in ("held_ms", "held_sum_ms"):
        out[key] = median(getattr(m, key) for m in valid)
    return out


def print_run(m: Measurement) -> None:
    check = m.check if m.error is None else f"{m.check}, RESHARD FAILED"
    extra = f", {m.lock_timeouts} lock timeouts" if m.method == "sqla-partition" else ""
    print(row(m.method, str(m.run), values_of(m), check + extra), flush=True)
    for note in m.notes:
        if not HELD.search(note) and "copied" not in note:
            print(f"    note: {note}")
    if m.error:
        print("    the reshard raised:\n" + "\n".join("      " + x for x in m.error.splitlines()))
    for text, n in Counter(m.failures).most_common():
        print(f"    failed write x{n}: {text.strip()}")


def report(args: argparse.Namespace, results: dict[str, list[Measurement]]) -> None:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"\nreshard {TABLE} {OLD} -> {NEW} hash partitions, {args.rows:,} rows, {WRITERS} writers"
        f"; medians of {args.repeat} runs ({stamp})"
    )
    print_table_header(HEADER)
    med: dict[str, dict[str, float | None]] = {}
    for method in METHODS:
        ms = results[method]
        med[method] = medians(ms)
        ok = sum(1 for m in ms if m.check == "OK" and m.error is None)
        check = (
            f"OK {ok}/{len(ms)}" if ok == len(ms) else f"MISMATCH/FAILED {len(ms) - ok}/{len(ms)}"
        )
        failed = sum(1 for m in ms if m.error is not None)
        runs = str(len(ms) - failed)
        print(row(method, runs, med[method], check))
    print(
        "held ms: sqla-partition, the longest swap its notices report (lock wait included);\n"
        "  naive, the longest detach/copy/attach transaction. held sum: the 16 of them added\n"
        "  up, the time the parent was locked against every writer"
    )
    naive, online = med["naive"], med["sqla-partition"]
    print("\nratios naive / sqla-partition (medians)")
    for label, key in (
        ("max writer latency", "max_ms"),
        ("p99 writer latency", "p99_ms"),
        ("longest hold", "held_ms"),
        ("sum of holds", "held_sum_ms"),
        ("total reshard time", "total_s"),
        ("writes per second", "writes_per_s"),
    ):
        print(f"  {label:<22}{ratio(naive.get(key), online.get(key)):>10}")


# -- main ---------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--database-url", default=DEFAULT_URL, help="server (and admin database)")
    p.add_argument("--rows", type=int, default=1_000_000, help="seeded rows (default 1000000)")
    p.add_argument("--repeat", type=int, default=3, help="runs of each method (default 3)")
    p.add_argument("--keep", action="store_true", help="keep the databases at the end")
    args = p.parse_args(argv)
    args.database_url = maintenance_url(args.database_url)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sqla_partition.register()
    template = f"{PREFIX}_tmpl_{args.rows}"
    print(f"building {template} ...", end="", flush=True)
    print(f" {build_template(args.database_url, template, args.rows):.0f} s")
    results: dict[str, list[Measurement]] = {method: [] for method in METHODS}
    print_table_header(HEADER.replace("runs", " run"))
    try:
        for run in range(1, args.repeat + 1):
            order = METHODS if run % 2 else tuple(reversed(METHODS))
            for method in order:
                m = measure(args, method, run, template)
                results[method].append(m)
                print_run(m)
    finally:
        if not args.keep:
            drop_database(args.database_url, template)
    report(args, results)


if __name__ == "__main__":
    main()
