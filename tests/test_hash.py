"""Hash partitions on a real PostgreSQL: autogenerate, insert, split 16 -> 32 under writes."""

from __future__ import annotations

import logging
import random
import sys
import textwrap
import threading
import time

import psycopg
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.util import CommandError

import sqla_partition
from sqla_partition import Hash

from .alembic_project import models_project
from .test_ops import run_online as run_with

MODELS = textwrap.dedent(
    """
    import os

    import sqlalchemy as sa
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

    from sqla_partition import Hash


    class Base(DeclarativeBase):
        pass


    class Tenant(Base):
        __tablename__ = "tenants"
        id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)


    class Account(Base):
        __tablename__ = "accounts"
        __partitioning__ = Hash(
            "tenant_id",
            partitions=int(os.environ["SHARDS"]),
            partition_prefix=os.environ.get("PREFIX"),
        )
        tenant_id: Mapped[int] = mapped_column(sa.ForeignKey("tenants.id"), primary_key=True)
        id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
        name: Mapped[str] = mapped_column(sa.Text)
        balance: Mapped[int] = mapped_column(sa.Integer, server_default="0")
        name_length: Mapped[int] = mapped_column(
            sa.Integer, sa.Computed("length(name)", persisted=True)
        )
    """
)

TENANTS = 200


@pytest.fixture
def shard_project(tmp_path, db_url, monkeypatch):
    with models_project(tmp_path, db_url, monkeypatch, "shard_models", MODELS) as project:
        yield project


def declare(monkeypatch, shards: int) -> None:
    """The model as a developer edits it: the next autogenerate imports it afresh."""
    monkeypatch.setenv("SHARDS", str(shards))
    sys.modules.pop("shard_models", None)


def children(pg) -> dict[str, str]:
    return children_of(pg, "accounts")


def table_rows(pg) -> dict[tuple[int, int], tuple[str, int]]:
    rows = pg.execute("SELECT tenant_id, id, name, balance FROM accounts").fetchall()
    return {(t, i): (n, b) for t, i, n, b in rows}


class Writer(threading.Thread):
    """Inserts, updates (also moving rows between tenants) and deletes on the tenants of one
    parity, remembering what committed, so the table can be compared with it afterwards.

    ``repeatable``: each change in a REPEATABLE READ transaction whose snapshot is taken
    a moment before it, so the split's copy commits in between.
    """

    def __init__(self, dsn: str, rows: dict, parity: int, *, repeatable: bool = False):
        super().__init__(daemon=True)
        self.dsn, self.parity, self.repeatable = dsn, parity, repeatable
        self.rows = {k: v for k, v in rows.items() if k[0] % 2 == parity}
        self.stop = threading.Event()
        self.failures: list[str] = []
        self.longest = 0.0
        self.count = 0

    def tenant(self, rng: random.Random) -> int:
        return rng.randrange(TENANTS // 2) * 2 + self.parity

    def step(self, conn: psycopg.Connection, rng: random.Random) -> None:
        action = rng.random()
        keys = list(self.rows)
        if action < 0.5 or not keys:
            tenant = self.tenant(rng)
            name = f"w{rng.randrange(10**6)}"
            (new_id,) = conn.execute(
                "INSERT INTO accounts (tenant_id, name) VALUES (%s, %s) RETURNING id",
                (tenant, name),
            ).fetchone()
            self.rows[(tenant, new_id)] = (name, 0)
        elif action < 0.75:
            key = rng.choice(keys)
            (name, balance) = self.rows[key]
            conn.execute(
                "UPDATE accounts SET balance = balance + 1 WHERE tenant_id = %s AND id = %s",
                key,
            )
            self.rows[key] = (name, balance + 1)
        elif action < 0.85:  # a new tenant: the row may move to another partition
            key = rng.choice(keys)
            tenant = self.tenant(rng)
            if (tenant, key[1]) in self.rows:
                return
            conn.execute(
                "UPDATE accounts SET tenant_id = %s WHERE tenant_id = %s AND id = %s",
                (tenant, *key),
            )
            self.rows[(tenant, key[1])] = self.rows.pop(key)
        else:
            key = rng.choice(keys)
            conn.execute("DELETE FROM accounts WHERE tenant_id = %s AND id = %s", key)
            del self.rows[key]

    def run(self) -> None:
        rng = random.Random(7 + self.parity)
        with psycopg.connect(self.dsn, autocommit=not self.repeatable) as conn:
            if self.repeatable:
                conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            while not self.stop.is_set():
                started = time.monotonic()
                before = dict(self.rows)
                try:
                    if self.repeatable:
                        conn.execute("SELECT 1")  # the snapshot, taken before the change
                        time.sleep(0.003)
                    self.step(conn, rng)
                    if self.repeatable:
                        conn.commit()
                    self.count += 1
                except psycopg.Error as exc:
                    self.failures.append(str(exc))
                    self.rows = before
                    if self.repeatable:
                        conn.rollback()
                self.longest = max(self.longest, time.monotonic() - started)


def seed(pg, rows: int) -> None:
    pg.execute("INSERT INTO tenants SELECT generate_series(0, %s)", (TENANTS - 1,))
    pg.execute(
        "INSERT INTO accounts (tenant_id, name) "
        "SELECT g %% %s, 'seed' || g FROM generate_series(1, %s) g",
        (TENANTS, rows),
    )


def test_hash_table_autogenerated_and_split_16_to_32_while_writing(
    shard_project, pg, monkeypatch, caplog
):
    declare(monkeypatch, 16)
    text = shard_project.revision("accounts")
    assert "partitioning=sqla_partition.Hash('tenant_id', partitions=16)" in text
    assert "drop_table" not in text.split("def downgrade")[0]
    shard_project.upgrade()
    shard_project.check()  # in sync: nothing to generate
    bounds = children(pg)
    assert sorted(bounds) == [f"accounts_h{r:02d}" for r in range(16)]
    assert bounds["accounts_h05"] == "FOR VALUES WITH (modulus 16, remainder 5)"

    seed(pg, 20_000)
    per_child = pg.execute(
        "SELECT tableoid::regclass::text, count(*) FROM accounts GROUP BY 1"
    ).fetchall()
    assert len(per_child) == 16 and all(n > 0 for _, n in per_child)

    declare(monkeypatch, 32)
    text = shard_project.revision("split")
    upgrade, downgrade = text.split("def downgrade")
    assert (
        "op.split_hash_partitions('accounts', sqla_partition.Hash('tenant_id', partitions=32), "
        "old_partitions=16, columns=['tenant_id', 'id', 'name', 'balance'], "
        "primary_key=['tenant_id', 'id'])" in upgrade
    )
    assert "old_partitions=32" in downgrade

    seeded = table_rows(pg)
    writers = [Writer(pg.info.dsn, seeded, 0), Writer(pg.info.dsn, seeded, 1, repeatable=True)]
    for writer in writers:
        writer.start()
    time.sleep(0.3)
    config = shard_project.config
    config.attributes["configure_logger"] = False  # earlier commands' logging config stays
    logger = logging.getLogger("sqla_partition")
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger="sqla_partition"):
            command.upgrade(config, "head")
    finally:
        logger.removeHandler(caplog.handler)
    time.sleep(0.3)
    for writer in writers:
        writer.stop.set()
        writer.join()

    for writer in writers:
        assert writer.failures == []
        assert writer.count > 50
    bounds = children(pg)
    assert sorted(bounds) == [f"accounts_h{r:02d}" for r in range(32)]
    for name, bound in bounds.items():
        r = int(name[-2:])
        assert bound == f"FOR VALUES WITH (modulus 32, remainder {r})"
    assert table_rows(pg) == {**writers[0].rows, **writers[1].rows}
    # every row sits in the partition its hash names (ATTACH trusted the CHECKs for this)
    misplaced = pg.execute(
        "SELECT count(*) FROM accounts a JOIN pg_class c ON c.oid = a.tableoid "
        "WHERE NOT satisfies_hash_partition('accounts'::regclass, 32, "
        "right(c.relname, 2)::int, a.tenant_id)"
    ).fetchone()[0]
    assert misplaced == 0
    leftovers = pg.execute(
        "SELECT relname FROM pg_class WHERE relname ~ '_(old|new)$' "
        "UNION ALL SELECT proname FROM pg_proc WHERE proname LIKE 'sqla_partition_split%'"
    ).fetchall()
    assert leftovers == []
    # the parent's indexes, the foreign key and the generated column serve every new child
    valid = pg.execute(
        "SELECT count(*) FROM pg_index i JOIN pg_inherits h ON h.inhrelid = i.indrelid "
        "WHERE h.inhparent = 'accounts'::regclass AND i.indisvalid"
    ).fetchone()[0]
    assert valid == 32
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        pg.execute("INSERT INTO accounts (tenant_id, name) VALUES (%s, 'x')", (TENANTS + 5,))
    assert pg.execute("SELECT name_length FROM accounts WHERE name = 'seed1'").fetchone() == (5,)
    swaps = [r.getMessage() for r in caplog.records if "the swap held" in r.getMessage()]
    assert len(swaps) == 16
    shard_project.check()  # the policy now says 32


@pytest.mark.parametrize(
    ("shards", "prefix", "message"),
    [
        (8, None, "cannot shrink from 16 to 8"),
        (40, None, "use a multiple of 16"),
        (32, "acct", "change the partition count alone"),
    ],
)
def test_impossible_reshard_is_refused_at_autogenerate(
    shard_project, pg, monkeypatch, shards, prefix, message
):
    declare(monkeypatch, 16)
    shard_project.revision("accounts")
    shard_project.upgrade()
    if prefix:
        monkeypatch.setenv("PREFIX", prefix)
    declare(monkeypatch, shards)
    with pytest.raises(CommandError, match=message):
        shard_project.revision("reshard")
    assert len(shard_project.versions()) == 1
    assert len(children(pg)) == 16


def run_online(url: str, fn, **opts) -> None:
    engine = sa.create_engine(url)
    try:
        run_with(engine, fn, **opts)
    finally:
        engine.dispose()


ORDERS = '"Sales Data"."Orders 50%"'


def orders_digest(pg) -> tuple[int, str]:
    return pg.execute(
        f"SELECT count(*), md5(string_agg((\"Tenant Id\", id, note)::text, ',' "
        f'ORDER BY "Tenant Id", id)) FROM {ORDERS}'
    ).fetchone()


def test_interrupted_split_resumes_where_it_stopped(db_url, pg):
    sqla_partition.register()
    pg.execute('CREATE SCHEMA "Sales Data"')

    def create(op):
        op.create_partitioned_table(
            "Orders 50%",
            sa.Column("Tenant Id", sa.Integer, nullable=False),
            sa.Column("id", sa.BigInteger, nullable=False),
            sa.Column("note", sa.Text),
            sa.PrimaryKeyConstraint("Tenant Id", "id"),
            partitioning=Hash("Tenant Id", partitions=2, partition_prefix="orders"),
            schema="Sales Data",
        )

    def split(op):
        op.split_hash_partitions(
            "Orders 50%",
            Hash("Tenant Id", partitions=4, partition_prefix="orders"),
            old_partitions=2,
            columns=["Tenant Id", "id", "note"],
            primary_key=["Tenant Id", "id"],
            schema="Sales Data",
        )

    run_online(db_url, create)
    pg.execute(f"INSERT INTO {ORDERS} SELECT g % 50, g, 'n' || g FROM generate_series(1, 5000) g")
    with psycopg.connect(pg.info.dsn) as blocker:  # a long reader: the swap cannot get its lock
        blocker.execute(f"LOCK TABLE {ORDERS} IN ACCESS SHARE MODE")
        with pytest.raises(sa.exc.OperationalError, match="lock timeout"):
            run_online(db_url, split, sqla_partition_lock_timeout=100, sqla_partition_retries=1)
        # stopped after copying orders_h0, before its swap: the trigger keeps the copy current
        assert children_of(pg, ORDERS) == {
            "orders_h0": "FOR VALUES WITH (modulus 2, remainder 0)",
            "orders_h1": "FOR VALUES WITH (modulus 2, remainder 1)",
        }
        copied = pg.execute('SELECT count(*) FROM "Sales Data".orders_h0_new').fetchone()[0]
        assert copied > 0
        # the key log: written by the trigger as the owner; no other role may touch it
        log_acl, definer = pg.execute(
            "SELECT c.relacl::text, p.prosecdef FROM pg_class c JOIN pg_proc p "
            "ON p.proname = c.relname AND p.pronamespace = c.relnamespace "
            "WHERE c.relname LIKE 'sqla_partition_split%' AND c.relkind = 'r'"
        ).fetchone()
        assert log_acl is None and definer
    pg.execute(f"INSERT INTO {ORDERS} SELECT g % 50, g, 'late' FROM generate_series(5001, 5400) g")
    pg.execute(f"UPDATE {ORDERS} SET note = 'changed' WHERE id % 7 = 0")
    pg.execute(f"DELETE FROM {ORDERS} WHERE id % 11 = 0")
    before = orders_digest(pg)

    run_online(db_url, split)
    assert orders_digest(pg) == before
    assert children_of(pg, ORDERS) == {
        f"orders_h{r}": f"FOR VALUES WITH (modulus 4, remainder {r})" for r in range(4)
    }
    run_online(db_url, split)  # a rerun of a finished split changes nothing
    assert orders_digest(pg) == before
    recorded = pg.execute(
        "SELECT policy->>'partitions' FROM sqla_partition.sqla_partition_policy "
        "WHERE table_name = 'Orders 50%'"
    ).fetchone()
    assert recorded == ("4",)

    run_online(db_url, lambda op: op.drop_partitioned_table("Orders 50%", schema="Sales Data"))
    left = pg.execute(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'Sales Data' AND c.relkind IN ('r', 'p')"
    ).fetchone()
    assert left == (0,)
    # the last managed table gone, nothing of sqla-partition stays behind
    assert pg.execute("SELECT to_regclass('sqla_partition.sqla_partition_policy')").fetchone() == (
        None,
    )
    assert pg.execute(
        "SELECT to_regclass('sqla_partition.sqla_partition_partitions')"
    ).fetchone() == (None,)


def children_of(pg, parent: str) -> dict[str, str]:
    rows = pg.execute(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        f"JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = '{parent}'::regclass"
    ).fetchall()
    return dict(rows)


def test_a_splits_downgrade_merges_the_partitions_back(db_url, pg):
    """Fewer partitions (a split's downgrade) merge in one transaction that holds the
    table: every row lands in the partition its hash names, nothing is lost, the record
    and the policy follow; a table other tables refer to is refused before anything."""
    sqla_partition.register()

    def create(op):
        op.create_partitioned_table(
            "accounts",
            sa.Column("tenant_id", sa.Integer, nullable=False),
            sa.Column("id", sa.BigInteger, nullable=False),
            sa.Column("note", sa.Text),
            sa.PrimaryKeyConstraint("tenant_id", "id"),
            partitioning=Hash("tenant_id", partitions=4),
        )

    def resize(partitions, old_partitions):
        def change(op):
            op.split_hash_partitions(
                "accounts",
                Hash("tenant_id", partitions=partitions),
                old_partitions=old_partitions,
                columns=["tenant_id", "id", "note"],
                primary_key=["tenant_id", "id"],
            )

        return change

    run_online(db_url, create)
    pg.execute("INSERT INTO accounts SELECT g % 97, g, 'n' || g FROM generate_series(1, 5000) g")
    digest = (
        "SELECT count(*), md5(string_agg(tenant_id || ':' || id || note, ',' "
        "ORDER BY tenant_id, id)) FROM accounts WHERE note <> 'w'"
    )
    before = pg.execute(digest).fetchone()
    # a writer inserts throughout the merge: it waits while the table is held, never fails
    stop, written, failures = threading.Event(), [], []

    def write() -> None:
        with psycopg.connect(pg.info.dsn, autocommit=True) as conn:
            while not stop.is_set():
                n = 100_000 + len(written)
                try:
                    conn.execute("INSERT INTO accounts VALUES (%s, %s, 'w')", (n % 97, n))
                    written.append(n)
                except psycopg.Error as exc:
                    failures.append(str(exc))
                    written.append(n)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    time.sleep(0.2)
    try:
        run_online(db_url, resize(2, 4))
    finally:
        time.sleep(0.2)
        stop.set()
        writer.join()
    assert failures == [] and written
    assert pg.execute("SELECT count(*) FROM accounts WHERE note = 'w'").fetchone() == (
        len(written),
    )
    assert pg.execute(digest).fetchone() == before
    children = pg.execute(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'accounts'::regclass "
        "ORDER BY 1"
    ).fetchall()
    assert children == [
        ("accounts_h0", "FOR VALUES WITH (modulus 2, remainder 0)"),
        ("accounts_h1", "FOR VALUES WITH (modulus 2, remainder 1)"),
    ]
    misplaced = pg.execute(
        "SELECT count(*) FROM accounts WHERE NOT satisfies_hash_partition("
        "'accounts'::regclass, 2, (tableoid::regclass::text = 'accounts_h1')::int, tenant_id)"
    ).fetchone()
    assert misplaced == (0,)
    assert pg.execute(
        "SELECT policy->>'partitions' FROM sqla_partition.sqla_partition_policy"
    ).fetchone() == ("2",)
    run_online(db_url, resize(4, 2))  # and the split again, online
    assert pg.execute(digest).fetchone() == before
    recorded = pg.execute(
        'SELECT array_agg(partition_name::text ORDER BY partition_name COLLATE "C") '
        "FROM sqla_partition.sqla_partition_partitions"
    ).fetchone()
    assert recorded == (["accounts_h0", "accounts_h1", "accounts_h2", "accounts_h3"],)

    pg.execute(
        "CREATE TABLE invoices (tenant_id int, account_id bigint, "
        "FOREIGN KEY (tenant_id, account_id) REFERENCES accounts)"
    )
    with pytest.raises(Exception, match="is referenced by a foreign key"):
        run_online(db_url, resize(2, 4))
    assert pg.execute(
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'accounts'::regclass"
    ).fetchone() == (4,)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (
            "CREATE TABLE invoices (tenant_id int, account_id bigint, "
            "FOREIGN KEY (tenant_id, account_id) REFERENCES accounts)",
            "is referenced by a foreign key",
        ),
        ("ALTER TABLE accounts ADD COLUMN added_later text", "differ from the ones"),
        (
            "ALTER TABLE accounts DROP CONSTRAINT accounts_pkey, "
            "ADD PRIMARY KEY (tenant_id, id, v)",
            "differ from the ones",
        ),
        ("CREATE TABLE accounts_h2 (note text)", "named like a split table"),
        ("ALTER TABLE accounts DETACH PARTITION accounts_h0", "is not as this migration expects"),
    ],
)
def test_split_refuses_before_changing_anything(db_url, pg, setup, message):
    sqla_partition.register()

    def create(op):
        op.create_partitioned_table(
            "accounts",
            sa.Column("tenant_id", sa.Integer, nullable=False),
            sa.Column("id", sa.BigInteger, nullable=False),
            sa.Column("v", sa.Integer, nullable=False),
            sa.PrimaryKeyConstraint("tenant_id", "id"),
            partitioning=Hash("tenant_id", partitions=2),
        )

    def split(op):
        op.split_hash_partitions(
            "accounts",
            Hash("tenant_id", partitions=4),
            old_partitions=2,
            columns=["tenant_id", "id", "v"],
            primary_key=["tenant_id", "id"],
        )

    run_online(db_url, create)
    pg.execute(setup)
    before = children_of(pg, "accounts")
    with pytest.raises(sa.exc.DBAPIError, match=message):
        run_online(db_url, split)
    assert children_of(pg, "accounts") == before
    made = pg.execute(
        "SELECT relname FROM pg_class WHERE relname = 'accounts_h0_new' "
        "OR relname LIKE 'sqla_partition_split%'"
    ).fetchall()
    assert made == []
    recorded = pg.execute(
        "SELECT policy->>'partitions' FROM sqla_partition.sqla_partition_policy "
        "WHERE table_name = 'accounts'"
    ).fetchone()
    assert recorded == ("2",)
