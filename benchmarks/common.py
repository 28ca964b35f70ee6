"""What the benchmark scripts share: databases, timed processes, statistics, tables, facts.

Every script in this folder builds its own databases next to the one ``--database-url``
names, times what it measures, prints medians and ratios in fixed-width tables and heads its
report with the versions and machine facts that make two reports comparable. This module
holds those helpers once, so that the scripts differ only in what they measure. The scripts
are run as ``.venv/bin/python benchmarks/NAME.py`` (this folder is then on ``sys.path``) and
import it as ``common``.

Only the standard library modules that ``autogenerate.py`` imports anyway are imported here
at the top: its child process times its own imports of SQLAlchemy, Alembic and
sqla-partition, so psycopg, SQLAlchemy, Alembic, ``urllib.parse`` and sqla-partition are
imported inside the functions that need them.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg
    from alembic.operations import Operations

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
#: the settings every report's server line shows (``server_text``)
SERVER_SETTINGS = ("server_version", "shared_buffers", "synchronous_commit", "fsync")


# -- URLs -----------------------------------------------------------------------------------


def db_url(url: str, name: str | None = None, driver: str = "postgresql") -> str:
    """``url`` pointing at database ``name`` (or at its own), with the scheme ``driver``:
    ``postgresql`` for psycopg and psql, ``postgresql+psycopg`` for SQLAlchemy."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.scheme.split("+")[0] not in ("postgresql", "postgres"):
        raise SystemExit(f"--database-url must be a postgresql:// URL, got {url!r}")
    path = parts.path if name is None else "/" + name
    return urlunsplit((driver, parts.netloc, path, parts.query, ""))


def maintenance_url(url: str) -> str:
    """``--database-url`` as a ``postgresql://`` URL of the database the scripts connect to
    for creating and dropping theirs (``postgres`` when it names none)."""
    from urllib.parse import urlsplit

    return db_url(url, urlsplit(url).path[1:] or "postgres")


def sqlalchemy_url(url: str, name: str | None = None) -> str:
    """A ``postgresql+psycopg://`` URL for SQLAlchemy (accepts ``postgresql://``)."""
    return db_url(url, name, "postgresql+psycopg")


# -- databases ------------------------------------------------------------------------------


def connect(url: str, *, autocommit: bool = True) -> psycopg.Connection:
    """A psycopg connection; autocommit by default, as creating databases and VACUUM need."""
    import psycopg

    return psycopg.connect(url, autocommit=autocommit)


def drop_database(admin: str, name: str) -> None:
    """Drop ``name`` if it exists, disconnecting whoever is still connected."""
    from psycopg import sql

    with connect(admin) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def create_database(admin: str, name: str, template: str | None = None) -> None:
    """(Re)create ``name``, empty or as a copy of ``template``; retries while autovacuum
    still holds a connection to the template."""
    import psycopg
    from psycopg import sql

    drop_database(admin, name)
    stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        stmt = sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
            sql.Identifier(name), sql.Identifier(template)
        )
    with connect(admin) as conn:
        for attempt in range(60):
            try:
                conn.execute(stmt)
                return
            except psycopg.errors.ObjectInUse:
                if attempt == 59:
                    raise
                time.sleep(1)


def mark_complete(admin: str, name: str, marker: str) -> None:
    """Comment database ``name`` with ``marker`` once its build finished, so that a later
    ``--reuse`` never copies a template whose build was interrupted."""
    from psycopg import sql

    with connect(admin) as conn:
        conn.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(name), sql.Literal(marker)
            )
        )


def database_exists(admin: str, name: str, marker: str) -> bool:
    """Whether ``name`` exists and was marked complete with ``marker``."""
    with connect(admin) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (name,),
        ).fetchone()
    return row is not None and row[0] == marker


def run_operations(url: str, apply: Callable[[Operations], None]) -> None:
    """Run Alembic operations, as a migration would, in one transaction on database ``url``:
    the benchmarks build their tables with the package's own operations."""
    import sqlalchemy as sa
    from alembic.migration import MigrationContext
    from alembic.operations import Operations
    from sqlalchemy.pool import NullPool

    engine = sa.create_engine(sqlalchemy_url(url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn)
            with ctx.begin_transaction():
                apply(Operations(ctx))
            conn.commit()
    finally:
        engine.dispose()


# -- processes ------------------------------------------------------------------------------


def run_timed(
    command: list[str], env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``command`` to its end with its output captured; returns it and its wall time in
    seconds, start-up included, which is what cron or a shell pays."""
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    return done, time.perf_counter() - started


def output_of(*command: str) -> str:
    """What ``command`` prints on stdout, stripped ("" when it fails)."""
    return subprocess.run(command, capture_output=True, text=True, check=False).stdout.strip()


# -- statistics and their formatting --------------------------------------------------------


def median(values: Iterable[float | None]) -> float | None:
    """The median of the values that are not ``None`` (a failed run), or ``None``."""
    valid = [v for v in values if v is not None]
    return statistics.median(valid) if valid else None


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return 0.0
    rank = max(1, -(-len(sorted_values) * fraction // 1))
    return sorted_values[int(rank) - 1]


def fmt(value: float | None, spec: str = ".3f", suffix: str = "") -> str:
    """``value`` formatted, ``-`` when there is none."""
    return "-" if value is None else f"{value:{spec}}{suffix}"


def us(seconds: float | None) -> str:
    """Seconds as microseconds, one decimal."""
    return fmt(None if seconds is None else seconds * 1e6, ".1f")


def ratio_text(value: float | None, spec: str = ".2f") -> str:
    """A ratio as ``1.23x``."""
    return fmt(value, spec, "x")


def ratio(a: float | None, b: float | None, spec: str = ".2f") -> str:
    """``a / b`` as ``1.23x``; ``-`` when either is missing or ``b`` is 0."""
    if a is None or b is None or b == 0:
        return "-"
    return ratio_text(a / b, spec)


# -- printing -------------------------------------------------------------------------------


def print_table_header(*lines: str) -> None:
    """A result table's header line(s) and a rule as wide as the first."""
    for line in lines:
        print(line)
    print("-" * len(lines[0]))


def print_facts(facts: dict[str, str]) -> None:
    """The environment, one ``  key: value`` line each."""
    for key, value in facts.items():
        print(f"  {key}: {value}")


# -- environment facts ----------------------------------------------------------------------


def package_dir() -> Path:
    """The sqla_partition package being measured (a checkout, or a copy on PYTHONPATH)."""
    import sqla_partition

    return Path(sqla_partition.__file__).resolve().parent


def sources_hash() -> str:
    """sqla-partition's sources, hashed: the package may be edited while a benchmark runs.
    Its subpackages count too (a flat package hashes as it did before it had any)."""
    digest = hashlib.sha256()
    for path in sorted(package_dir().rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def git_state() -> str:
    """The commit of sqla-partition's checkout and whether its sources differ from it."""
    package = str(package_dir())
    head = output_of("git", "-C", package, "rev-parse", "--short", "HEAD") or "?"
    dirty = output_of("git", "-C", package, "status", "--porcelain", "--", package)
    return f"git {head}" + (" + uncommitted changes" if dirty else "")


def package_version() -> str:
    """sqla-partition's version, git state and sources hash, as each report states it."""
    import sqla_partition

    return f"{sqla_partition.__version__} ({git_state()}, sources sha256 {sources_hash()})"


def server_settings(admin: str, names: Iterable[str]) -> dict[str, Any]:
    """The server's settings ``names`` (those of them that exist)."""
    with connect(admin) as conn:
        rows = conn.execute(
            "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)", (list(names),)
        ).fetchall()
    return dict(rows)


def server_text(facts: dict[str, Any]) -> str:
    """The server line of a report, from ``server_settings`` with at least ``SERVER_SETTINGS``
    (and ``autovacuum`` when it was asked for)."""
    extra = f", autovacuum {facts['autovacuum']}" if "autovacuum" in facts else ""
    return (
        f"PostgreSQL {facts.get('server_version')} (shared_buffers "
        f"{facts.get('shared_buffers')} x 8kB, synchronous_commit "
        f"{facts.get('synchronous_commit')}, fsync {facts.get('fsync')}{extra})"
    )


def load_average() -> str:
    """The 1/5/15-minute load averages: other work on the machine skews the timings."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def python_version() -> str:
    """The interpreter's version, as ``3.11.7``."""
    return sys.version.split()[0]
