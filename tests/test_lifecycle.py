"""Two years in the life of one table: ``roll --now`` walked forward 24 months and back,
with schema and policy changes between runs, a writer inserting throughout (into the
current period, ahead of premake, and far ahead into the DEFAULT), rows placed far outside
every range, and ``downgrade base`` / ``upgrade head`` at the end.

What must hold: no write fails, no archive is attached again behind the operator's back,
every row written is found exactly once (in the table or in an archive), and after
``downgrade base`` nothing of sqla-partition is left in the database.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import textwrap
import threading
import time

import psycopg
import pytest
from click.testing import CliRunner

from sqla_partition.cli import main

from .alembic_project import models_project

UTC = dt.timezone.utc

MODELS = textwrap.dedent(
    """
    import os

    import sqlalchemy as sa
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

    from sqla_partition import Range


    class Base(DeclarativeBase):
        pass


    class User(Base):
        __tablename__ = "users"
        id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)


    class Event(Base):
        __tablename__ = "events"
        __partitioning__ = Range(
            "created_at",
            premake=int(os.environ["LC_PREMAKE"]),
            retention=os.environ["LC_RETENTION"],
            default=True,
        )
        id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
        created_at = mapped_column(sa.DateTime(timezone=True), primary_key=True)
        user_id = mapped_column(sa.ForeignKey("users.id"), nullable=False)
        note = mapped_column(sa.Text)
        if os.environ.get("LC_SOURCE"):
            source = mapped_column(sa.Text)
    """
)

START = dt.datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def months_after(moment: dt.datetime, months: int) -> dt.datetime:
    index = moment.year * 12 + moment.month - 1 + months
    return moment.replace(year=index // 12, month=index % 12 + 1)


class Writer(threading.Thread):
    """One row per transaction, round robin: in the current period, just past premake
    (the DEFAULT until a roll attaches that period, while this goes on writing into it),
    and years ahead (the DEFAULT until placed). Keeps every id it committed."""

    def __init__(self, dsn: str):
        super().__init__(daemon=True)
        self.dsn = dsn
        self.clock = START
        self.premake = 2
        self.stop = threading.Event()
        self.ids: list[int] = []
        self.failures: list[str] = []

    def _moment(self, n: int) -> dt.datetime:
        kind = n % 3
        if kind == 0:
            return self.clock
        if kind == 1:
            return months_after(self.clock, self.premake + 1)
        return months_after(self.clock, 48)

    def run(self) -> None:
        n = 0
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self.stop.is_set():
                try:
                    row = conn.execute(
                        "INSERT INTO events (created_at, user_id, note) VALUES (%s, 1, 'w') "
                        "RETURNING id",
                        (self._moment(n),),
                    ).fetchone()
                    assert row is not None
                    self.ids.append(row[0])
                except psycopg.Error as exc:
                    self.failures.append(str(exc).splitlines()[0])
                n += 1
                time.sleep(0.002)


def roll(db_url: str, now: dt.datetime, *extra: str) -> tuple[int, dict]:
    args = ["roll", "--database-url", db_url, "--now", now.isoformat(), "--json", *extra]
    result = CliRunner().invoke(main, args)
    return result.exit_code, json.loads(result.output)


def archives(pg: psycopg.Connection) -> dict[str, str]:
    """Recorded archives that exist: name → schema."""
    rows = pg.execute(
        "SELECT r.partition_name, r.partition_schema "
        "FROM sqla_partition.sqla_partition_partitions r "
        "JOIN pg_class c ON c.relname = r.partition_name "
        "JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = r.partition_schema "
        "WHERE NOT c.relispartition"
    ).fetchall()
    return dict(rows)


def ours(pg: psycopg.Connection) -> list[str]:
    rows = pg.execute(
        "SELECT relname FROM pg_class WHERE relname LIKE 'events%' OR relname LIKE 'users%' "
        "OR relname LIKE 'sqla_partition%' UNION ALL "
        "SELECT proname FROM pg_proc WHERE proname LIKE 'sqla_partition%' UNION ALL "
        "SELECT nspname FROM pg_namespace WHERE nspname = 'sqla_partition' ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]


@pytest.fixture
def project(tmp_path, db_url, monkeypatch):
    monkeypatch.setenv("LC_PREMAKE", "2")
    monkeypatch.setenv("LC_RETENTION", "6 months")
    with models_project(tmp_path, db_url, monkeypatch, "lifecycle_models", MODELS) as p:
        yield p


def test_two_years_forward_and_back(project, db_url, pg, monkeypatch):
    def migrate(now: dt.datetime, message: str) -> str:
        monkeypatch.setenv("SQLA_PARTITION_NOW", now.isoformat())
        sys.modules.pop("lifecycle_models", None)  # the models read the environment again
        text = project.revision(message)
        project.upgrade()
        return text

    first = migrate(START, "events")
    assert "archives='refuse'" in first  # the downgrade says what happens to archives
    pg.execute("INSERT INTO users (id) VALUES (1)")
    writer = Writer(pg.info.dsn)
    writer.start()
    changes = {
        5: ("LC_SOURCE", "1", "add_column"),
        8: ("LC_RETENTION", "12 months", "set_partition_policy"),
        12: ("LC_PREMAKE", "4", "set_partition_policy"),
        16: ("LC_RETENTION", "3 months", "set_partition_policy"),
    }
    try:
        for month in range(24):
            now = months_after(START, month)
            writer.clock = now
            time.sleep(0.05)  # rows of the new month, some into the DEFAULT, before roll
            if month in changes:
                variable, value, operation = changes[month]
                monkeypatch.setenv(variable, value)
                assert f"op.{operation}(" in migrate(now, f"month {month}")
                writer.premake = int(value) if variable == "LC_PREMAKE" else writer.premake
            extra = ("--place-default", "--expired", "archive") if month == 20 else ()
            code, out = roll(db_url, now, *extra)
            assert code == 0, (month, out)
            if month == 20:  # the rows years ahead got their partitions
                assert out["tables"][0]["moved_rows"] > 0
        forward = archives(pg)
        assert len(forward) >= 10  # retention detached many months, each one recorded

        for month in range(23, -1, -4):  # the clock goes back
            now = months_after(START, month)
            writer.clock = now
            time.sleep(0.05)
            code, out = roll(db_url, now)
            errors = [e for t in out["tables"] for e in t.get("errors", [])]
            assert code in (0, 1), out
            # a period needed again whose archive holds its name: refused, never re-used
            assert all("was not created" in e and "reattach" in e for e in errors), errors
    finally:
        writer.stop.set()
        writer.join(10)

    assert writer.failures == []
    assert len(writer.ids) > 300
    # no archive came back without the explicit reattach
    assert archives(pg) == forward
    # every row written is in the table or in an archive, exactly once
    found = [r[0] for r in pg.execute("SELECT id FROM events").fetchall()]
    for name, schema in forward.items():
        table = psycopg.sql.Identifier(schema, name)
        query = psycopg.sql.SQL("SELECT id FROM {}").format(table)
        found += [r[0] for r in pg.execute(query).fetchall()]
    assert sorted(found) == sorted(writer.ids)
    # archives lost the foreign keys they inherited: a user referenced only there can go
    keys = pg.execute(
        "SELECT count(*) FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid "
        "WHERE c.contype = 'f' AND NOT t.relispartition AND t.relname LIKE 'events_p%'"
    ).fetchone()
    assert keys == (0,)

    # the first migration's downgrade refuses to drop a table with archives...
    with pytest.raises(Exception, match="archived partition"):
        project.downgrade("base")
    assert pg.execute("SELECT to_regclass('events')").fetchone() == ("events",)
    assert archives(pg) == forward
    # ...until its author chooses what happens to them
    (path,) = [p for p in project.versions() if "archives='refuse'" in p.read_text()]
    path.write_text(path.read_text().replace("archives='refuse'", "archives='drop'"))
    project.downgrade("base")
    assert ours(pg) == []
    project.upgrade()
    assert "events" in ours(pg) and "sqla_partition_policy" in ours(pg)
