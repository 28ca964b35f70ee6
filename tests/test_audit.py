"""Audit columns and trail on a real PostgreSQL: autogenerate, ORM and raw SQL writes, the
actor, updates that move rows between partitions, and the trail rolled like any table."""

from __future__ import annotations

import datetime as dt
import json
import sys
import textwrap

import psycopg
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, sessionmaker

from sqla_partition import Audit, PolicyError, audit_table, set_actor
from sqla_partition.cli import main

from . import clock
from .alembic_project import models_project

MODELS = textwrap.dedent(
    """
    import os

    import sqlalchemy as sa
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

    from sqla_partition import Audit, Range


    class Base(DeclarativeBase):
        pass


    class Event(Base):
        __tablename__ = "events"
        __partitioning__ = Range("created_at", premake=2, retention="3 months", default=True)
        __audit__ = Audit(trail=True)
        id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
        created_at = mapped_column(
            sa.DateTime(timezone=True), primary_key=True, server_default=sa.func.now()
        )
        body: Mapped[str] = mapped_column(sa.Text)


    class Note(Base):
        __tablename__ = "notes"
        if os.environ.get("AUDIT_NOTES"):
            __audit__ = Audit(actor_type="text", soft_delete=True)
        id: Mapped[int] = mapped_column(primary_key=True)
        text: Mapped[str]
    """
)


@pytest.fixture
def project(tmp_path, db_url, monkeypatch):
    monkeypatch.delenv("AUDIT_NOTES", raising=False)
    now = clock.NOW.isoformat()
    with models_project(tmp_path, db_url, monkeypatch, "audit_models", MODELS, now) as project:
        yield project


def models():
    import audit_models

    return audit_models


def trail(pg, table="events"):
    return pg.execute(
        "SELECT operation, actor, row_key, diff FROM sqla_partition.sqla_partition_audit_trail "
        "WHERE table_name = %s ORDER BY id",
        (table,),
    ).fetchall()


def roll(db_url, now):
    result = CliRunner().invoke(main, ["roll", "--database-url", db_url, "--now", now, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.clock
def test_audit_columns_and_trail_end_to_end(project, db_url, pg, monkeypatch):
    text = project.revision("audited")
    upgrade = text.split("def downgrade")[0]
    assert "op.create_partitioned_table('sqla_partition_audit_trail'" in upgrade
    assert (
        "op.enable_audit('events', sqla_partition.Audit(trail=True), "
        "primary_key=['id', 'created_at'], columns=['id', 'created_at', 'body', "
        "'updated_at', 'created_by', 'updated_by'])" in upgrade
    )
    assert upgrade.index("'sqla_partition_audit_trail'") < upgrade.index("enable_audit")
    assert "sa.Column('updated_by', sa.BigInteger()" in upgrade
    project.upgrade()
    project.check()  # the trail and the triggers are in sync: nothing to generate

    m = models()
    now = clock.NOW  # every row is dated by the test clock (the suite's owner may give it)
    engine = sa.create_engine(db_url)
    with Session(engine) as session, session.begin():
        set_actor(session, 7)
        session.add(m.Event(body="orm", created_at=now))
    with Session(engine) as session, session.begin():
        set_actor(session, 8)
        event = session.scalars(sa.select(m.Event)).one()
        event.body = "orm, edited"
    row = pg.execute(
        "SELECT created_by, updated_by, created_at = %s, updated_at <> created_at "
        "FROM events WHERE body = 'orm, edited'",
        (now,),
    ).fetchone()
    assert row == (7, 8, True, True)  # the update stamped updated_at, kept the creation

    # the web-app pattern from docs/audit.md: the actor is set as each transaction begins
    factory = sessionmaker(engine)
    current_user = {"id": 11}

    @sa_event.listens_for(factory, "after_begin")
    def _actor(session, transaction, connection):
        set_actor(connection, current_user["id"])

    with factory() as session, session.begin():
        session.add(m.Event(body="from a request", created_at=now))
    current_user["id"] = None  # a background job: no actor
    with factory() as session, session.begin():
        session.add(m.Event(body="from a job", created_at=now))
    assert pg.execute(
        "SELECT body, created_by FROM events WHERE body LIKE 'from %' ORDER BY body"
    ).fetchall() == [("from a job", None), ("from a request", 11)]
    pg.execute("DELETE FROM events WHERE body LIKE 'from %'")
    pg.execute(
        "DELETE FROM sqla_partition.sqla_partition_audit_trail WHERE diff->>'body' LIKE 'from %'"
    )

    # raw SQL, no actor: the database still keeps the timestamps (dated by the server's
    # clock, so the row is deleted below, before the test clock's months are rolled)
    pg.execute("INSERT INTO events (body) VALUES ('raw')")
    assert pg.execute(
        "SELECT created_by, updated_at = created_at FROM events WHERE body = 'raw'"
    ).fetchone() == (None, True)
    with pg.transaction():
        pg.execute("SELECT set_config('app.user_id', '9', true)")
        pg.execute("UPDATE events SET body = 'raw, edited' WHERE body = 'raw'")
    assert pg.execute("SELECT updated_by FROM events WHERE body = 'raw, edited'").fetchone() == (9,)

    refused = pytest.raises(psycopg.errors.InvalidParameterValue, match="integer user id")
    with refused, pg.transaction():
        pg.execute("SELECT set_config('app.user_id', 'alice', true)")
        pg.execute("INSERT INTO events (created_at, body) VALUES (%s, 'refused')", (now,))

    events = trail(pg)
    assert [(op, actor) for op, actor, _, _ in events] == [
        ("INSERT", "7"),
        ("UPDATE", "8"),
        ("INSERT", None),
        ("UPDATE", "9"),
    ]
    assert events[1][3] == {"body": ["orm", "orm, edited"]}  # only what changed
    assert set(events[1][2]) == {"id", "created_at"}
    pg.execute("DELETE FROM events WHERE body = 'raw, edited'")

    # one statement, several rows, some of them moving to next month's partition
    pg.execute(
        "INSERT INTO events (created_at, body) "
        "SELECT %s + g * interval '1 hour', 'b' || g FROM generate_series(1, 6) g",
        (clock.month(0) + dt.timedelta(days=9),),
    )
    before = len(trail(pg))
    pg.execute(
        "UPDATE events SET body = body || '!', created_at = CASE WHEN body IN ('b2', 'b4') "
        "THEN created_at + interval '1 month' ELSE created_at END WHERE body LIKE 'b_'"
    )
    next_month = f"events_{clock.suffix(1)}"
    moved = pg.execute(
        "SELECT count(*) FROM events WHERE tableoid = %s::regclass", (next_month,)
    ).fetchone()
    assert moved == (2,)
    updates = trail(pg)[before:]
    assert [op for op, *_ in updates] == ["UPDATE"] * 6  # no DELETE + INSERT for the moves
    for _, _, key, diff in updates:
        old_body, new_body = diff["body"]
        assert new_body == old_body + "!"  # each event pairs a row's own old and new image
        assert str(key["id"]) and ("created_at" in diff) == (old_body in ("b2", "b4"))

    with pg.transaction():  # a row created by 7, moved to next month by 8
        pg.execute("SELECT set_config('app.user_id', '8', true)")
        pg.execute(
            "UPDATE events SET created_at = created_at + interval '1 month' "
            "WHERE body = 'orm, edited'"
        )
    assert pg.execute(
        "SELECT created_by, updated_by, tableoid::regclass::text FROM events "
        "WHERE body = 'orm, edited'"
    ).fetchone() == (7, 8, next_month)

    pg.execute("DELETE FROM events WHERE body = 'b1!'")
    op, _, key, diff = trail(pg)[-1]
    assert op == "DELETE" and diff["body"] == "b1!" and "id" in key
    assert pg.execute(
        "SELECT count(*) FROM sqla_partition.sqla_partition_audit_trail "
        "WHERE table_name <> 'events'"
    ).fetchone() == (0,)  # events are named by the parent, never by a partition

    # roll: new months of events get the audit trigger; the trail is rolled too
    out = roll(db_url, (clock.month(2) + dt.timedelta(days=14)).isoformat())
    created = {t["table"]: t["created"] for t in out["tables"]}
    assert created["public.events"] == [f"events_{clock.suffix(3)}", f"events_{clock.suffix(4)}"]
    assert (
        f"sqla_partition_audit_trail_{clock.suffix(4)}"
        in created["sqla_partition.sqla_partition_audit_trail"]
    )
    pg.execute(
        "INSERT INTO events (created_at, body) VALUES (%s, 'future')",
        (clock.month(4) + dt.timedelta(days=1),),
    )
    assert pg.execute(
        "SELECT tableoid::regclass::text, updated_at IS NOT NULL FROM events WHERE body = 'future'"
    ).fetchone() == (f"events_{clock.suffix(4)}", True)
    project.check()

    # trail months past 12 months are detached
    out = roll(db_url, (clock.month(16) + dt.timedelta(days=4)).isoformat())
    detached = {t["table"]: t["detached"] for t in out["tables"]}
    assert (
        f"sqla_partition_audit_trail_{clock.suffix(0)}"
        in detached["sqla_partition.sqla_partition_audit_trail"]
    )
    project.check()
    engine.dispose()

    # downgrade base: the trail's archives are history, dropped only when the file says so
    with pytest.raises(Exception, match="archived partition"):
        project.downgrade("base")
    assert pg.execute("SELECT to_regclass('sqla_partition.sqla_partition_audit_trail')").fetchone()[
        0
    ]
    (path,) = project.versions()
    path.write_text(path.read_text().replace("archives='refuse'", "archives='drop'"))
    project.downgrade("base")
    left = pg.execute(
        "SELECT relname FROM pg_class WHERE relname LIKE 'sqla_partition%' "
        "OR relname LIKE 'events%' UNION ALL "
        "SELECT proname FROM pg_proc WHERE proname LIKE 'sqla_partition%' UNION ALL "
        "SELECT nspname FROM pg_namespace WHERE nspname = 'sqla_partition'"
    ).fetchall()
    assert left == []  # nothing of sqla-partition stays behind, its schema included


def test_auditing_an_existing_table_adds_columns_without_a_rewrite(project, pg, monkeypatch):
    project.revision("tables")
    project.upgrade()
    pg.execute("INSERT INTO notes (id, text) SELECT g, 'n' FROM generate_series(1, 1000) g")
    before = pg.execute("SELECT pg_relation_filenode('notes')").fetchone()

    monkeypatch.setenv("AUDIT_NOTES", "1")
    sys.modules.pop("audit_models", None)
    text = project.revision("audit notes")
    assert "op.add_column('notes', sa.Column('deleted_at'" in text
    assert (
        "op.enable_audit('notes', sqla_partition.Audit(actor_type='text', soft_delete=True)" in text
    )
    project.upgrade()
    assert pg.execute("SELECT pg_relation_filenode('notes')").fetchone() == before
    with pg.transaction():
        pg.execute("SELECT set_config('app.user_id', 'alice@example.com', true)")
        pg.execute("UPDATE notes SET text = 'edited', deleted_at = now() WHERE id = 1")
    assert pg.execute(
        "SELECT updated_by, deleted_at IS NOT NULL, created_at IS NOT NULL FROM notes WHERE id = 1"
    ).fetchone() == ("alice@example.com", True, True)
    project.check()

    monkeypatch.delenv("AUDIT_NOTES")
    sys.modules.pop("audit_models", None)
    text = project.revision("stop auditing notes")
    assert "op.disable_audit('notes'" in text
    project.upgrade()
    assert pg.execute(
        "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'notes'::regclass AND NOT tgisinternal"
    ).fetchone() == (0,)


def test_the_tools_own_tables_are_never_proposed_for_dropping(project, pg, db_url):
    """With include_schemas=True (which distributed schemas and multi-schema apps need),
    the tool's schema is reflected too: its tables, the audit secret's included, are
    hidden from autogenerate (it proposed dropping the secret, and every update that
    moves a row then failed), and so is the table roll keeps its states in."""
    env = project.root / "migrations" / "env.py"
    env.write_text(
        env.read_text().replace(
            '    "compare_type": True,', '    "compare_type": True,\n    "include_schemas": True,'
        )
    )
    project.revision("audited")
    project.upgrade()
    assert pg.execute(
        "SELECT to_regclass('sqla_partition.sqla_partition_audit_secret') IS NOT NULL"
    ).fetchone() == (True,)
    rolled = CliRunner().invoke(main, ["roll", "--database-url", db_url])
    assert rolled.exit_code == 0, rolled.output
    assert pg.execute(
        "SELECT to_regclass('sqla_partition.sqla_partition_roll_state') IS NOT NULL"
    ).fetchone() == (True,)
    project.check()  # nothing to generate: no drop_table of the secret, nor of the others


def test_audit_declarations_refuse_bad_input():
    md = sa.MetaData()
    plain = sa.Table("logs", md, sa.Column("line", sa.Text))
    with pytest.raises(PolicyError, match="needs a primary key"):
        audit_table(plain, Audit(trail=True))
    typed = sa.Table(
        "docs", md, sa.Column("id", sa.Integer, primary_key=True), sa.Column("created_by", sa.Text)
    )
    with pytest.raises(
        PolicyError, match="'created_by' exists as TEXT, but the audit needs BIGINT"
    ):
        audit_table(typed, Audit())
    small = sa.Table(
        "small",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_by", sa.Integer),
    )
    with pytest.raises(PolicyError, match="exists as INTEGER, but the audit needs BIGINT"):
        audit_table(small, Audit())  # an int cannot hold every bigint user id
    short = sa.Table(
        "short",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("updated_by", sa.String(20)),
    )
    with pytest.raises(PolicyError, match="exists as VARCHAR"):
        audit_table(short, Audit(actor_type="text"))
    with pytest.raises(PolicyError, match="custom setting name with a dot"):
        Audit(actor_setting="user_id")
    kept = sa.Table(
        "items",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    added = audit_table(kept, Audit(who=False))
    assert [c.name for c in added] == ["updated_at"]  # created_at is reused, not duplicated


def _trail_on_docs(db_url, primary_key, columns):
    """The trail made, and ``docs`` audited into it, as a migration would."""
    from sqla_partition.declaration.audit_trail import trail_columns, trail_policy

    from .test_hash import run_online

    def enable(op):
        op.create_partitioned_table(
            "sqla_partition_audit_trail",
            *trail_columns(),
            partitioning=trail_policy("12 months"),
            start="2026-11-01",
            until="2027-03-01",
            schema="sqla_partition",
        )
        op.enable_audit("docs", Audit(trail=True), primary_key=primary_key, columns=columns)

    run_online(db_url, enable)


def test_trail_keeps_recording_after_a_column_the_migration_knew_is_dropped(db_url, pg):

    pg.execute(
        "CREATE TABLE docs (id int PRIMARY KEY, a int, b int, meta json, spot point, "
        "created_at timestamptz, updated_at timestamptz, created_by bigint, updated_by bigint)"
    )
    columns = ["id", "a", "b", "meta", "spot", "created_at", "updated_at", "created_by"]
    _trail_on_docs(db_url, ["id"], columns)
    pg.execute("INSERT INTO docs (id, a, b) VALUES (1, 1, 1)")
    # types without equality (json, point) are compared too, never failing the write
    pg.execute("""UPDATE docs SET meta = '{"k": null}', spot = point(1, 2)""")
    assert trail(pg, "docs")[-1][3] == {"meta": [None, {"k": None}], "spot": [None, "(1,2)"]}
    pg.execute("UPDATE docs SET a = 2, b = 2")  # compared column by column
    pg.execute("ALTER TABLE docs DROP COLUMN b")
    pg.execute("UPDATE docs SET a = 3")  # the function's column list is stale: jsonb way
    events = trail(pg, "docs")
    assert [op for op, *_ in events] == ["INSERT", "UPDATE", "UPDATE", "UPDATE"]
    assert [diff for *_, diff in events[2:]] == [{"a": [1, 2], "b": [1, 2]}, {"a": [2, 3]}]
    assert [key for _, _, key, _ in events] == [{"id": 1}] * 4
    # the largest bigint is a valid actor; a row keeps who created it when updated
    with pg.transaction():
        pg.execute("SELECT set_config('app.user_id', '9223372036854775807', true)")
        pg.execute("UPDATE docs SET a = 4")
    assert pg.execute("SELECT created_by, updated_by FROM docs").fetchone() == (
        None,
        9223372036854775807,
    )


def test_triggers_an_earlier_version_made_are_made_again(project, pg):
    """A database audited by an earlier version has a check bound to no table, no trigger
    that ends a move's digest, a columns trigger that fires for every row and no actor
    defaults: autogenerate makes them again, once."""
    project.revision("audited")
    project.upgrade()
    project.check()
    pg.execute("DROP TRIGGER sqla_partition_audit_move_end ON events")
    pg.execute(
        "ALTER FUNCTION sqla_partition.sqla_partition_audit_moved(text, text, text, regclass) "
        "RENAME TO sqla_partition_audit_moved_old"
    )
    text = project.revision("this version's triggers")
    assert "op.enable_audit('events'" in text and "old=sqla_partition.Audit(" in text
    project.upgrade()
    assert pg.execute(
        "SELECT count(*) FROM pg_trigger WHERE tgname = 'sqla_partition_audit_move_end' "
        "AND tgrelid = 'events'::regclass"
    ).fetchone() == (1,)
    project.check()
    # an earlier version's columns trigger: no condition that skips it, no actor defaults
    pg.execute(
        "CREATE OR REPLACE TRIGGER sqla_partition_audit BEFORE INSERT OR UPDATE ON events "
        "FOR EACH ROW EXECUTE FUNCTION sqla_partition.sqla_partition_audit_columns("
        "'app.user_id', 'bigint', 'who', 'database')"
    )
    pg.execute("ALTER TABLE events ALTER created_by DROP DEFAULT, ALTER updated_by DROP DEFAULT")
    text = project.revision("the columns trigger skipped")
    assert "op.enable_audit('events'" in text
    project.upgrade()
    assert pg.execute(
        "SELECT count(*) FROM pg_trigger WHERE tgname = 'sqla_partition_audit' "
        "AND tgrelid = 'events'::regclass AND tgqual IS NOT NULL"
    ).fetchone() == (1,)
    assert pg.execute(
        "SELECT count(*) FROM pg_attrdef WHERE adrelid = 'events'::regclass "
        "AND pg_get_expr(adbin, adrelid) LIKE '%app.user_id%'"
    ).fetchone() == (2,)
    project.check()
    # an earlier version's columns function: a search_path set on every call
    function = "sqla_partition.sqla_partition_audit_columns()"
    pg.execute(f"ALTER FUNCTION {function} SET search_path = pg_catalog, pg_temp")
    text = project.revision("the columns function sets no search_path")
    assert "op.enable_audit('events'" in text
    project.upgrade()
    assert pg.execute(
        f"SELECT proconfig FROM pg_proc WHERE oid = '{function}'::regprocedure"
    ).fetchone() == (None,)
    project.check()
    project.downgrade("-1")  # back to the same settings: auditing stays on
    assert pg.execute(
        "SELECT count(*) FROM pg_trigger WHERE tgname = 'sqla_partition_audit' "
        "AND tgrelid = 'events'::regclass"
    ).fetchone() == (1,)


def test_the_trail_keys_inserts_and_deletes_by_hostile_key_columns(db_url, pg):
    """Inserts and deletes are recorded from the key's own columns, however they are named,
    and the generic way once the table no longer has the columns the function knew."""

    key = 'Key "x"; --'
    pg.execute(
        f'CREATE TABLE docs ("{key.replace(chr(34), chr(34) * 2)}" int, "select" text, a int, '
        "b int, created_at timestamptz, updated_at timestamptz, created_by bigint, "
        f'updated_by bigint, PRIMARY KEY ("{key.replace(chr(34), chr(34) * 2)}", "select"))'
    )
    columns = [key, "select", "a", "b", "created_at", "updated_at", "created_by"]
    _trail_on_docs(db_url, [key, "select"], columns)
    quoted = '"Key ""x""; --"'
    for attempt in ("as written", "after a column is dropped"):
        pg.execute(f"INSERT INTO docs ({quoted}, \"select\", a) VALUES (1, 'o''k', 1)")
        row = pg.execute("SELECT to_jsonb(d) FROM docs AS d").fetchone()[0]
        pg.execute("DELETE FROM docs")
        events = trail(pg, "docs")[-2:]
        assert [(op, key_, diff) for op, _, key_, diff in events] == [
            ("INSERT", {key: 1, "select": "o'k"}, row),
            ("DELETE", {key: 1, "select": "o'k"}, row),
        ], attempt
        pg.execute("ALTER TABLE docs DROP COLUMN IF EXISTS b")


def test_an_actor_is_checked_each_time_it_changes_within_a_transaction(db_url, pg):
    pg.execute(
        "CREATE TABLE docs (id int PRIMARY KEY, created_at timestamptz, "
        "updated_at timestamptz, created_by bigint, updated_by bigint)"
    )
    from .test_hash import run_online

    run_online(db_url, lambda op: op.enable_audit("docs", Audit(), primary_key=["id"]))
    refused = pytest.raises(psycopg.errors.InvalidParameterValue, match="integer user id")
    with refused, pg.transaction():
        pg.execute("SELECT set_config('app.user_id', '42', true)")
        pg.execute("INSERT INTO docs (id) VALUES (1)")  # checked, and remembered
        pg.execute("SELECT set_config('app.user_id', 'alice', true)")
        pg.execute("INSERT INTO docs (id) VALUES (2)")
    # a client that claims the check was done skips the message, not the refusal
    with pytest.raises(psycopg.errors.InvalidTextRepresentation), pg.transaction():
        pg.execute("SELECT set_config('sqla_partition.audit_actor_bigint', 'alice', true)")
        pg.execute("SELECT set_config('app.user_id', 'alice', true)")
        pg.execute("INSERT INTO docs (id) VALUES (3)")
    assert pg.execute("SELECT count(*) FROM docs").fetchone() == (0,)
