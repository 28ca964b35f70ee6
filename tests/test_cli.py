"""The command line: init, demo, and one clear line for every user mistake."""

from __future__ import annotations

import subprocess
import sys

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from sqla_partition.catalog.snapshot import read_snapshot
from sqla_partition.cli import main

from . import clock


def test_help_explains_the_commands():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "init" in result.output and "demo" in result.output
    init_help = CliRunner().invoke(main, ["init", "--help"]).output
    assert "--metadata" in init_help and "async" in init_help


def test_init_writes_a_wired_environment(tmp_path):
    result = CliRunner().invoke(
        main,
        [
            "init",
            str(tmp_path / "migrations"),
            "--metadata",
            "app.models:Base.metadata",
            "--url",
            "postgresql+asyncpg://u:p%40ss@db/app",
        ],
    )
    assert result.exit_code == 0, result.output
    ini = (tmp_path / "alembic.ini").read_text()
    assert "target_metadata = app.models:Base.metadata" in ini
    assert "sqlalchemy.url = postgresql+asyncpg://u:p%%40ss@db/app" in ini
    assert "script_location = %(here)s/migrations" in ini
    env = (tmp_path / "migrations" / "env.py").read_text()
    assert '"sqla_partition"' in env and "run_async_migrations" in env
    assert (tmp_path / "migrations" / "versions").is_dir()


def test_without_a_url_alembic_says_what_to_set(tmp_path, monkeypatch):
    import subprocess
    import sys

    result = CliRunner().invoke(main, ["init", str(tmp_path / "migrations")])
    assert result.exit_code == 0, result.output
    ini = (tmp_path / "alembic.ini").read_text()
    assert "sqlalchemy.url =\n" in ini  # never the maintenance database by default
    monkeypatch.delenv("DATABASE_URL", raising=False)
    env = {k: v for k, v in __import__("os").environ.items() if k != "DATABASE_URL"}
    run = subprocess.run(
        [sys.executable, "-m", "alembic", "current"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
    )
    assert run.returncode != 0
    assert run.stderr.strip().splitlines()[-1].startswith("error: no database: set DATABASE_URL")
    assert "Traceback" not in run.stderr
    env["DATABASE_URL"] = "postgresql://nobody@127.0.0.1:1/none"
    run = subprocess.run(
        [sys.executable, "-m", "alembic", "current"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
    )
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("error: alembic.ini: target_metadata = myapp.models:Base.metadata")
    assert "no module 'myapp'" in last and "Traceback" not in run.stderr


def test_init_refuses_to_overwrite(tmp_path):
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "env.py").write_text("# mine")
    result = CliRunner().invoke(main, ["init", str(tmp_path / "migrations")])
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and "not empty" in result.output
    assert "Traceback" not in result.output


@pytest.mark.clock
def test_demo_against_a_server(tmp_path, db_url):
    args = ["--database-url", db_url, "--dir", str(tmp_path), "--now", clock.NOW.isoformat()]
    result = CliRunner().invoke(main, ["demo", *args])
    assert result.exit_code == 0, result.output
    assert "op.create_partitioned_table('events'" in result.output
    assert "No new upgrade operations detected." in result.output
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        snap = read_snapshot(lambda q: list(conn.exec_driver_sql(q)))
    engine.dispose()
    events = snap.parents[("public", "events")]
    assert len(events.ranges()) == 8 and events.default is not None  # rolled 4 months on
    assert "moved 1 row out of DEFAULT" in result.output  # the demo's story, on any day
    assert f"events_{clock.suffix(4)}" in result.output.split("sqla-partition roll")[-1]


def test_demo_on_the_embedded_server(tmp_path):
    # the README's first command, as a user runs it
    import os
    import shutil
    import tempfile
    from pathlib import Path

    # a short temporary directory: the server's socket path must fit in 107 bytes
    scratch = Path(tempfile.mkdtemp(prefix="sqd", dir="/tmp"))
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "sqla_partition.cli", "demo"],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "TMPDIR": str(scratch)},
        )
        assert proc.returncode == 0, proc.stderr
        assert not list(scratch.glob("sqla-partition-demo-*"))  # nothing left behind
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    assert "Starting an embedded PostgreSQL" in proc.stdout
    assert "events_default" in proc.stdout and "_p20" in proc.stdout
    assert "moved 1 row out of DEFAULT" in proc.stdout  # by the real clock, as users see it
    assert "Warning" not in proc.stdout + proc.stderr  # no dependency's warning
    # the SQL excerpt shows whole statements: the parent's begins with CREATE TABLE
    excerpt = proc.stdout.split("(excerpt)")[1].split("$ alembic upgrade head\n")[0]
    assert excerpt.lstrip().startswith("-- ACCESS EXCLUSIVE on events: the table is new")
    assert "\n  CREATE TABLE events (" in excerpt  # whole statements, each with its lock


@pytest.mark.parametrize(
    "url",
    ["postgresql+psycopg://nobody@127.0.0.1:1/none", "not a url"],
)
def test_unreachable_or_bad_database_is_one_line(tmp_path, url):
    result = CliRunner().invoke(main, ["demo", "--database-url", url, "--dir", str(tmp_path)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("error: ")
    assert "Traceback" not in result.output


def test_json_commands_say_a_refusal_in_json():
    """A scheduler that parses --json output parses the error too, and sees exit 2."""
    import json

    url = "postgresql://nobody:hunter2@127.0.0.1:1/none"
    for command in (["roll", "--json"], ["status", "--json"]):
        result = CliRunner().invoke(main, [*command, "--database-url", url])
        assert result.exit_code == 2, result.output
        said = json.loads(result.output)
        assert said["exit_code"] == 2 and "127.0.0.1" in said["error"]
        assert "hunter2" not in result.output


def test_the_applications_asyncpg_url_works(db_url):
    """The URL the application and Alembic use, with asyncpg's own parameters: ssl= is
    libpq's sslmode, the statement cache setting is left out with a note."""
    from sqlalchemy.engine import make_url

    url = (
        make_url(db_url)
        .set(drivername="postgresql+asyncpg")
        .update_query_dict({"ssl": "disable", "prepared_statement_cache_size": "0"})
    )  # (a socket URL keeps its host= for the embedded server)
    text = url.render_as_string(hide_password=False)
    for command in (["status"], ["check", "--allow-empty"], ["roll", "--dry-run"]):
        result = CliRunner().invoke(main, [*command, "--database-url", text])
        assert result.exit_code == 0, result.output
        said = result.output + (result.stderr if hasattr(result, "stderr") else "")
        assert "only asyncpg knows are left out: prepared_statement_cache_size" in said
