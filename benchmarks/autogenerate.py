"""Benchmark: Alembic autogenerate on many partitioned tables, with and without sqla-partition.

Why this exists: vanilla Alembic reflects every partition as an ordinary table, so on a
database with thousands of partitions ``alembic revision --autogenerate`` takes tens of
seconds and proposes a ``drop_table`` and ``drop_index`` for each partition. The
sqla-partition plugin hides partitions from reflection. This script measures how much
time that saves, against a baseline of the same parents without any partitions, and
prints the ratios from one run, so the claim "the plugin makes autogenerate at least 10x
faster, and within 3x of a database without partitions" can be checked on any machine.

It builds two databases next to the one named by ``--database-url``:

* ``<prefix>_<T>x<P>``: T partitioned parents ``t000``, ``t001``, ... with P monthly
  partitions each (``t000_p2024_01`` ...) and a recorded sqla-partition policy;
* ``<prefix>_<T>x0``: the same T parents and policies, without partitions.

The models compared against them declare the same tables with
``Range("created_at", interval="1 month", premake=3)``, so the plugin should find both
databases in sync. Four variants are measured, each run in a fresh interpreter so that
the plugin is enabled only through ``autogenerate_plugins`` and no cache carries over:

* ``vanilla/partitioned``: Alembic alone on the partitioned database;
* ``plugin/partitioned``: Alembic with ``autogenerate_plugins=[..., "sqla_partition"]``;
* ``vanilla/no-partitions`` and ``plugin/no-partitions``: the same on the database
  without partitions (``vanilla/no-partitions`` is the baseline);
* ``hidden/partitioned``: Alembic alone on the partitioned database, with an
  ``include_name`` that drops the partitions by a set of names read before the timing
  starts: what Alembic and SQLAlchemy cost there with partitions hidden at no cost, the
  floor under any plugin that hides them.

The time reported is ``produce_migrations()`` alone (``time.perf_counter`` inside the
child process); interpreter start-up, imports and connecting are reported separately.

Run it (the vanilla variant at full size takes about 30 s per run)::

    .venv/bin/python benchmarks/autogenerate.py                 # 200 x 36, 3 runs each
    .venv/bin/python benchmarks/autogenerate.py --quick         # 50 x 36, 1 run each
    .venv/bin/python benchmarks/autogenerate.py --keep          # keep the databases
    .venv/bin/python benchmarks/autogenerate.py --reuse --keep  # and reuse them next time
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common import (
    DEFAULT_URL,
    create_database,
    db_url,
    drop_database,
    load_average,
    maintenance_url,
    package_version,
    print_table_header,
    python_version,
    ratio,
    run_timed,
    sqlalchemy_url,
)

if TYPE_CHECKING:
    import psycopg
    import sqlalchemy as sa
    from alembic.operations.ops import MigrateOperation

FIRST_MONTH = (2024, 1)
PLUGINS = ["alembic.autogenerate.*", "sqla_partition"]
VARIANTS = {
    # name: (database kind, sqla-partition enabled)
    "vanilla/partitioned": ("partitioned", False),
    "plugin/partitioned": ("partitioned", True),
    "hidden/partitioned": ("partitioned", "hidden"),
    "vanilla/no-partitions": ("empty", False),
    "plugin/no-partitions": ("empty", True),
}
EXAMPLES_PER_KIND = 3


# -- the benchmark databases ----------------------------------------------------------------


def table_names(tables: int) -> list[str]:
    return [f"t{i:03d}" for i in range(tables)]


def months(count: int) -> list[tuple[int, int]]:
    """``count`` consecutive (year, month) pairs from ``FIRST_MONTH``, plus the one after."""
    year, month = FIRST_MONTH
    out = []
    for _ in range(count + 1):
        out.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def policy() -> Any:
    from sqla_partition import Range

    return Range("created_at", interval="1 month", premake=3)


def table_statements(name: str, partitions: int) -> list[psycopg.sql.Composable]:
    """The parent, its index, its partitions and its recorded policy."""
    from psycopg import sql

    from sqla_partition.sql import upsert_policy

    parent = sql.Identifier(name)
    stmts: list[sql.Composable] = [
        sql.SQL(
            "CREATE TABLE {} (id bigint NOT NULL, created_at timestamptz NOT NULL, "
            "payload text, PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at)"
        ).format(parent),
        sql.SQL("CREATE INDEX {} ON {} (payload)").format(
            sql.Identifier(f"ix_{name}_payload"), parent
        ),
    ]
    bounds = months(partitions)
    for (year, month), (next_year, next_month) in pairwise(bounds):
        stmts.append(
            sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})").format(
                sql.Identifier(f"{name}_p{year:04d}_{month:02d}"),
                parent,
                sql.Literal(f"{year:04d}-{month:02d}-01 00:00:00+00"),
                sql.Literal(f"{next_year:04d}-{next_month:02d}-01 00:00:00+00"),
            )
        )
    # sqla_partition.sql builds its statements with its own quoting; run them as they are.
    stmts.append(sql.SQL(upsert_policy(name, None, policy().to_json(), "timestamptz").sql))
    return stmts


def database_shape(url: str) -> tuple[int, int, int] | None:
    """(parents, partitions, policy rows) of an existing database, or ``None``."""
    import psycopg

    from sqla_partition.sql import policy_query, record_exists_query

    try:
        conn = psycopg.connect(url, autocommit=True)
    except psycopg.OperationalError:
        return None
    with conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM pg_partitioned_table pt JOIN pg_class c "
            "        ON c.oid = pt.partrelid WHERE NOT c.relispartition),"
            "       (SELECT count(*) FROM pg_class WHERE relispartition AND relkind IN ('r', 'p'))"
        ).fetchone()
        assert row is not None
        parents, partitions = row
        exists = conn.execute(record_exists_query()).fetchone()
        rows = len(conn.execute(policy_query()).fetchall()) if exists and exists[1] else 0
    return parents, partitions, rows


def build_database(admin_url: str, name: str, tables: int, partitions: int) -> float:
    """(Re)create database ``name`` with ``tables`` parents of ``partitions`` partitions."""
    import psycopg

    from sqla_partition.sql import create_policy_table

    started = time.perf_counter()
    create_database(admin_url, name)
    with psycopg.connect(db_url(admin_url, name)) as conn:
        conn.execute(create_policy_table().sql)
        conn.commit()
        for table in table_names(tables):
            # One transaction per table: 7,200 partitions in one would exhaust the lock table.
            for stmt in table_statements(table, partitions):
                conn.execute(stmt)
            conn.commit()
        # Outside a transaction block ANALYZE takes one transaction per table; fresh
        # statistics on the catalogs keep the reflection queries' plans representative.
        conn.autocommit = True
        conn.execute("ANALYZE")
    return time.perf_counter() - started


# -- the child process: one autogenerate run ------------------------------------------------


def build_metadata(tables: int) -> sa.MetaData:
    """The models: the same parents, declared partitioned with the benchmark's policy."""
    import sqlalchemy as sa

    from sqla_partition import partition_table

    metadata = sa.MetaData()
    for name in table_names(tables):
        table = sa.Table(
            name,
            metadata,
            sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
            sa.Column("created_at", sa.DateTime(timezone=True), primary_key=True),
            sa.Column("payload", sa.Text),
            sa.Index(f"ix_{name}_payload", "payload"),
        )
        partition_table(table, policy())
    return metadata


def _kind(op: MigrateOperation) -> str:
    """``DropTableOp`` -> ``drop_table``."""
    name = type(op).__name__.removesuffix("Op")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _describe(op: MigrateOperation) -> str:
    target = getattr(op, "index_name", None) or getattr(op, "constraint_name", None)
    table = getattr(op, "table_name", None)
    if target is None and hasattr(op, "column_name"):
        target = op.column_name
    parts = [p for p in (table, target) if p]
    return f"{_kind(op)} {'.'.join(parts)}".strip()


def flatten(ops: list[MigrateOperation]) -> list[MigrateOperation]:
    """Operations with ``ModifyTableOps`` groups opened up."""
    from alembic.operations.ops import OpContainer

    out: list[MigrateOperation] = []
    for op in ops:
        if isinstance(op, OpContainer):
            out.extend(flatten(op.ops))
        else:
            out.append(op)
    return out


def _partition_names(conn: sa.Connection) -> frozenset[str]:
    rows = conn.exec_driver_sql(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
    )
    return frozenset(name for (name,) in rows)


def run_once(url: str, tables: int, plugin: bool | str) -> dict[str, Any]:
    """One autogenerate in this process; timings in seconds and the operations produced."""
    started = time.perf_counter()
    import sqlalchemy as sa
    from alembic.autogenerate import produce_migrations
    from alembic.runtime.migration import MigrationContext

    import sqla_partition  # noqa: F401

    imported = time.perf_counter()
    metadata = build_metadata(tables)
    declared = time.perf_counter()
    engine = sa.create_engine(sqlalchemy_url(url), poolclass=sa.NullPool)
    opts: dict[str, Any] = {"compare_type": True}
    if plugin is True:
        opts["autogenerate_plugins"] = PLUGINS
    with engine.connect() as conn:
        if plugin == "hidden":
            hidden = _partition_names(conn)
            opts["include_name"] = lambda name, kind, _: kind != "table" or name not in hidden
        context = MigrationContext.configure(conn, opts=opts)
        connected = time.perf_counter()
        script = produce_migrations(context, metadata)
        done = time.perf_counter()
    engine.dispose()
    assert script.upgrade_ops is not None
    ops = flatten(script.upgrade_ops.ops)
    examples: dict[str, list[str]] = {}
    for op in ops:
        shown = examples.setdefault(_kind(op), [])
        if len(shown) < EXAMPLES_PER_KIND:
            shown.append(_describe(op))
    return {
        "import_s": imported - started,
        "models_s": declared - imported,
        "connect_s": connected - declared,
        "autogenerate_s": done - connected,
        "ops": dict(Counter(_kind(op) for op in ops)),
        "examples": examples,
    }


# -- the parent process ----------------------------------------------------------------------


@dataclass
class Result:
    variant: str
    database: str
    runs: list[dict[str, Any]] = field(default_factory=list)

    def median(self, key: str) -> float:
        return statistics.median(run[key] for run in self.runs)

    @property
    def ops(self) -> dict[str, int]:
        return self.runs[-1]["ops"] if self.runs else {}

    @property
    def ops_vary(self) -> bool:
        return any(run["ops"] != self.ops for run in self.runs)


def run_child(url: str, tables: int, plugin: bool | str) -> dict[str, Any]:
    """Run one autogenerate in a fresh interpreter and return what it measured."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", "--tables", str(tables)]
    command += ["--database-url", url]
    command += ["--hide-partitions"] if plugin == "hidden" else ["--plugin"] if plugin else []
    proc, wall = run_timed(command)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child failed ({' '.join(command)}):\n{proc.stderr}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = wall
    # What the child did not time itself: interpreter start-up, teardown, JSON.
    result["startup_s"] = wall - sum(
        result[k] for k in ("import_s", "models_s", "connect_s", "autogenerate_s")
    )
    return result


def environment() -> str:
    """Versions, the package's git state (it may be edited between runs) and the load."""
    import alembic
    import sqlalchemy

    return (
        f"sqla-partition {package_version()}, alembic {alembic.__version__}, "
        f"SQLAlchemy {sqlalchemy.__version__}, Python {python_version()}; "
        f"load average before: {load_average()}"
    )


def format_ops(ops: dict[str, int]) -> str:
    if not ops:
        return "(none)"
    return " ".join(f"{kind}={count}" for kind, count in sorted(ops.items()))


def print_table(results: list[Result]) -> None:
    header = (
        f"{'variant':<22} {'database':<18} {'runs':>4} {'median s':>9} {'min s':>8} "
        f"{'max s':>8} {'import s':>9} {'start s':>8} {'wall s':>8}  operations"
    )
    print_table_header(header)
    for r in results:
        times = [run["autogenerate_s"] for run in r.runs]
        ops = format_ops(r.ops) + (" (varied between runs)" if r.ops_vary else "")
        print(
            f"{r.variant:<22} {r.database:<18} {len(r.runs):>4} {r.median('autogenerate_s'):>9.3f} "
            f"{min(times):>8.3f} {max(times):>8.3f} {r.median('import_s'):>9.3f} "
            f"{r.median('startup_s'):>8.3f} {r.median('wall_s'):>8.3f}  {ops}"
        )


def report_unexpected(results: list[Result]) -> None:
    """Both databases are in sync with the models: any plugin operation is worth a look."""
    for r in results:
        if not r.variant.startswith("plugin") or not r.ops:
            continue
        print(f"\nnote: {r.variant} produced operations on an in-sync database:")
        for kind, shown in r.runs[-1]["examples"].items():
            print(f"  {kind} x{r.ops[kind]}: {', '.join(shown)}{' ...' if r.ops[kind] > 3 else ''}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time Alembic autogenerate on many partitioned tables, "
        "with and without sqla-partition.",
    )
    parser.add_argument(
        "--database-url",
        default=DEFAULT_URL,
        help="a PostgreSQL URL; the benchmark databases are created on this server "
        f"(postgresql:// or postgresql+psycopg://; default {DEFAULT_URL})",
    )
    parser.add_argument("--tables", type=int, help="partitioned parents (default 200)")
    parser.add_argument("--partitions", type=int, help="monthly partitions each (default 36)")
    parser.add_argument("--repeat", type=int, help="runs of each variant (default 3)")
    parser.add_argument(
        "--quick", action="store_true", help="smaller and shorter: --tables 50 --repeat 1"
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="skip setup when the databases exist with the right number of tables",
    )
    parser.add_argument("--db-prefix", default="sqlp_bench", help="prefix of the databases' names")
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help=f"comma-separated subset of: {', '.join(VARIANTS)}",
    )
    # Internal: one autogenerate run against --database-url, printed as JSON.
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--plugin", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--hide-partitions", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.tables = args.tables or (50 if args.quick else 200)
    args.partitions = 36 if args.partitions is None else args.partitions
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    if args.tables < 1 or args.tables > 1000 or args.partitions < 1 or args.repeat < 1:
        parser.error("--tables must be 1..1000; --partitions and --repeat at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        mode = "hidden" if args.hide_partitions else args.plugin
        print(json.dumps(run_once(args.database_url, args.tables, mode)))
        return 0

    admin = maintenance_url(args.database_url)
    names = {
        "partitioned": f"{args.db_prefix}_{args.tables}x{args.partitions}",
        "empty": f"{args.db_prefix}_{args.tables}x0",
    }
    shapes = {
        "partitioned": (args.tables, args.tables * args.partitions, args.tables),
        "empty": (args.tables, 0, args.tables),
    }
    needed = {VARIANTS[v][0] for v in args.variants}
    for kind in sorted(needed):
        name = names[kind]
        if args.reuse and database_shape(db_url(admin, name)) == shapes[kind]:
            print(f"reusing database {name}")
            continue
        print(f"creating database {name} ...", end=" ", flush=True)
        seconds = build_database(admin, name, args.tables, shapes[kind][1] // args.tables)
        print(f"{seconds:.1f} s")

    print(f"\n{environment()}")
    print(
        f"{args.tables} tables x {args.partitions} partitions, {args.repeat} run(s) per "
        "variant; times are produce_migrations() alone\n"
    )
    results = [Result(v, names[VARIANTS[v][0]]) for v in args.variants]
    try:
        for i in range(args.repeat):
            for r in results:
                kind, plugin = VARIANTS[r.variant]
                run = run_child(db_url(admin, names[kind]), args.tables, plugin)
                r.runs.append(run)
                print(
                    f"  run {i + 1}/{args.repeat} {r.variant:<22} "
                    f"{run['autogenerate_s']:8.3f} s  {format_ops(run['ops'])}",
                    flush=True,
                )
    finally:
        if not args.keep:
            for kind in sorted(needed):
                drop_database(admin, names[kind])
    print(f"\nload average after: {load_average()}\n")
    print_table(results)
    report_unexpected(results)

    by_name = {r.variant: r.median("autogenerate_s") for r in results}
    parts = []
    if {"vanilla/partitioned", "plugin/partitioned"} <= by_name.keys():
        vs = ratio(by_name["vanilla/partitioned"], by_name["plugin/partitioned"], ".1f")
        parts.append(f"ratio vanilla/plugin: {vs}")
    if {"plugin/partitioned", "vanilla/no-partitions"} <= by_name.keys():
        vs = ratio(by_name["plugin/partitioned"], by_name["vanilla/no-partitions"], ".1f")
        parts.append(f"plugin/no-partition baseline: {vs}")
    if {"hidden/partitioned", "vanilla/no-partitions"} <= by_name.keys():
        vs = ratio(by_name["hidden/partitioned"], by_name["vanilla/no-partitions"], ".1f")
        parts.append(f"hidden (no plugin cost)/no-partition baseline: {vs}")
    if parts:
        print("\n" + "  ".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
