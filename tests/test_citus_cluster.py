"""Scale-out on a real Citus 13 cluster (coordinator + one worker): declare, autogenerate,
upgrade, write from several sessions, roll forward, grow the shard count under writes,
check, and ``downgrade base``."""

from __future__ import annotations

import json
import sys
import textwrap
import time
import uuid

import psycopg
import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from sqla_partition.cli import main

from .alembic_project import models_project
from .citus_cluster import WORKER_PORT, Writer, citus_database, needs_citus

pytestmark = needs_citus

#: Names that sort the wrong way: ``a_metrics`` and ``events`` are colocated with
#: ``tenants``, which refers to ``zz_countries`` (a reference table); ``a_metrics`` has no
#: foreign key, so only its colocation says it must come after ``tenants``.
MODELS = textwrap.dedent(
    """
    import os

    import sqlalchemy as sa
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

    from sqla_partition import Hash, Range, Reference

    SHARDS = int(os.environ.get("SHARDS", "4"))


    class Base(DeclarativeBase):
        pass


    class Country(Base):
        __tablename__ = "zz_countries"
        __distribution__ = Reference()
        code: Mapped[str] = mapped_column(sa.Text, primary_key=True)


    class Tenant(Base):
        __tablename__ = "tenants"
        __partitioning__ = Hash("tenant_id", partitions=SHARDS)
        tenant_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
        country: Mapped[str] = mapped_column(sa.ForeignKey("zz_countries.code"))


    class Metric(Base):
        __tablename__ = "a_metrics"
        __partitioning__ = Range(
            "at", premake=1, distributed_by="tenant_id", colocate_with="tenants"
        )
        tenant_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
        at = mapped_column(sa.DateTime(timezone=True), primary_key=True)


    class Event(Base):
        __tablename__ = "events"
        __partitioning__ = Range(
            "created_at", premake=2, retention="2 months", distributed_by="tenant_id",
            colocate_with="tenants",
        )
        tenant_id: Mapped[int] = mapped_column(
            sa.ForeignKey("tenants.tenant_id"), primary_key=True
        )
        id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
        created_at = mapped_column(
            sa.DateTime(timezone=True), primary_key=True, server_default=sa.func.now()
        )
        body: Mapped[str | None]
        if os.environ.get("INDEX"):
            __table_args__ = (sa.Index("ix_events_body", "body"),)
    """
)


@pytest.fixture
def cluster_url():
    yield from citus_database()


@pytest.fixture
def project(tmp_path, cluster_url, monkeypatch):
    monkeypatch.delenv("SHARDS", raising=False)
    with models_project(tmp_path, cluster_url, monkeypatch, "scale_models", MODELS) as project:
        yield project


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def spread(conn: psycopg.Connection) -> dict[str, tuple[str, int, int]]:
    """Each Citus table: its type, colocation group and shard count."""
    rows = conn.execute(
        "SELECT table_name::text, citus_table_type, colocation_id, shard_count FROM citus_tables"
    ).fetchall()
    return {name: (kind, group, shards) for name, kind, group, shards in rows}


def events_writer(url: str) -> Writer:
    """Inserts events for tenant ``1..20`` in short transactions until stopped."""
    return Writer(
        url,
        "INSERT INTO events (tenant_id, created_at, body) VALUES (%s, '2026-12-10', 'w')",
        lambda n: (n % 20 + 1,),
    )


def test_scale_out_on_a_real_cluster(project, cluster_url, monkeypatch):
    url = libpq(cluster_url)
    text = project.revision("scale out")
    upgrade, downgrade = text.split("def downgrade")
    order = [upgrade.index(f"op.distribute_table('{t}'") for t in ("zz_countries", "tenants")]
    assert order == sorted(order)
    assert upgrade.index("op.distribute_table('tenants'") < upgrade.index(
        "op.distribute_table('a_metrics'"
    )  # colocation decides, not the name
    assert "undistribute_table" not in downgrade  # the drops take the shards with them
    project.upgrade()
    project.check()  # a second autogenerate finds nothing to do

    with psycopg.connect(url, autocommit=True) as conn:
        tables = spread(conn)
        assert tables["zz_countries"][0] == "reference"
        group = tables["tenants"][1]
        assert {tables[t][1] for t in ("a_metrics", "events", "events_p2026_12")} == {group}
        conn.execute("INSERT INTO zz_countries VALUES ('de'), ('fr')")
        conn.execute("INSERT INTO tenants SELECT g, 'de' FROM generate_series(1, 20) g")

    writers = [events_writer(url) for _ in range(3)]  # several sessions at once
    for w in writers:
        w.start()
    time.sleep(1.0)

    # roll forward: new months distributed and colocated, shards on the worker; the oldest
    # month past retention detached
    code, out = cli("roll", "--database-url", url, "--now", "2027-02-05T00:00:00Z", "--json")
    assert code == 0, out
    report = {t["table"]: t for t in json.loads(out)["tables"]}
    assert "events_p2027_04" in report["public.events"]["created"]
    assert report["public.events"]["detached"] == ["events_p2026_11"]
    with psycopg.connect(url, autocommit=True) as conn:
        tables = spread(conn)
        assert tables["events_p2027_04"][1] == group
        on_worker = conn.execute(
            "SELECT count(*) FROM citus_shards WHERE table_name = 'events_p2027_04'::regclass "
            "AND nodeport = %s",
            (WORKER_PORT,),
        ).fetchone()[0]
        assert on_worker == 4

    # an online index on every shard of every partition, declared on the model
    monkeypatch.setenv("INDEX", "1")
    sys.modules.pop("scale_models", None)
    assert "op.create_partitioned_index('ix_events_body', 'events', ['body']" in (
        project.revision("index")
    )
    project.upgrade()
    with psycopg.connect(url.replace(":5441/", f":{WORKER_PORT}/"), autocommit=True) as conn:
        conn.execute("SET citus.override_table_visibility TO off")  # show the shards
        indexed = conn.execute(
            "SELECT count(DISTINCT tablename) FROM pg_indexes WHERE tablename ~ "
            "'^events_p2027_04_[0-9]+$' AND indexdef LIKE '%(body)%'"
        ).fetchone()[0]
        assert indexed == 4  # each shard of the partition, on the worker

    # grow the shard count from the model while the writers run
    monkeypatch.setenv("SHARDS", "8")
    sys.modules.pop("scale_models", None)
    text = project.revision("more shards")
    assert "op.split_shards('tenants', sqla_partition.Hash('tenant_id', partitions=8)" in text
    project.upgrade()
    time.sleep(0.5)
    for w in writers:
        w.stop.set()
        w.join()
    assert [f for w in writers for f in w.failed] == []  # no write failed, ever
    written = sum(w.ok for w in writers)
    with psycopg.connect(url, autocommit=True) as conn:
        tables = spread(conn)
        assert tables["tenants"][2] == 8 and tables["events"][2] == 8
        assert tables["events"][1] == tables["tenants"][1]  # still colocated
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == written
    project.check()

    code, out = cli("status", "--database-url", url)
    assert code == 0, out
    assert "on Citus: distributed by tenant_id, 8 shards" in out
    assert "does not exist" not in out
    # (rolled "now" by the database's clock, months before --now: a year's --max-age)
    code, out = cli(
        "check", "--database-url", url, "--now", "2027-02-05T01:00:00Z", "--max-age", "8760h"
    )
    assert code == 0, out

    # the worker is not where the policies are: one line, exit 2
    worker = url.replace(":5441/", f":{WORKER_PORT}/")
    for command in (["roll"], ["check"], ["status"]):
        code, out = cli(*command, "--database-url", worker)
        assert code == 2, out
        assert "Citus worker" in out and "coordinator" in out and "Traceback" not in out

    # downgrade base, archives too: nothing left on the cluster
    for path in project.versions():
        path.write_text(path.read_text().replace("archives='refuse'", "archives='drop'"))
    project.downgrade("base")
    with psycopg.connect(url, autocommit=True) as conn:
        assert spread(conn) == {}
        assert conn.execute(
            "SELECT count(*) FROM pg_class WHERE relname LIKE 'events%' "
            "OR relname LIKE 'sqla_partition%'"
        ).fetchone() == (0,)
        assert conn.execute(
            "SELECT count(*) FROM pg_proc WHERE pronamespace = "
            "coalesce(to_regnamespace('sqla_partition'), 0)"
        ).fetchone() == (0,)  # (the empty schema stays: Citus refuses schema commands after
        # the parallel drops of the same transaction)


LIST_MODELS = textwrap.dedent(
    """
    import json
    import os

    import sqlalchemy as sa
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

    from sqla_partition import List


    class Base(DeclarativeBase):
        pass


    class Order(Base):
        __tablename__ = "orders"
        __partitioning__ = List(
            "region",
            partitions=json.loads(os.environ["REGIONS"]),
            default=True,
            distributed_by="tenant_id",
        )
        tenant_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
        id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
        region: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    """
)


def test_a_distributed_list_table_changes_online(tmp_path, cluster_url, monkeypatch):
    url = libpq(cluster_url)
    monkeypatch.setenv("REGIONS", json.dumps({"eu": ["de", "fr"]}))
    with models_project(tmp_path, cluster_url, monkeypatch, "list_cx", LIST_MODELS) as project:
        assert "op.distribute_table('orders', 'tenant_id')" in project.revision("orders")
        project.upgrade()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO orders SELECT g % 7, g, (ARRAY['de', 'jp', 'sg'])[g % 3 + 1] "
                "FROM generate_series(1, 300) g"
            )
        monkeypatch.setenv("REGIONS", json.dumps({"eu": ["de", "fr"], "asia": ["jp", "sg"]}))
        sys.modules.pop("list_cx", None)
        assert "alter_list_partitions" in project.revision("asia")
        project.upgrade()
        project.check()
        with psycopg.connect(url, autocommit=True) as conn:
            placed = dict(
                conn.execute(
                    "SELECT region, count(*) FROM orders WHERE tableoid <> 0 GROUP BY region"
                ).fetchall()
            )
            assert placed == {"de": 100, "jp": 100, "sg": 100}
            assert conn.execute("SELECT count(*) FROM orders_default").fetchone() == (0,)
            assert conn.execute("SELECT count(*) FROM orders_asia").fetchone() == (200,)
            tables = spread(conn)
            assert tables["orders_asia"][0] == "distributed"
            assert tables["orders_asia"][1] == tables["orders"][1]
            local = conn.execute("SELECT pg_relation_size('orders_asia'::regclass)").fetchone()[0]
            assert local == 0  # the rows moved in live on the shards only
            conn.execute("INSERT INTO orders VALUES (1, 1000, 'jp')")
            assert conn.execute("SELECT count(*) FROM orders WHERE region = 'jp'").fetchone() == (
                101,
            )
        project.downgrade("-1")  # asia goes: detached, kept as an archive, rows and all
        with psycopg.connect(url, autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM orders_asia").fetchone() == (201,)
            assert conn.execute("SELECT count(*) FROM orders").fetchone() == (100,)
        for path in project.versions():
            path.write_text(path.read_text().replace("archives='refuse'", "archives='drop'"))
        project.downgrade("base")
        with psycopg.connect(url, autocommit=True) as conn:
            assert spread(conn) == {}


def test_statements_sent_to_every_shard_are_reported(cluster_url, tmp_path):
    url = libpq(cluster_url)
    reader = f"cx_reader_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE accounts (tenant_id bigint PRIMARY KEY, name text)")
        conn.execute("SELECT create_distributed_table('accounts', 'tenant_id', shard_count => 4)")
        conn.execute(
            "CREATE TABLE visits (tenant_id bigint NOT NULL, at timestamptz NOT NULL) "
            "PARTITION BY RANGE (at)"
        )
        conn.execute(
            "CREATE TABLE visits_a PARTITION OF visits FOR VALUES FROM ('2026-01-01') "
            "TO ('2026-02-01')"
        )
        conn.execute("SELECT create_distributed_table('visits', 'tenant_id', shard_count => 4)")
        conn.execute(f"CREATE ROLE {reader} LOGIN")
        # (Citus propagates grants on distributed tables to their shards; pg_read_all_data
        # on the coordinator alone does not reach the workers)
        conn.execute(f"GRANT SELECT ON accounts, visits TO {reader}")
    queries = tmp_path / "q.sql"
    queries.write_text(
        "SELECT * FROM accounts WHERE name = 'x';\n"
        "SELECT * FROM accounts WHERE tenant_id = 3;\n"
        "SELECT count(*) FROM visits WHERE at >= '2026-01-05';\n"
        "SELECT count(*) FROM visits WHERE tenant_id = $1;\n"
    )
    try:
        code, out = cli(
            "advise",
            "--pruning",
            "--queries",
            str(queries),
            "--database-url",
            make_url(url).set(username=reader).render_as_string(False),
            "--json",
        )
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {reader}")
            conn.execute(f"DROP ROLE {reader}")
    assert code == 0, out
    found = {row["query"]: row for row in json.loads(out)}
    assert set(found) == {
        "SELECT * FROM accounts WHERE name = 'x'",
        "SELECT count(*) FROM visits WHERE at >= '2026-01-05'",
    }
    row = found["SELECT * FROM accounts WHERE name = 'x'"]
    assert (row["table"], row["read"], row["partitions"], row["unit"]) == (
        "public.accounts",
        4,
        4,
        "shards",
    )
    assert row["reason"] == "tenant_id is not filtered"
    assert found["SELECT count(*) FROM visits WHERE at >= '2026-01-05'"]["table"] == (
        "public.visits"
    )
