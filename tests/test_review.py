"""What a DBA reviews: golden offline SQL, clean under lint and squawk, and honest locks.

Set SQLA_PARTITION_UPDATE_GOLDEN=1 to rewrite the golden files after an intended change.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pglast
import pytest
from click.testing import CliRunner

from sqla_partition import Range
from sqla_partition.cli import main
from sqla_partition.tools.lint import lint_sql

from .golden_sql import render_all
from .test_roll import make_table

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("SQLA_PARTITION_UPDATE_GOLDEN") == "1"


def roll_dry_run(db_url: str) -> str:
    make_table(db_url, Range("created_at", premake=3, retention="3 months", default=True))
    import psycopg

    from .conftest import _libpq

    with psycopg.connect(_libpq(db_url), autocommit=True) as conn:  # a row to rescue
        conn.execute("INSERT INTO events (created_at, note) VALUES ('2027-05-02', 'early')")
        # a foreign key its archives lose when detached
        conn.execute("CREATE TABLE accounts (id int PRIMARY KEY)")
        conn.execute("ALTER TABLE events ADD COLUMN account_id int REFERENCES accounts")
    make_table(
        db_url,
        Range("created_at", premake=2, retention="2 months", on_expire="drop"),
        name="audit_log",
    )
    make_table(
        db_url,
        Range("created_at", premake=1, retention="2 months", archive_schema="archive"),
        name="clicks",
    )
    result = CliRunner().invoke(
        main, ["roll", "--database-url", db_url, "--dry-run", "--now", "2027-03-15T00:00:00Z"]
    )
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def golden_texts(db_url) -> dict[str, str]:
    texts = render_all()
    texts["roll_dry_run.sql"] = roll_dry_run(db_url)
    return texts


def test_golden_files_match(golden_texts):
    for name, text in golden_texts.items():
        path = GOLDEN / name
        if UPDATE:
            path.write_text(text)
        assert path.read_text() == text, f"{name} changed; review it, then update the golden"


@pytest.mark.parametrize(
    "name", ["migration_create_tables.sql", "migration_partition_ops.sql", "roll_dry_run.sql"]
)
def test_golden_sql_parses_and_is_clean_under_lint(name):
    text = (GOLDEN / name).read_text()
    assert len(pglast.parse_sql(text)) > 5
    assert lint_sql(text) == []
    result = CliRunner().invoke(main, ["lint", str(GOLDEN / name)])
    assert result.exit_code == 0, result.output


def test_golden_sql_is_clean_under_squawk():
    squawk = shutil.which("squawk", path=str(Path(sys.executable).parent)) or shutil.which("squawk")
    assert squawk, "squawk-cli is a test dependency"
    files = sorted(str(p) for p in GOLDEN.glob("*.sql"))
    config = Path(__file__).parent.parent / ".squawk.toml"
    out = subprocess.run(
        [squawk, "--config", str(config), "--reporter", "gcc", *files],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_golden_roll_shows_rescue_timeouts_and_every_expiry_mode():
    text = (GOLDEN / "roll_dry_run.sql").read_text()
    assert "SET LOCAL lock_timeout = 500;" in text  # half of deadlock_timeout, below 3 s
    assert "SET LOCAL statement_timeout = 600000;" in text
    assert "WITH moved AS (DELETE FROM public.events_default" in text
    assert "DETACH PARTITION public.clicks_p2026_11 CONCURRENTLY" in text
    assert "SET SCHEMA archive" in text
    assert "DROP TABLE IF EXISTS public.audit_log_p2026_11" in text
    assert "DETACH PARTITION public.events_p2026_11;" in text  # DEFAULT: no CONCURRENTLY


# -- lint rules: each fires where it should and stays silent where it should not --------

BAD = {
    "partition-of-live-parent": "SET lock_timeout = 1000;\n"
    "CREATE TABLE e_p1 PARTITION OF events FOR VALUES FROM (1) TO (2);",
    "attach-without-check": "SET lock_timeout = 1000;\n"
    "ALTER TABLE events ATTACH PARTITION e_p1 FOR VALUES FROM (1) TO (2);",
    "attach-scans-default": "SET lock_timeout = 1000;\n"
    "-- sqla-partition: events has DEFAULT partition events_default\n"
    "ALTER TABLE e_p1 ADD CONSTRAINT c CHECK (k >= 1 AND k < 2);\n"
    "LOCK TABLE ONLY events IN SHARE ROW EXCLUSIVE MODE;\n"
    "ALTER TABLE events ATTACH PARTITION e_p1 FOR VALUES FROM (1) TO (2);",
    # the DEFAULT is locked, but before the parent: an insert routed to it meanwhile fails
    "attach-beside-default-unlocked": "SET lock_timeout = 1000;\n"
    "-- sqla-partition: events has DEFAULT partition events_default\n"
    "BEGIN;\n"
    "ALTER TABLE e_p1 ADD CONSTRAINT c CHECK (k >= 1 AND k < 2);\n"
    "LOCK TABLE events_default IN ACCESS EXCLUSIVE MODE;\n"
    "LOCK TABLE ONLY events IN SHARE ROW EXCLUSIVE MODE;\n"
    "ALTER TABLE events ATTACH PARTITION e_p1 FOR VALUES FROM (1) TO (2);\n"
    "COMMIT;",
    "detach-without-concurrently": "SET lock_timeout = 1000;\n"
    "ALTER TABLE events DETACH PARTITION e_p1;",
    "index-on-partitioned-parent": "SET lock_timeout = 1000;\n"
    "CREATE TABLE e_p1 (LIKE events);\n"  # shows nothing about events; knowledge does
    "CREATE INDEX events_k ON events (k);",
    "ddl-without-lock-timeout": "BEGIN;\nALTER TABLE events ADD COLUMN x int;\nCOMMIT;",
}


@pytest.mark.parametrize("rule", sorted(BAD))
def test_each_rule_fires(rule):
    from sqla_partition.tools.lint import Knowledge

    known = Knowledge(partitioned={"events"})
    rules = [f.rule for f in lint_sql(BAD[rule], known)]
    assert rules == [rule]


def test_the_safe_forms_are_silent():
    from sqla_partition.tools.lint import Knowledge

    good = """
BEGIN;
CREATE TABLE t (k int) PARTITION BY RANGE (k);
CREATE TABLE t_p1 PARTITION OF t FOR VALUES FROM (1) TO (2);
CREATE INDEX ON t (k);
COMMIT;
BEGIN;
SET LOCAL lock_timeout = '2s';
CREATE TABLE e_p2 (LIKE events);
ALTER TABLE e_p2 ADD CONSTRAINT c CHECK (k >= 2 AND k < 3);
ALTER TABLE events ATTACH PARTITION e_p2 FOR VALUES FROM (2) TO (3);
CREATE INDEX events_k ON ONLY events (k);
COMMIT;
SET lock_timeout = 3000;
ALTER TABLE events DETACH PARTITION e_p1 CONCURRENTLY;
RESET lock_timeout;
BEGIN;
SET LOCAL lock_timeout = '2s';
CREATE TABLE m_p2 (LIKE metrics);
LOCK TABLE ONLY metrics IN SHARE ROW EXCLUSIVE MODE;
LOCK TABLE metrics_default IN ACCESS EXCLUSIVE MODE;
ALTER TABLE metrics ATTACH PARTITION m_p2 FOR VALUES FROM (2) TO (3);
COMMIT;
"""
    known = Knowledge(partitioned={"events", "metrics"}, defaults={"metrics": "metrics_default"})
    assert lint_sql(good, known) == []


def test_inline_allow_needs_a_reason():
    accepted = (
        "SET lock_timeout = 1000;\n"
        "-- sqla-partition: allow detach-without-concurrently: maintenance window\n"
        "ALTER TABLE events DETACH PARTITION e_p1;"
    )
    [finding] = lint_sql(accepted)
    assert finding.accepted == "maintenance window"
    result = CliRunner().invoke(main, ["lint", "-"], input=accepted)
    assert result.exit_code == 0 and "accepted: maintenance window" in result.output
    bare = accepted.replace(": maintenance window", "")
    rules = sorted(f.rule for f in lint_sql(bare) if f.accepted is None)
    assert rules == ["allow-without-reason", "detach-without-concurrently"]


def test_lint_reports_line_and_fix_and_exits_1(tmp_path):
    path = tmp_path / "m.sql"
    path.write_text("-- header\n\n" + BAD["detach-without-concurrently"])
    result = CliRunner().invoke(main, ["lint", str(path)])
    assert result.exit_code == 1
    assert f"{path}:4: [detach-without-concurrently]" in result.output
    assert "fix: ALTER TABLE events DETACH PARTITION e_p1 CONCURRENTLY" in result.output


def test_lint_bad_input_is_exit_2(tmp_path):
    broken = tmp_path / "broken.sql"
    broken.write_text("ALTER TABLE;")
    result = CliRunner().invoke(main, ["lint", str(broken)])
    assert result.exit_code == 2 and "not valid PostgreSQL" in result.output
    missing = CliRunner().invoke(main, ["lint", str(tmp_path / "nope.sql")])
    assert missing.exit_code == 2 and "cannot read" in missing.output


def test_lint_learns_partitioned_tables_from_the_database(db_url):
    make_table(db_url)
    sql_text = "SET lock_timeout = 1000;\nCREATE INDEX events_note ON events (note);"
    assert CliRunner().invoke(main, ["lint", "-"], input=sql_text).exit_code == 0
    result = CliRunner().invoke(main, ["lint", "--database-url", db_url, "-"], input=sql_text)
    assert result.exit_code == 1 and "index-on-partitioned-parent" in result.output


def test_a_hostile_table_name_stays_inside_every_comment_and_line(db_url):
    """A managed table named with a line break and SQL: roll's dry run must still be only
    the statements roll runs (psql would run a line that left its comment), and status
    and check print the name on their own lines only."""
    hostile = 'ev"\nDROP TABLE accounts; --'
    make_table(db_url, Range("created_at", premake=2, retention="3 months", default=True), hostile)
    now = ["--now", "2027-04-10T00:00:00Z"]
    dry = CliRunner().invoke(main, ["roll", "--database-url", db_url, "--dry-run", *now])
    assert dry.exit_code == 0, dry.output
    kinds = {type(s.stmt).__name__ for s in pglast.parse_sql(dry.stdout)}  # what psql would run
    assert "DropStmt" not in kinds and "AlterTableStmt" in kinds
    assert "\nDROP TABLE accounts" not in dry.stderr
    for command in (["status"], ["check"], ["roll"]):
        out = CliRunner().invoke(main, [*command, "--database-url", db_url, *now])
        assert "\nDROP TABLE accounts" not in out.output, out.output


def test_lint_reads_the_default_fact_of_a_name_with_spaces(db_url, tmp_path):
    make_table(
        db_url, Range("created_at", premake=2, retention="3 months", default=True), "my events"
    )
    dry = CliRunner().invoke(
        main, ["roll", "--database-url", db_url, "--dry-run", "--now", "2027-04-10T00:00:00Z"]
    )
    assert dry.exit_code == 0 and 'partition "my events_default"' in dry.stdout
    assert "DETACH PARTITION" in dry.stdout  # plain, beside the DEFAULT: correct
    path = tmp_path / "roll.sql"
    path.write_text(dry.stdout)
    linted = CliRunner().invoke(main, ["lint", str(path)])  # no database: the facts say it
    assert linted.exit_code == 0, linted.output
