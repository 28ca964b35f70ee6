"""Rows whose audit columns their defaults filled skip the columns trigger: what that
changes (nothing a reader sees), when the trigger still fires, and the defaults' life
beside the model and autogenerate."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from sqla_partition import Audit, audit_table

from .test_hash import run_online

COLUMNS_FUNCTION = "sqla_partition_audit_columns"
ACTOR_FUNCTION = "sqla_partition_audit_actor"


def calls(pg, function: str) -> int:
    """Calls of ``function`` not yet reported (track_functions is on): they include the
    current transaction's, and maybe an earlier one's, so each test takes differences."""
    row = pg.execute(
        "SELECT calls FROM pg_stat_xact_user_functions WHERE funcname = %s", (function,)
    ).fetchone()
    return row[0] if row else 0


class Counted:
    """The calls of the audit functions since the counter was made (within a transaction)."""

    def __init__(self, pg):
        self.pg = pg
        self.start = {f: calls(pg, f) for f in (COLUMNS_FUNCTION, ACTOR_FUNCTION)}

    def __call__(self, function: str = COLUMNS_FUNCTION) -> int:
        return calls(self.pg, function) - self.start[function]


def audited_docs(db_url, pg, audit: Audit | None = None, extra: str = "") -> None:
    audit = audit or Audit()
    pg.execute(
        "CREATE TABLE docs (id int PRIMARY KEY, body text, "
        "created_at timestamptz NOT NULL DEFAULT now(), "
        "updated_at timestamptz NOT NULL DEFAULT now(), "
        f"created_by {audit.actor_type}, updated_by {audit.actor_type}{extra})"
    )
    run_online(db_url, lambda op: op.enable_audit("docs", audit, primary_key=["id"]))


def defaults(pg, table: str = "docs") -> dict[str, str | None]:
    return dict(
        pg.execute(
            "SELECT a.attname, pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute AS a "
            "LEFT JOIN pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "WHERE a.attrelid = %s::regclass AND a.attname LIKE '%%\\_by'",
            (table,),
        ).fetchall()
    )


def test_rows_their_defaults_fill_skip_the_columns_trigger(db_url, pg):
    audited_docs(db_url, pg)
    pg.execute("SET track_functions = 'pl'")
    with pg.transaction():
        counted = Counted(pg)
        pg.execute("SELECT set_config('app.user_id', '42', true)")
        pg.execute("INSERT INTO docs (id, body) SELECT g, 'a' FROM generate_series(1, 50) g")
        assert (counted(), counted(ACTOR_FUNCTION)) == (0, 1)
        pg.execute("UPDATE docs SET body = 'b' WHERE id <= 20")  # stamped by the insert
        assert counted() == 0
        # what a row gives, or leaves NULL, still goes through the trigger
        pg.execute("INSERT INTO docs (id, created_by, updated_by) VALUES (51, NULL, NULL)")
        pg.execute("INSERT INTO docs (id, updated_at) VALUES (52, NULL)")
        assert counted() == 2
    assert pg.execute(
        "SELECT count(*) FILTER (WHERE created_by = 42 AND updated_by = 42 "
        "AND updated_at = created_at), count(*) FROM docs"
    ).fetchone() == (52, 52)
    with pg.transaction():  # a later transaction: each row stamped, once
        counted = Counted(pg)
        pg.execute("SELECT set_config('app.user_id', '7', true)")
        pg.execute("UPDATE docs SET body = 'd' WHERE id <= 20")
        assert counted() == 20
        pg.execute("UPDATE docs SET body = 'e' WHERE id <= 20")
        assert counted() == 20
        pg.execute("SELECT set_config('app.user_id', '8', true)")  # another actor: again
        pg.execute("UPDATE docs SET body = 'f' WHERE id <= 20")
        assert counted() == 40
        pg.execute("SELECT set_config('app.user_id', '7', true)")
        pg.execute("UPDATE docs SET body = 'g' WHERE id <= 20")
    assert pg.execute(
        "SELECT count(*) FROM docs WHERE created_by = 42 AND updated_by = 7 "
        "AND updated_at > created_at"
    ).fetchone() == (20,)
    with pg.transaction():  # no actor (a background job): nothing to fill in
        counted = Counted(pg)
        pg.execute("INSERT INTO docs (id) SELECT g FROM generate_series(100, 109) g")
        assert counted() == 0
    assert pg.execute(
        "SELECT count(*) FROM docs WHERE id >= 100 AND created_by IS NULL AND updated_by IS NULL"
    ).fetchone() == (10,)


def test_an_actor_that_is_not_one_is_refused_with_its_message(db_url, pg):
    audited_docs(db_url, pg)
    with (
        pytest.raises(psycopg.errors.InvalidParameterValue, match="integer user id"),
        pg.transaction(),
    ):
        pg.execute("SELECT set_config('app.user_id', 'alice', true)")
        pg.execute("INSERT INTO docs (id) SELECT g FROM generate_series(1, 5) g")
    pg.execute("DROP TABLE docs")
    audited_docs(db_url, pg, Audit(actor_type="uuid"))
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="uuid"), pg.transaction():
        pg.execute("SELECT set_config('app.user_id', '42', true)")
        pg.execute("INSERT INTO docs (id) VALUES (1)")
    assert pg.execute("SELECT count(*) FROM docs").fetchone() == (0,)


def test_the_defaults_are_ours_alone_to_remove(db_url, pg):
    """enable_audit gives a default only where a column has none; disable_audit takes back
    only its own."""
    audited_docs(db_url, pg, extra="")
    pg.execute("ALTER TABLE docs ALTER COLUMN updated_by SET DEFAULT 7")
    run_online(db_url, lambda op: op.disable_audit("docs", Audit()))
    assert defaults(pg) == {"created_by": None, "updated_by": "7"}
    run_online(db_url, lambda op: op.enable_audit("docs", Audit(), primary_key=["id"]))
    assert defaults(pg)["updated_by"] == "7"
    assert "current_setting('app.user_id'::text, true)" in defaults(pg)["created_by"]
    old = Audit()
    new = Audit(actor_setting="app.actor")
    run_online(
        db_url, lambda op: op.enable_audit("docs", new, old=old, primary_key=["id"])
    )  # the actor's setting changed: its default follows
    assert "'app.actor'::text" in defaults(pg)["created_by"]
    assert defaults(pg)["updated_by"] == "7"
    run_online(db_url, lambda op: op.enable_audit("docs", Audit(who=False), old=new))
    assert defaults(pg) == {"created_by": None, "updated_by": "7"}
    assert pg.execute(
        "SELECT count(*) FROM pg_trigger WHERE tgname = 'sqla_partition_audit_actor'"
    ).fetchone() == (0,)


@pytest.mark.parametrize("actor_type", ["bigint", "text", "uuid"])
def test_autogenerate_finds_the_model_and_the_defaults_equal(db_url, pg, actor_type):
    """With ``compare_server_default``, the defaults the model declares (for the columns it
    adds, and for a declared column without one) read back as the database prints them."""
    audit = Audit(actor_type=actor_type)
    metadata = sa.MetaData()
    kind = {"bigint": sa.BigInteger, "text": sa.Text, "uuid": sa.Uuid}[actor_type]
    added = sa.Table("docs", metadata, sa.Column("id", sa.Integer, primary_key=True))
    declared = sa.Table(
        "notes",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_by", kind()),
    )
    for table in (added, declared):
        audit_table(table, audit)
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            metadata.create_all(conn, tables=[added])
            conn.execute(
                sa.text(f"CREATE TABLE notes (id int PRIMARY KEY, created_by {actor_type})")
            )
            conn.execute(
                sa.text(
                    "ALTER TABLE notes ADD COLUMN created_at timestamptz NOT NULL DEFAULT now(), "
                    "ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now(), "
                    f"ADD COLUMN updated_by {actor_type}"
                )
            )
        for name in ("docs", "notes"):
            run_online(db_url, lambda op, n=name: op.enable_audit(n, audit, primary_key=["id"]))
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()
    assert all(defaults(pg, t)[c] for t in ("docs", "notes") for c in ("created_by", "updated_by"))


def test_hostile_names_get_and_lose_their_defaults(db_url, pg):
    schema, table = 'Odd "S"', 'Docs "x"; --'
    target = '"Odd ""S"""."Docs ""x""; --"'
    pg.execute('CREATE SCHEMA "Odd ""S"""')
    pg.execute(
        f"CREATE TABLE {target} (id int PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT "
        "now(), updated_at timestamptz NOT NULL DEFAULT now(), created_by bigint, "
        "updated_by bigint)"
    )
    run_online(
        db_url, lambda op: op.enable_audit(table, Audit(), primary_key=["id"], schema=schema)
    )
    pg.execute("SET track_functions = 'pl'")
    with pg.transaction():
        counted = Counted(pg)
        pg.execute("SELECT set_config('app.user_id', '42', true)")
        pg.execute(f"INSERT INTO {target} (id) SELECT g FROM generate_series(1, 10) g")
        assert (counted(), counted(ACTOR_FUNCTION)) == (0, 1)
    assert pg.execute(f"SELECT count(*) FROM {target} WHERE created_by = 42").fetchone() == (10,)
    run_online(db_url, lambda op: op.disable_audit(table, Audit(), schema=schema))
    assert set(defaults(pg, target).values()) == {None}


class Writer(threading.Thread):
    """Inserts a row per transaction, naming its actor first, until stopped."""

    def __init__(self, dsn: str) -> None:
        super().__init__(daemon=True)
        self.dsn, self.stop, self.written, self.failed = dsn, threading.Event(), 0, []

    def run(self) -> None:
        with psycopg.connect(self.dsn) as conn:
            while not self.stop.is_set():
                try:
                    conn.execute("SELECT set_config('app.user_id', '42', true)")
                    conn.execute("INSERT INTO events (body) VALUES ('x')")
                    conn.commit()
                    self.written += 1
                except psycopg.Error as exc:
                    conn.rollback()
                    self.failed.append(str(exc).splitlines()[0])
                time.sleep(0.001)


def test_auditing_turns_on_under_writers(db_url, pg):
    """enable_audit gives the partitions' columns their defaults (a brief exclusive lock)
    and its triggers while a writer inserts: no write fails, and every row written after
    it is stamped, every one before it is not."""
    pg.execute(
        "CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY, body text, "
        "created_at timestamptz NOT NULL DEFAULT now(), "
        "updated_at timestamptz NOT NULL DEFAULT now(), created_by bigint, updated_by bigint, "
        "PRIMARY KEY (id)) PARTITION BY HASH (id)"
    )
    for i in range(4):
        bound = f"FOR VALUES WITH (MODULUS 4, REMAINDER {i})"
        pg.execute(f"CREATE TABLE events_{i} PARTITION OF events {bound}")
    writer = Writer(pg.info.dsn)
    writer.start()
    try:
        time.sleep(0.3)
        run_online(db_url, lambda op: op.enable_audit("events", Audit(), primary_key=["id"]))
        time.sleep(0.3)
    finally:
        writer.stop.set()
        writer.join(10)
    assert writer.failed == [] and writer.written > 50
    before, after, first_after = pg.execute(
        "SELECT count(*) FILTER (WHERE created_by IS NULL), count(*) FILTER (WHERE created_by "
        "= 42 AND updated_by = 42), min(id) FILTER (WHERE created_by = 42) FROM events"
    ).fetchone()
    assert before > 0 and after > 0 and before + after == writer.written
    assert pg.execute(
        "SELECT count(*) FROM events WHERE created_by IS NULL AND id > %s", (first_after,)
    ).fetchone() == (0,)
    assert all(defaults(pg, f"events_{i}")["created_by"] for i in range(4))


def test_auditing_a_table_without_the_columns_is_refused_in_one_line(db_url, pg):
    from alembic.util import CommandError

    from sqla_partition import one_line_errors

    pg.execute('CREATE TABLE "Odd ""docs""" (id int PRIMARY KEY, created_at timestamptz)')
    with pytest.raises(CommandError) as caught, one_line_errors():
        run_online(db_url, lambda op: op.enable_audit('Odd "docs"', Audit(), primary_key=["id"]))
    assert str(caught.value).startswith(
        '"Odd ""docs""" has no column updated_at, created_by, updated_by (the audit keeps '
    )
    assert pg.execute(
        'SELECT count(*) FROM pg_trigger WHERE tgrelid = \'"Odd ""docs"""\'::regclass'
    ).fetchone() == (0,)
