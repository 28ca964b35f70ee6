"""Retention on Citus tables the declaration does not distribute: a table distributed by
hand with partitions made by Citus's ``create_time_partitions``, and a partitioned table in
a distributed schema (schema-based sharding). What the table is comes from Citus's catalog;
roll detaches in the DETACH's own transaction (Citus refuses DETACH … CONCURRENTLY on its
tables) while writers keep writing, and the record says what happened."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from sqla_partition import Range
from sqla_partition.cli import main

from .alembic_project import models_project
from .citus_cluster import SCRIPT, WORKER_PORT, Writer, citus_database, needs_citus
from .test_hash import run_online

pytestmark = needs_citus

RECORD = "sqla_partition.sqla_partition_partitions"
NOW = "2027-02-10T00:00:00Z"


@pytest.fixture
def cluster_url():
    yield from citus_database()


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


EVENTS = (
    "CREATE TABLE events (tenant_id bigint NOT NULL, created_at timestamptz NOT NULL, "
    "v int) PARTITION BY RANGE (created_at)"
)


def distributed_schema(conn: psycopg.Connection, name: str) -> None:
    """A schema whose tables Citus places, each a single shard (schema-based sharding)."""
    conn.execute("SET citus.enable_schema_based_sharding TO on")
    conn.execute(f"CREATE SCHEMA {name}")
    conn.execute("RESET citus.enable_schema_based_sharding")


def roll_under_writers(url: str, table: str) -> dict:
    insert = f"INSERT INTO {table} (tenant_id, created_at, v) VALUES (%s, '2027-02-09', %s)"
    writers = [Writer(url, insert, lambda n: (n % 20 + 1, n)) for _ in range(2)]
    for w in writers:
        w.start()
    try:
        result = CliRunner().invoke(main, ["roll", "--now", NOW, "--json", "--database-url", url])
    finally:
        for w in writers:
            w.stop.set()
        for w in writers:
            w.join()
    assert result.exit_code == 0, result.output
    assert sum(w.ok for w in writers) > 0 and [f for w in writers for f in w.failed] == []
    return json.loads(result.output)


def record(conn: psycopg.Connection) -> dict[str, str]:
    return dict(conn.execute(f"SELECT partition_name, state FROM {RECORD}").fetchall())


def attached(conn: psycopg.Connection, parent: str) -> set[str]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = %s::regclass",
        (parent,),
    ).fetchall()
    return {name for (name,) in rows}


def test_a_table_distributed_by_hand_with_citus_partitions_expires(cluster_url):
    url = libpq(cluster_url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute(EVENTS)
        conn.execute("SELECT create_distributed_table('events', 'tenant_id')")
        conn.execute(
            "SELECT create_time_partitions('events', '1 month', '2027-03-01', '2026-09-01')"
        )
        conn.execute(
            "INSERT INTO events SELECT g % 20 + 1, timestamptz '2026-09-01' + g * "
            "interval '1 day', g FROM generate_series(0, 170) g"
        )
        made = attached(conn, "events")
        assert len(made) == 6, made

    run_online(
        cluster_url,
        lambda op: op.set_partition_policy(
            "events", Range("created_at", premake=1, retention="3 months")
        ),
    )
    with psycopg.connect(url, autocommit=True) as conn:
        assert set(record(conn)) == made  # Citus's partitions are the table's own now
        before = conn.execute(
            "SELECT count(*) FROM events WHERE created_at < '2027-02-01'"
        ).fetchone()[0]

    out = roll_under_writers(url, "events")
    (table,) = out["tables"]
    assert table["status"] == "ok", table
    expired = sorted(table["detached"])
    assert len(expired) == 2, table  # September and October end before 2026-11-10
    with psycopg.connect(url, autocommit=True) as conn:
        assert not set(expired) & attached(conn, "events")
        assert all(record(conn)[name] == "detached" for name in expired)
        # the archives keep their rows; the table lost exactly theirs
        kept = sum(conn.execute(f"SELECT count(*) FROM {n}").fetchone()[0] for n in expired)
        after = conn.execute(
            "SELECT count(*) FROM events WHERE created_at < '2027-02-01'"
        ).fetchone()[0]
        assert kept + after == before
        rolled = conn.execute(
            "SELECT rolled_at IS NOT NULL FROM sqla_partition.sqla_partition_policy "
            "WHERE table_name = 'events'"
        ).fetchone()
        assert rolled == (True,)
    # at the run's clock (the database stamped the roll with its own: a long --max-age)
    args = ["check", "--now", NOW, "--max-age", "87600h", "--database-url", url]
    code = CliRunner().invoke(main, args)
    assert code.exit_code == 0, code.output

    # the archives stay distributed: status counts their rows on the workers
    with psycopg.connect(url, autocommit=True) as conn:
        counts = {}
        for name in expired:
            conn.execute(f"ANALYZE {name}")
            counts[f"public.{name}"] = conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
    result = CliRunner().invoke(main, ["status", "--json", "--database-url", url])
    (status,) = [e for e in json.loads(result.output) if e.get("table") == "public.events"]
    shown = {a["name"]: a["rows_estimate"] for a in status["archives"]}
    assert shown == counts and all(counts.values()), (shown, counts)
    assert all(a["bytes"] > 0 for a in status["archives"]), status["archives"]


def test_status_shows_each_citus_table_once(cluster_url):
    """A range table Citus distributes is shown once, its spread beside its partitions; a
    reference table (declared with Reference(), no policy) is shown too."""
    url = libpq(cluster_url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE countries (code text PRIMARY KEY)")
        conn.execute("SELECT create_reference_table('countries')")
        conn.execute(EVENTS)
        conn.execute(
            "CREATE TABLE events_a PARTITION OF events FOR VALUES FROM ('2026-11-01') "
            "TO ('2026-12-01')"
        )
        conn.execute("SELECT create_distributed_table('events', 'tenant_id', shard_count => 4)")
    run_online(cluster_url, lambda op: op.set_partition_policy("events", Range("created_at")))
    result = CliRunner().invoke(main, ["status", "--database-url", url])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert sum(line.startswith("public.events") for line in lines) == 1, result.output
    at = next(i for i, line in enumerate(lines) if line.startswith("public.events"))
    assert "  on Citus: distributed by tenant_id, 4 shards" in lines[at : at + 12], result.output
    assert "public.countries" in lines, result.output
    assert "  on Citus: a reference table, copied to every node" in lines, result.output

    result = CliRunner().invoke(main, ["status", "--database-url", url, "--json"])
    elements = json.loads(result.output)
    (events,) = [e for e in elements if e.get("table") == "public.events"]
    assert events["citus"].startswith("distributed by tenant_id, 4 shards")
    spread = [e["citus"]["table"] for e in elements if isinstance(e.get("citus"), dict)]
    assert spread == ["public.countries"], elements


def test_a_partitioned_table_in_a_distributed_schema_expires(cluster_url):
    url = libpq(cluster_url)
    with psycopg.connect(url, autocommit=True) as conn:
        distributed_schema(conn, "tenant_a")
        conn.execute(
            "CREATE TABLE tenant_a.events (tenant_id bigint NOT NULL, "
            "created_at timestamptz NOT NULL, v int) PARTITION BY RANGE (created_at)"
        )
        for m in range(9, 15):
            lo, hi = (
                f"{2026 + (m - 1) // 12}-{(m - 1) % 12 + 1:02d}-01",
                (f"{2026 + m // 12}-{m % 12 + 1:02d}-01"),
            )
            conn.execute(
                f"CREATE TABLE tenant_a.events_m{m} PARTITION OF tenant_a.events "
                f"FOR VALUES FROM ('{lo}') TO ('{hi}')"
            )
        kind = conn.execute(
            "SELECT citus_table_type FROM citus_tables "
            "WHERE table_name = 'tenant_a.events'::regclass"
        ).fetchone()
        assert kind == ("schema",), kind
        conn.execute(
            "INSERT INTO tenant_a.events SELECT 1, timestamptz '2026-09-01' + g * "
            "interval '1 day', g FROM generate_series(0, 170) g"
        )

    run_online(
        cluster_url,
        lambda op: op.set_partition_policy(
            "events", Range("created_at", premake=1, retention="3 months"), schema="tenant_a"
        ),
    )
    out = roll_under_writers(url, "tenant_a.events")
    (table,) = out["tables"]
    assert table["status"] == "ok", table
    assert sorted(table["detached"]) == ["events_m10", "events_m9"]
    with psycopg.connect(url, autocommit=True) as conn:
        assert not {"events_m9", "events_m10"} & attached(conn, "tenant_a.events")
        assert record(conn)["events_m9"] == "detached"
        assert conn.execute("SELECT count(*) FROM tenant_a.events_m9").fetchone() == (30,)


def test_adopt_declares_what_citus_has(cluster_url):
    """adopt of a distributed table declares it distributed and colocated as it is; its
    Citus-made partitions, made in another TimeZone, are named in that zone."""
    url = libpq(cluster_url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE tenants (tenant_id bigint PRIMARY KEY)")
        conn.execute("SELECT create_distributed_table('tenants', 'tenant_id')")
        conn.execute(EVENTS)
        conn.execute(
            "SELECT create_distributed_table('events', 'tenant_id', colocate_with => 'tenants')"
        )
        conn.execute("SET TimeZone = 'America/New_York'")
        conn.execute(
            "SELECT create_time_partitions('events', '1 month', '2027-03-01', '2026-09-01')"
        )
        distributed_schema(conn, "tenant_b")
        conn.execute(
            "CREATE TABLE tenant_b.visits (at timestamptz NOT NULL) PARTITION BY RANGE (at)"
        )
        conn.execute("RESET TimeZone")
        conn.execute(
            "CREATE TABLE tenant_b.visits_p2026_12 PARTITION OF tenant_b.visits "
            "FOR VALUES FROM ('2026-12-01') TO ('2027-01-01')"
        )

    def adopt(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, ["adopt", *args, "--database-url", url])
        return result.exit_code, result.output

    code, out = adopt("events")
    assert code == 2 and "--timezone America/New_York" in out, out
    code, out = adopt("events", "--timezone", "America/New_York")
    assert code == 0, out
    assert (
        "Range('created_at', interval='1 month', premake=3, timezone='America/New_York', "
        "distributed_by='tenant_id', colocate_with='tenants')" in out
    ), out
    code, out = adopt("tenant_b.visits")
    assert code == 0, out
    assert "distributed_by" not in out and "tenant_b is a distributed schema" in out, out


SCHEMA_MODELS = textwrap.dedent(
    """
    import sqlalchemy as sa
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

    from sqla_partition import Range


    class Base(DeclarativeBase):
        pass


    class Visit(Base):
        __tablename__ = "visits"
        __table_args__ = {"schema": "tenant_a"}
        __partitioning__ = Range("at", premake=1, retention="3 months")
        id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
        at = mapped_column(sa.DateTime(timezone=True), primary_key=True)


    class Note(Base):
        __tablename__ = "notes"
        id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    """
)


def test_a_distributed_schema_gets_an_empty_second_autogenerate(cluster_url, tmp_path, monkeypatch):
    """The env.py ``init`` writes compares the models' own schemas, never Citus's."""
    url = libpq(cluster_url)
    with psycopg.connect(url, autocommit=True) as conn:
        distributed_schema(conn, "tenant_a")
        conn.execute("CREATE SCHEMA archive")  # another application's, columnar storage
        conn.execute("CREATE TABLE archive.cold (id int) USING columnar")
    with models_project(tmp_path, cluster_url, monkeypatch, "schema_models", SCHEMA_MODELS) as p:
        first = p.revision("tables")
        assert "create_partitioned_table('visits'" in first and "schema='tenant_a'" in first
        assert "columnar" not in first and "cold" not in first, first
        p.upgrade()
        second = p.revision("nothing")
        assert "pass" in second and "op." not in second.split("def upgrade")[1], second
        # an env.py of the user's own that compares every schema: Citus's never show
        env = tmp_path / "migrations" / "env.py"
        text = env.read_text().replace(
            "\ndef run_migrations_offline",
            '\nCONFIGURE.pop("include_name", None)\n\n\ndef run_migrations_offline',
        )
        env.write_text(text)
        p.upgrade()
        third = p.revision("every schema")
        assert "columnar_internal" not in third and "schema='citus" not in third, third
        assert "drop_table('cold', schema='archive')" in third  # compared, as asked
        with psycopg.connect(url, autocommit=True) as conn:
            kind = conn.execute(
                "SELECT citus_table_type FROM citus_tables "
                "WHERE table_name = 'tenant_a.visits'::regclass"
            ).fetchone()
            assert kind == ("schema",)


def test_check_names_a_worker_that_does_not_answer(cluster_url):
    url = libpq(cluster_url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE events (tenant_id bigint NOT NULL, created_at timestamptz NOT NULL) "
            "PARTITION BY RANGE (created_at)"
        )
        conn.execute("SELECT create_distributed_table('events', 'tenant_id', shard_count => 4)")
    run_online(cluster_url, lambda op: op.set_partition_policy("events", Range("created_at")))
    code = CliRunner().invoke(main, ["check", "--database-url", url]).output
    assert "does not answer" not in code, code
    worker = Path(os.environ.get("CITUS_DIR", "/tmp/sqla-partition-citus")) / str(WORKER_PORT)
    pg_ctl = "/usr/lib/postgresql/15/bin/pg_ctl"
    if os.geteuid() != 0 or not shutil.which("runuser") or not worker.is_dir():
        pytest.skip("stopping the worker needs root, runuser and its data directory here")
    subprocess.run(
        ["runuser", "-u", "citus", "--", pg_ctl, "-D", str(worker), "-w", "stop", "-m", "fast"],
        check=True,
        capture_output=True,
    )
    try:
        result = CliRunner().invoke(main, ["check", "--database-url", url])
        assert result.exit_code == 1, result.output
        assert f"Citus worker 127.0.0.1:{WORKER_PORT} does not answer" in result.output
        assert "Traceback" not in result.output
    finally:
        subprocess.run(["bash", str(SCRIPT), "start"], check=True, capture_output=True)
    result = CliRunner().invoke(main, ["check", "--database-url", url])
    assert "does not answer" not in result.output, result.output
