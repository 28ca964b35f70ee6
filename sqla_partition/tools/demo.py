"""``sqla-partition demo``: the whole flow on a throw-away project and database."""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import io
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

MODELS = '''\
"""A sample model: events partitioned by month."""

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sqla_partition import Range


class Base(DeclarativeBase):
    pass


class Event(Base):
    __tablename__ = "events"
    __partitioning__ = Range(
        "created_at", interval="1 month", premake=3, retention="12 months", default=True
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), primary_key=True, server_default=sa.func.now()
    )
    kind: Mapped[str] = mapped_column(sa.String(50), index=True)
'''


@contextlib.contextmanager
def _in_directory(path: Path) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(path)
    sys.path.insert(0, str(path))
    try:
        yield
    finally:
        sys.path.remove(str(path))
        os.chdir(old)


def _quiet(fn: Callable[[], object]) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        fn()
    return buf.getvalue()


def _excerpt(sql_text: str) -> list[str]:
    """Whole statements, each with its lock comment: the parent, its first partition and
    its DEFAULT partition (the rest is more of the same)."""
    blocks = [b.strip() for b in sql_text.split("\n\n") if b.strip()]
    wanted = ("PARTITION BY RANGE", "PARTITION OF events FOR VALUES", "PARTITION OF events DEFAULT")
    return [next(b for b in blocks if w in b) for w in wanted if any(w in b for b in blocks)]


def _show_partitions(echo: Callable[[str], None], snap: Any) -> None:
    parent = snap.parents.get(("public", "events"))
    children = sorted(parent.children if parent else (), key=lambda c: (c.is_default, c.name))
    for child in children:
        echo(f"  {child.name:<22} {child.bound}")


def _first_uncovered_month(now: dt.datetime) -> dt.datetime:
    """The first month the migration made no partition for: premake (3) months past now's."""
    index = now.year * 12 + now.month - 1 + 4
    return dt.datetime(index // 12, index % 12 + 1, 1, tzinfo=dt.timezone.utc)


def _show_roll(echo: Callable[[str], None], database_url: str, now: dt.datetime) -> None:
    """Months later: roll creates what is due and rescues a row from DEFAULT.

    The row is dated in the first month past premake, whatever the day: it always lands
    in the DEFAULT, and the roll (in that month) always moves it out."""
    from ..catalog.connect import connect
    from ..cron.commands import run_status
    from ..cron.report import summary
    from ..cron.run import roll

    uncovered = _first_uncovered_month(now)
    stray = uncovered + dt.timedelta(days=14, hours=12)
    later = uncovered + dt.timedelta(days=15)
    with connect(database_url) as conn:
        conn.execute(
            "INSERT INTO events (created_at, kind) VALUES (%s, 'signup'), (%s, 'early')",
            (now, stray),
        )
        echo(f"\nA row dated {stray.date()}, a month without a partition yet, went to")
        echo(f"events_default. In {later:%B %Y}, as cron would:")
        echo(f"\n$ sqla-partition roll --now {later.date()}")
        report = roll(conn, later)
        echo("  " + summary(report).replace("\n", "\n  "))
    echo(f"\n$ sqla-partition status --now {later.date()}")
    run_status(database_url, later, (), False, lambda text, **_: echo("  " + text))


@contextlib.contextmanager
def _clock(now: dt.datetime) -> Iterator[None]:
    """Autogenerate's clock set to the demo's ``now`` while the demo runs."""
    old = os.environ.get("SQLA_PARTITION_NOW")
    os.environ["SQLA_PARTITION_NOW"] = now.isoformat()
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("SQLA_PARTITION_NOW", None)
        else:
            os.environ["SQLA_PARTITION_NOW"] = old


def run_demo(
    echo: Callable[[str], None],
    database_url: str | None,
    directory: Path | None,
    now: dt.datetime,
) -> Path:
    """Autogenerate and apply a partitioned table, roll it forward, show the partitions."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    from ..catalog.snapshot import read_snapshot
    from .embedded import start_embedded
    from .scaffold import init_environment

    project = Path(directory or tempfile.mkdtemp(prefix="sqla-partition-demo-")).absolute()
    project.mkdir(parents=True, exist_ok=True)
    embedded = database_url is None
    throwaway = embedded and directory is None
    if throwaway:  # registered first, so it runs after the embedded server has stopped
        atexit.register(shutil.rmtree, project, ignore_errors=True)
    if database_url is None:
        echo("Starting an embedded PostgreSQL (no server needed) ...")
        database_url = start_embedded(project / "pgdata")
    echo(f"Sample project: {project}")
    (project / "demo_models.py").write_text(MODELS)
    ini = init_environment(
        project / "migrations", metadata="demo_models:Base.metadata", url=database_url
    )
    os.environ.pop("DATABASE_URL", None)
    with _in_directory(project), _clock(now):
        cfg = Config(str(ini))
        cfg.attributes["configure_logger"] = False
        echo("\n$ alembic revision --autogenerate -m 'create events'")
        script = command.revision(cfg, message="create events", autogenerate=True)
        path = Path(script.path) if script and not isinstance(script, list) else None
        if path:
            echo(f"  wrote {path.relative_to(project)}:\n")
            body = path.read_text()
            upgrade = body[body.index("def upgrade") : body.index("def downgrade")]
            echo("  " + upgrade.strip().replace("\n", "\n  "))
        echo("\n$ alembic upgrade head --sql   (excerpt)")
        sql_text = _quiet(lambda: command.upgrade(cfg, "head", sql=True))
        for block in _excerpt(sql_text):
            for line in block.splitlines():
                echo(f"  {line}")
            echo("  …")
        echo("\n$ alembic upgrade head")
        command.upgrade(cfg, "head")
        echo("\n$ alembic check   (a second autogenerate finds nothing to do)")
        quiet = Config(str(ini), stdout=io.StringIO())
        quiet.attributes["configure_logger"] = False
        command.check(quiet)  # raises if anything were left to do
        echo("  No new upgrade operations detected.")

    engine = create_engine(database_url)
    with engine.connect() as conn:
        snap = read_snapshot(lambda q: list(conn.exec_driver_sql(q)))
    engine.dispose()
    echo("\nPartitions of events:")
    _show_partitions(echo, snap)
    _show_roll(echo, database_url, now)
    if throwaway:
        echo("\nThe sample project and its embedded PostgreSQL go when the demo ends; pass")
        echo("--dir DIR to keep the project, or --database-url to keep exploring it on a")
        echo("server of yours (cd into it and run alembic upgrade head --sql).")
        return project
    echo(f"\nThe sample project is in {project}.")
    if embedded:
        echo("The embedded PostgreSQL stops when the demo ends; with --database-url you can")
        echo("keep exploring: cd into the project and run alembic upgrade head --sql.")
    else:
        echo(f"Keep exploring: cd {project} && alembic upgrade head --sql")
    return project
