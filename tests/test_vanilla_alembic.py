"""Vanilla Alembic stays vanilla: where nothing is partitioned, the plugin costs an
autogenerate one query (the snapshot that says so), whatever Alembic itself asks."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import sqlalchemy as sa
    from sqlalchemy import Column, ForeignKeyConstraint, Identity, Integer, MetaData, String, Table
    from alembic import autogenerate
    from alembic.autogenerate import api
    from alembic.autogenerate.compare.util import _InspectorConv
    from alembic.migration import MigrationContext
    from alembic.operations import ops

    url, plugin, pre_cache = sys.argv[1], sys.argv[2] == "1", sys.argv[3] == "1"
    if plugin:
        import sqla_partition

        sqla_partition.register()
    if not pre_cache:
        _InspectorConv.pre_cache_tables = lambda *a, **k: None
    engine = sa.create_engine(url)
    m1, m2 = MetaData(), MetaData()
    Table("parent", m1, Column("id", Integer, Identity(), primary_key=True),
          Column("name", String(50)))
    Table("child", m1, Column("id", Integer, Identity(), primary_key=True),
          Column("parent_id", Integer), ForeignKeyConstraint(["parent_id"], ["parent.id"]))
    for name in ("t1", "t2", "t3"):
        Table(name, m1, Column("id", Integer, Identity(), primary_key=True))
    with engine.connect() as conn:
        m1.create_all(conn)
        conn.commit()
        calls = []
        sa.event.listen(conn, "before_cursor_execute", lambda *args: calls.append(args[2]))
        opts = {"compare_type": True, "compare_server_default": True, "target_metadata": m2}
        context = MigrationContext.configure(connection=conn, opts=opts)
        upgrade = ops.UpgradeOps(ops=[])
        autogenerate._produce_net_changes(api.AutogenContext(context, m2), upgrade)
        m1.drop_all(conn)
        conn.commit()
    print(json.dumps({"calls": len(calls), "ops": len(upgrade.ops)}))
    """
)


def autogenerate(db_url: str, plugin: bool, pre_cache: bool) -> dict[str, int]:
    args = [db_url, "1" if plugin else "0", "1" if pre_cache else "0"]
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, *args], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("pre_cache", [True, False], ids=["pre-cache", "no-pre-cache"])
def test_nothing_partitioned_costs_autogenerate_one_query(db_url, pre_cache):
    vanilla = autogenerate(db_url, plugin=False, pre_cache=pre_cache)
    with_plugin = autogenerate(db_url, plugin=True, pre_cache=pre_cache)
    assert with_plugin["ops"] == vanilla["ops"] == 5  # drop the five tables, either way
    assert with_plugin["calls"] == vanilla["calls"] + 1, (vanilla, with_plugin)
