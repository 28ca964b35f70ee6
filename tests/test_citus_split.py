"""split_shards on the real cluster: a node that cannot replicate logically is named in one
line before any shard moves, and a run waits for a split of the same table that is still
running (as one whose client was killed goes on running on the server)."""

from __future__ import annotations

import textwrap
import threading
import time

import psycopg
import pytest
from click.testing import CliRunner

from sqla_partition import Hash
from sqla_partition.cli import main
from sqla_partition.errors import SqlaPartitionError
from sqla_partition.sql.citus import SPLIT_LOCK_CLASS

from .alembic_project import models_project
from .citus_cluster import COORDINATOR, WORKER_PORT, citus_database, needs_citus
from .test_hash import run_online

pytestmark = needs_citus


@pytest.fixture
def tenants():
    """A table distributed in 2 shards, with its policy, and its libpq URL."""
    for url in citus_database():
        raw = url.replace("postgresql+psycopg://", "postgresql://", 1)
        with psycopg.connect(raw, autocommit=True) as conn:
            conn.execute("CREATE TABLE tenants (tenant_id bigint PRIMARY KEY, v int)")
            conn.execute(
                "SELECT create_distributed_table('tenants', 'tenant_id', shard_count => 2)"
            )
            conn.execute("INSERT INTO tenants SELECT g, g FROM generate_series(1, 500) g")
        run_online(
            url, lambda op: op.set_partition_policy("tenants", Hash("tenant_id", partitions=2))
        )
        yield url, raw


def shards(raw: str) -> int:
    with psycopg.connect(raw, autocommit=True) as conn:
        return conn.execute(
            "SELECT shard_count FROM citus_tables WHERE table_name = 'tenants'::regclass"
        ).fetchone()[0]


def split(url: str) -> None:
    run_online(
        url,
        lambda op: op.split_shards("tenants", Hash("tenant_id", partitions=4), old_shard_count=2),
    )


def test_a_node_without_citus_output_plugin_is_named_before_any_shard_moves(tenants):
    url, raw = tenants
    worker = COORDINATOR.rsplit(":", 1)[0] + f":{WORKER_PORT}/postgres"
    with psycopg.connect(worker, autocommit=True) as conn:
        (before,) = conn.execute("SHOW output_plugin_libraries").fetchone()
        conn.execute("ALTER SYSTEM SET output_plugin_libraries = pgoutput")
        conn.execute("SELECT pg_reload_conf()")
    try:
        time.sleep(0.5)
        with pytest.raises(SqlaPartitionError) as refused:
            split(url)
        text = str(refused.value)
        assert "citus is not in output_plugin_libraries on" in text and str(WORKER_PORT) in text
        assert "the coordinator" not in text and "\n" not in text
        assert shards(raw) == 2
    finally:
        with psycopg.connect(worker, autocommit=True) as conn:
            conn.execute(f"ALTER SYSTEM SET output_plugin_libraries = {before}")
            conn.execute("SELECT pg_reload_conf()")
    time.sleep(0.5)
    split(url)
    assert shards(raw) == 4


def test_a_split_waits_for_one_still_running(tenants):
    url, raw = tenants
    with psycopg.connect(raw, autocommit=True) as holder:
        holder.execute(
            f"SELECT pg_advisory_lock({SPLIT_LOCK_CLASS}, 'tenants'::regclass::oid::int4)"
        )
        failed: list[BaseException] = []

        def run() -> None:
            try:
                split(url)
            except BaseException as exc:  # noqa: BLE001 - reported below
                failed.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        time.sleep(2.5)
        assert thread.is_alive() and shards(raw) == 2  # waiting, nothing split
        holder.execute(
            f"SELECT pg_advisory_unlock({SPLIT_LOCK_CLASS}, 'tenants'::regclass::oid::int4)"
        )
        thread.join(timeout=120)
    assert not thread.is_alive() and failed == []
    assert shards(raw) == 4
    with psycopg.connect(raw, autocommit=True) as conn:
        assert conn.execute("SELECT count(*), sum(v) FROM tenants").fetchone() == (500, 125250)


TENANT_MODEL = textwrap.dedent(
    """
    import sqlalchemy as sa
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

    from sqla_partition import Hash


    class Base(DeclarativeBase):
        pass


    class Tenant(Base):
        __tablename__ = "tenants"
        __partitioning__ = Hash("tenant_id", partitions=3)
        tenant_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
        v: Mapped[int | None]
    """
)


def test_check_advice_on_shards_split_by_hand_is_what_autogenerate_accepts(
    tenants, tmp_path, monkeypatch
):
    url, raw = tenants
    with psycopg.connect(raw, autocommit=True) as conn:
        conn.execute(
            "SELECT citus_split_shard_by_split_points(s.shardid, ARRAY['-1073741825'], "
            "ARRAY[n.nodeid, n.nodeid], 'block_writes') "
            "FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) "
            "JOIN pg_dist_node n USING (groupid) "
            "WHERE s.logicalrelid = 'tenants'::regclass AND s.shardminvalue = '-2147483648'"
        )
    assert shards(raw) == 3
    result = CliRunner().invoke(main, ["check", "--database-url", raw])
    assert result.exit_code == 1 and "declare partitions=3" in result.output, result.output

    with models_project(tmp_path, url, monkeypatch, "split_by_hand", TENANT_MODEL) as project:
        text = project.revision("as the cluster has it")
        assert "op.set_partition_policy('tenants'" in text and "split_shards" not in text, text
        project.upgrade()
        project.check()
    result = CliRunner().invoke(main, ["check", "--database-url", raw])
    assert "shards on the cluster but the policy declares" not in result.output, result.output
