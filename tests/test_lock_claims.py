"""The lock each statement's comment claims is the heaviest it really takes.

Each statement runs on a real PostgreSQL; the locks its backend holds are read from
pg_locks and compared with the claim. A heavier lock than claimed fails the test.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time

import psycopg
import pytest

from sqla_partition import Range, sql
from sqla_partition.sql.audit_actor import drop_actor_defaults

from .test_roll import make_table

STRENGTH = {
    "ACCESS SHARE": 1,
    "ROW SHARE": 2,
    "ROW EXCLUSIVE": 3,
    "SHARE UPDATE EXCLUSIVE": 4,
    "SHARE": 5,
    "SHARE ROW EXCLUSIVE": 6,
    "EXCLUSIVE": 7,
    "ACCESS EXCLUSIVE": 8,
}
PG_MODE = {
    "AccessShareLock": 1,
    "RowShareLock": 2,
    "RowExclusiveLock": 3,
    "ShareUpdateExclusiveLock": 4,
    "ShareLock": 5,
    "ShareRowExclusiveLock": 6,
    "ExclusiveLock": 7,
    "AccessExclusiveLock": 8,
}
_CLAIM = re.compile(
    r"(ACCESS EXCLUSIVE|ACCESS SHARE|ROW EXCLUSIVE|ROW SHARE|SHARE UPDATE EXCLUSIVE|"
    r"SHARE ROW EXCLUSIVE|SHARE|EXCLUSIVE) on (.+)"
)
HELD = """
SELECT c.relname, max(CASE l.mode {cases} END)
  FROM pg_locks l
  JOIN pg_class c ON c.oid = l.relation
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE l.pid = %s AND l.locktype = 'relation' AND (l.granted OR %s)
   AND c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
 GROUP BY c.relname
""".format(cases=" ".join(f"WHEN '{m}' THEN {s}" for m, s in PG_MODE.items()))


def claims(stmt: sql.Statement) -> dict[str, int]:
    out: dict[str, int] = {}
    for clause in stmt.lock.split(", "):
        m = _CLAIM.match(clause)
        if not m:
            continue
        target = m.group(2).split(" (")[0]
        for name in re.split(r" and ", target):
            out[name.strip()] = STRENGTH[m.group(1)]
    return out


def tables(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute("SELECT relname FROM pg_class WHERE relkind IN ('r', 'p')").fetchall()
    return {r[0] for r in rows}


def held(conn: psycopg.Connection, pid: int, *, requested: bool = False) -> dict[str, int]:
    """Table locks ``pid`` holds (and, with ``requested``, is waiting for)."""
    return dict(conn.execute(HELD, (pid, requested)).fetchall())


def assert_within_claim(stmt: sql.Statement, locks: dict[str, int], existed: set[str]) -> None:
    claimed = claims(stmt)
    for table, strength in locks.items():
        if table not in existed:
            continue  # made by this statement: nobody else could be waiting for it
        limit = claimed.get(table, 0)
        if "every partition" in stmt.lock and table.startswith(next(iter(claimed), "")):
            limit = max(claimed.values())
        assert strength <= limit, (
            f"{stmt.sql[:70]}…: takes mode {strength} on {table}, claims {stmt.lock!r}"
        )


def run_and_probe(
    pg: psycopg.Connection, setup: list[str], stmt: sql.Statement
) -> tuple[dict[str, int], set[str]]:
    """Run ``stmt`` after ``setup`` in one transaction; the table locks it held, and the
    tables that existed before it (locks on tables it made itself count for nothing)."""
    with psycopg.connect(pg.info.dsn) as conn:
        for s in setup:
            conn.execute(s)
        conn.commit()
        existed = tables(conn)
        conn.execute(stmt.sql)
        locks = held(pg, conn.info.backend_pid)
        conn.rollback()
    return locks, existed


UTC = dt.timezone.utc
LO, HI = dt.datetime(2027, 3, 1, tzinfo=UTC), dt.datetime(2027, 4, 1, tzinfo=UTC)


def cases() -> list[tuple[str, list[str], sql.Statement]]:
    """(name, setup statements, statement under test) on the table made by make_table."""
    child = "events_p2027_03"
    like = sql.create_detached_child("events", child, "public").sql
    check = sql.add_bound_check(child, "created_at", LO, HI, "timestamptz", "public").sql
    return [
        ("create child", [], sql.create_detached_child("events", child, "public")),
        (
            "add check",
            [like],
            sql.add_bound_check(child, "created_at", LO, HI, "timestamptz", "public"),
        ),
        ("hold writers", [], sql.lock_parent_for_attach("events", "events_default", "public")),
        (
            "hold queries for a move",
            [],
            sql.lock_parent_for_attach("events", "events_default", "public", moving=True),
        ),
        ("lock default", [], sql.lock_default("events_default", "public")),
        (
            "move rows",
            [like],
            sql.move_rows("events_default", child, "created_at", LO, HI, "timestamptz", "public"),
        ),
        (
            "attach with default",
            [like, check],
            sql.attach_range_partition(
                "events", child, LO, HI, "timestamptz", "public", "events_default"
            ),
        ),
        (
            "detach with default",
            [],
            sql.detach_partition("events", "events_p2026_11", "public", default="events_default"),
        ),
        (
            "drop detached",
            ["ALTER TABLE events DETACH PARTITION events_p2026_11"],
            sql.drop_table("events_p2026_11", "public"),
        ),
        (
            "re-attach: drop check",
            ["ALTER TABLE events DETACH PARTITION events_p2026_11"],
            sql.drop_bound_check("events_p2026_11", "public"),
        ),
        (
            "archive",
            ["ALTER TABLE events DETACH PARTITION events_p2026_11", "CREATE SCHEMA archive"],
            sql.set_schema("events_p2026_11", "public", "archive"),
        ),
        ("policy upsert", [], sql.upsert_policy("events", None, "{}", "timestamptz")),
        ("policy table", [], sql.create_policy_table()),
        ("mark rolled", [], sql.mark_rolled("events", "public")),
        (
            "create parent's partition",
            ["CREATE TABLE fresh (k int) PARTITION BY RANGE (k)"],
            sql.create_partition_of("fresh", "fresh_p1", "FOR VALUES FROM (1) TO (2)"),
        ),
        ("drop partitioned table", [], sql.drop_partitioned_table("events")),
    ]


@pytest.mark.parametrize("case", range(len(cases())), ids=[c[0] for c in cases()])
def test_transactional_statement_takes_no_more_than_it_claims(db_url, pg, case):
    make_table(db_url, Range("created_at", default=True))
    name, setup, stmt = cases()[case]
    locks, existed = run_and_probe(pg, setup, stmt)
    if "only when it is new" not in stmt.lock:
        assert locks, f"{name}: no table lock seen, the probe is not looking"
    assert_within_claim(stmt, locks, existed)


def test_detach_concurrently_takes_no_more_than_it_claims(db_url, pg):
    make_table(db_url, Range("created_at"))
    stmt = sql.detach_partition("events", "events_p2026_11", "public", concurrently=True)
    existed = tables(pg)
    holder = psycopg.connect(pg.info.dsn)  # the detach queues behind it, showing its locks
    holder.execute("LOCK TABLE events_p2026_11 IN ACCESS SHARE MODE")
    worker = psycopg.connect(pg.info.dsn, autocommit=True)
    pid = worker.info.backend_pid
    thread = threading.Thread(target=lambda: worker.execute(stmt.sql), daemon=True)
    thread.start()
    seen: dict[str, int] = {}
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        for table, strength in held(pg, pid, requested=True).items():
            seen[table] = max(seen.get(table, 0), strength)
        time.sleep(0.02)
    holder.rollback()
    holder.close()
    thread.join(10)
    worker.close()
    assert seen.get("events_p2026_11") == STRENGTH["ACCESS EXCLUSIVE"], seen
    assert_within_claim(stmt, seen, existed)


def split_of_accounts() -> sql.HashSplit:
    from sqla_partition.declaration.policies import Hash, TablePolicy
    from sqla_partition.planning.hash_split import hash_split

    (first, *_) = hash_split(
        TablePolicy("accounts", Hash("tenant_id", 2), "hash", "public"),
        TablePolicy("accounts", Hash("tenant_id", 4), "hash", "public"),
        ("tenant_id", "id"),
        ("tenant_id", "id"),
    )
    return first


ACCOUNTS = [
    "CREATE TABLE accounts (tenant_id int, id bigint, PRIMARY KEY (tenant_id, id)) "
    "PARTITION BY HASH (tenant_id)",
    "CREATE TABLE accounts_h0 PARTITION OF accounts FOR VALUES WITH (MODULUS 2, REMAINDER 0)",
    "CREATE TABLE accounts_h1 PARTITION OF accounts FOR VALUES WITH (MODULUS 2, REMAINDER 1)",
    "INSERT INTO accounts SELECT g, g FROM generate_series(1, 100) g",
]


def split_cases() -> list[tuple[str, list[str], sql.Statement]]:
    s = split_of_accounts()
    prepared = [sql.split_trigger_function(s).sql, sql.split_prepare(s).sql]
    copied = "INSERT INTO accounts_h0_new SELECT * FROM accounts_h0 WHERE " + (
        "satisfies_hash_partition('accounts'::regclass, 4, 0, tenant_id); "
        "INSERT INTO accounts_h2 SELECT * FROM accounts_h0 WHERE "
        "satisfies_hash_partition('accounts'::regclass, 4, 2, tenant_id)"
    )
    sub = "events_p2027_03"
    sub_like = sql.create_detached_child("events", sub, "public", hash_column="id").sql
    sub_part = sql.create_hash_partition_of(sub, f"{sub}_h0", 2, 0, "public")
    return [
        ("split: prepare", ACCOUNTS + prepared[:1], sql.split_prepare(s)),
        ("split: swap", [*ACCOUNTS, *prepared, copied], sql.split_swap(s)),
        ("range of hashes: hash partition", [sub_like], sub_part),
        (
            "range of hashes: attach",
            [sub_like, sub_part.sql, sql.create_hash_partition_of(sub, f"{sub}_h1", 2, 1).sql],
            sql.attach_range_partition(
                "events",
                sub,
                LO,
                HI,
                "timestamptz",
                "public",
                "events_default",
                subpartitioned=True,
            ),
        ),
    ]


@pytest.mark.parametrize("case", range(len(split_cases())), ids=[c[0] for c in split_cases()])
def test_split_and_subpartition_statements_take_no_more_than_they_claim(db_url, pg, case):
    make_table(db_url, Range("created_at", default=True))
    name, setup, stmt = split_cases()[case]
    locks, existed = run_and_probe(pg, setup, stmt)
    assert locks, f"{name}: no table lock seen, the probe is not looking"
    if "events_p2027_03 and its partitions" in stmt.lock:  # the attached table's own
        locks = {t: m for t, m in locks.items() if not t.startswith("events_p2027_03_")}
    assert_within_claim(stmt, locks, existed)


def audit_cases() -> list[tuple[str, sql.Statement]]:
    functions = sql.create_audit_functions()
    check, trigger, comment = sql.create_audit_trigger("events", "public", "{}", ["app.user_id"])
    who = sql.create_audit_trigger(
        "events", "public", "{}", ["app.user_id", "bigint", "who", "database"]
    )
    move = who[-1]
    return [
        ("audit columns check", check),
        ("actor defaults", who[1]),
        ("actor trigger", who[4]),
        ("drop actor defaults", drop_actor_defaults("events", "public", "app.user_id")),
        ("audit functions", functions[3]),
        ("audit move trigger", move),
        ("trail function", sql.create_trail_function("events", "public", ["id"])[0]),
        ("audit trigger", trigger),
        ("audit comment", comment),
        ("trail trigger", sql.create_trail_triggers("events", "public", ["app.user_id", "id"])[1]),
        ("drop audit trigger", sql.drop_audit_triggers("events", "public", trail=False)[0]),
        (
            "attach partition index",
            sql.attach_index(
                "ix_note", "events_p2026_11_note_idx", "public", ("events", "events_p2026_11")
            ),
        ),
    ]


def who_defaults_sql() -> str:
    return sql.create_audit_trigger(
        "events", "public", "{}", ["app.user_id", "bigint", "who", "database"]
    )[1].sql


@pytest.mark.parametrize("case", range(len(audit_cases())), ids=[c[0] for c in audit_cases()])
def test_audit_statements_take_no_more_than_they_claim(db_url, pg, case):
    make_table(db_url, Range("created_at", default=True))
    name, stmt = audit_cases()[case]
    setup = [s.sql for s in sql.create_audit_functions()]
    setup.append(
        "ALTER TABLE events ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now(), "
        "ADD COLUMN created_by bigint, ADD COLUMN updated_by bigint"
    )
    if name == "drop actor defaults":
        setup.append(who_defaults_sql())
    setup += [s.sql for s in sql.create_trail_function("events", "public", ["id"])]
    setup.append(sql.create_audit_trigger("events", "public", "{}", ["app.user_id"])[1].sql)
    setup += [
        "CREATE INDEX ix_note ON ONLY events (note)",
        "CREATE INDEX events_p2026_11_note_idx ON events_p2026_11 (note)",
    ]
    locks, existed = run_and_probe(pg, setup, stmt)
    if "and its partitions" in stmt.lock:  # every partition, the same mode as the table
        locks = {t: m for t, m in locks.items() if not t.startswith("events_")}
    if stmt.lock != "no table lock":
        assert locks, f"{name}: no table lock seen, the probe is not looking"
    assert_within_claim(stmt, locks, existed)


def list_cases() -> list[tuple[str, list[str], sql.Statement]]:
    """List statements on ``orders`` (eu: de, fr; DEFAULT), rows of 'jp' in the DEFAULT."""
    asia = sql.create_detached_child("orders", "orders_asia", "public").sql
    checks = sql.add_list_check("orders_eu", "region", ["de", "fr", "nl"], "public")
    return [
        ("list child or archive", [], sql.list_child_or_archive("orders", "orders_asia", "public")),
        (
            "move list rows",
            [asia],
            sql.move_list_rows("orders_default", "orders_asia", "region", ["jp"], "public"),
        ),
        (
            "attach list partition beside default",
            [asia],
            sql.attach_list_partition("orders", "orders_asia", ["sg"], "public", "orders_default"),
        ),
        ("add list check", [], checks[1]),
        ("validate list check", [checks[1].sql], checks[2]),
        ("drop list check", [checks[1].sql], sql.drop_list_check("orders_eu", "public")),
    ]


@pytest.mark.parametrize("case", range(len(list_cases())), ids=[c[0] for c in list_cases()])
def test_list_statements_take_no_more_than_they_claim(pg, case):
    pg.execute(
        "CREATE TABLE orders (id bigint, region text NOT NULL, PRIMARY KEY (id, region)) "
        "PARTITION BY LIST (region)"
    )
    pg.execute("CREATE TABLE orders_eu PARTITION OF orders FOR VALUES IN ('de', 'fr')")
    pg.execute("CREATE TABLE orders_default PARTITION OF orders DEFAULT")
    pg.execute("INSERT INTO orders VALUES (1, 'de'), (2, 'jp')")
    pg.execute(sql.create_record_table().sql)
    name, setup, stmt = list_cases()[case]
    locks, existed = run_and_probe(pg, setup, stmt)
    if stmt.lock != "no table lock":
        assert locks, f"{name}: no table lock seen, the probe is not looking"
    assert_within_claim(stmt, locks, existed)
