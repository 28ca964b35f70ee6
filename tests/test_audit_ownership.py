"""The database owns the audit columns: what an application role gives is replaced, what
the owner gives is kept, rows an update moves keep their creation, and nothing a client
can set forges that."""

from __future__ import annotations

import psycopg
import pytest
from click.testing import CliRunner

from sqla_partition import Audit, Range
from sqla_partition.cli import main
from sqla_partition.declaration.audit_trail import read_settings, recorded_settings

from .conftest import _libpq
from .test_archives import run_op
from .test_roll import make_table
from .test_security import roles  # noqa: F401  (a fixture)

AUDIT_COLUMNS = (
    "created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL "
    "DEFAULT now(), created_by bigint, updated_by bigint"
)


def as_actor(conn, actor, statement, params=()):
    with conn.transaction():
        conn.execute("SELECT set_config('app.user_id', %s, true)", (str(actor),))
        return conn.execute(statement, params or None)


def creation(pg, table, key):
    return pg.execute(
        f"SELECT created_at, created_by, updated_by, tableoid::regclass::text FROM {table} "
        "WHERE id = %s",
        (key,),
    ).fetchone()


@pytest.fixture
def docs(roles, pg):  # noqa: F811
    """A LIST-partitioned table (rows move between statuses) made and audited by the owner;
    the application role may only read and write its rows."""
    names, urls = roles
    with psycopg.connect(_libpq(urls["owner"]), autocommit=True) as owner:
        owner.execute(
            f"CREATE TABLE docs (id bigint NOT NULL, status text NOT NULL, body text, "
            f"{AUDIT_COLUMNS}) PARTITION BY LIST (status)"
        )
        owner.execute("CREATE TABLE docs_draft PARTITION OF docs FOR VALUES IN ('draft')")
        owner.execute("CREATE TABLE docs_done PARTITION OF docs FOR VALUES IN ('done')")
    run_op(urls["owner"], lambda op: op.enable_audit("docs", Audit(), columns=["id"]))
    pg.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON docs TO "{names["app"]}"')
    with psycopg.connect(_libpq(urls["app"]), autocommit=True) as app:
        yield app, names, urls


def test_an_application_cannot_backdate_or_rewrite_a_rows_creation(docs, pg):
    app, _, _ = docs
    as_actor(
        app,
        42,
        "INSERT INTO docs (id, status, created_at, created_by, updated_by) "
        "VALUES (1, 'draft', '2000-01-01', 1, 1)",
    )
    at, by, updated_by, where = creation(pg, "docs", 1)
    assert (by, updated_by, where) == (42, 42, "docs_draft")
    assert at.year > 2000  # the database's clock, not the client's

    as_actor(app, 43, "UPDATE docs SET created_at = '2000-01-01', created_by = 1, body = 'x'")
    assert creation(pg, "docs", 1) == (at, 42, 43, "docs_draft")

    # an update that moves the row to another partition keeps its creation
    as_actor(app, 44, "UPDATE docs SET status = 'done' WHERE id = 1")
    assert creation(pg, "docs", 1) == (at, 42, 44, "docs_done")
    # several rows, some moving and some not, in one statement
    as_actor(
        app, 45, "INSERT INTO docs (id, status) SELECT g, 'draft' FROM generate_series(2, 7) g"
    )
    before = {
        r[0]: r[1:]
        for r in pg.execute("SELECT id, created_at, created_by FROM docs WHERE id > 1").fetchall()
    }
    as_actor(
        app,
        46,
        "UPDATE docs SET status = CASE WHEN id % 2 = 0 THEN 'done' ELSE status END, body = 'y' "
        "WHERE id > 1",
    )
    after = pg.execute(
        "SELECT id, created_at, created_by, updated_by, tableoid::regclass::text FROM docs "
        "WHERE id > 1 ORDER BY id"
    ).fetchall()
    assert [(i, (a, b)) for i, a, b, _, _ in after] == sorted(before.items())
    assert {u for _, _, _, u, _ in after} == {46}
    assert [w for *_, w in after] == ["docs_done", "docs_draft"] * 3


def test_nothing_a_client_can_set_vouches_for_a_made_up_row(docs, pg):
    app, names, _ = docs
    with app.transaction():
        app.execute("SELECT set_config('app.user_id', '50', true)")
        app.execute("SELECT set_config('sqla_partition.audit_moving', 'made up', true)")
        app.execute(
            "INSERT INTO docs (id, status, created_at, created_by) "
            "VALUES (10, 'draft', '2001-01-01', 1)"
        )
    assert creation(pg, "docs", 10)[1:3] == (50, 50)
    # the key behind the digests, and the function that makes them, are out of reach
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app.execute("SELECT * FROM sqla_partition.sqla_partition_audit_secret")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app.execute(
            "CREATE TEMP TABLE mine (created_at timestamptz, created_by bigint); "
            "CREATE TRIGGER t BEFORE UPDATE ON mine FOR EACH ROW "
            "EXECUTE FUNCTION sqla_partition.sqla_partition_audit_move('who')"
        )
    # the check answers yes or no, and no to anything made up
    assert app.execute(
        "SELECT sqla_partition.sqla_partition_audit_moved('2001-01-01', '1', '10|draft', 'docs')"
    ).fetchone() == (False,)
    # a move in one statement does not vouch for a row inserted by the next
    with app.transaction():
        app.execute("SELECT set_config('app.user_id', '51', true)")
        app.execute("INSERT INTO docs (id, status) VALUES (11, 'draft')")
        app.execute("UPDATE docs SET status = 'done' WHERE id = 11")
        made_at, made_by = app.execute("SELECT created_at, 2 FROM docs WHERE id = 11").fetchone()
        app.execute(
            "INSERT INTO docs (id, status, created_at, created_by) VALUES (12, 'draft', %s, %s)",
            (made_at, made_by),
        )
    assert creation(pg, "docs", 12)[1] == 51  # the moved row's creation is not copied


def test_the_owner_gives_what_it_means_and_may_correct_it(docs, pg):
    app, names, urls = docs
    with psycopg.connect(_libpq(urls["owner"]), autocommit=True) as owner:
        as_actor(
            owner,
            7,
            "INSERT INTO docs (id, status, created_at, created_by) "
            "VALUES (20, 'draft', '2020-05-01', 3)",
        )  # an import keeps its history
        assert creation(pg, "docs", 20)[1:] == (3, 7, "docs_draft")
        assert creation(pg, "docs", 20)[0].year == 2020
        as_actor(owner, 7, "UPDATE docs SET created_by = 4 WHERE id = 20")
        assert creation(pg, "docs", 20)[1] == 4
    # a role that may act as the owner (the roll role) is trusted as the owner is
    with psycopg.connect(_libpq(urls["roll"]), autocommit=True) as roll:
        roll.execute(f'SET ROLE "{names["owner"]}"')
        as_actor(roll, 8, "UPDATE docs SET created_by = 5 WHERE id = 20")
    assert creation(pg, "docs", 20)[1] == 5


def test_a_created_at_that_routes_rows_is_refused_not_replaced(roles, pg):  # noqa: F811
    names, urls = roles
    make_table(urls["owner"], Range("created_at", premake=2, default=True))
    with psycopg.connect(_libpq(urls["owner"]), autocommit=True) as owner:
        owner.execute(
            "ALTER TABLE events ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now(), "
            "ADD COLUMN created_by bigint, ADD COLUMN updated_by bigint, "
            "ALTER COLUMN created_at SET DEFAULT now()"
        )
        owner.execute("INSERT INTO events (created_at, note) VALUES ('2027-06-10', 'ahead')")
    run_op(urls["owner"], lambda op: op.enable_audit("events", Audit(), columns=["id"]))
    pg.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON events TO "{names["app"]}"')
    with psycopg.connect(_libpq(urls["app"]), autocommit=True) as app:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="set by the database"):
            as_actor(app, 1, "INSERT INTO events (created_at, note) VALUES ('2026-12-02', 'x')")
        as_actor(app, 1, "INSERT INTO events (note) VALUES ('now')")
        as_actor(app, 2, "UPDATE events SET created_at = '2026-12-02', note = 'moved?'")
    rows = pg.execute(
        "SELECT note, created_at::date = '2026-12-02', created_by, updated_by FROM events "
        "ORDER BY id"
    ).fetchall()
    assert rows == [("moved?", False, None, 2), ("moved?", False, 1, 2)]  # nothing moved

    # roll, as the roll role, moves the owner's DEFAULT row and keeps its creation
    result = CliRunner().invoke(
        main, ["roll", "--database-url", urls["roll"], "--now", "2027-05-05T00:00:00Z"]
    )
    assert result.exit_code == 0, result.output
    assert pg.execute(
        "SELECT tableoid::regclass::text, created_at = '2027-06-10' FROM events "
        "WHERE created_at > '2027-06-01'"
    ).fetchone() == ("events_p2027_06", True)


def test_trust_client_keeps_what_an_insert_gives(docs, pg):
    app, _, urls = docs
    run_op(
        urls["owner"],
        lambda op: op.enable_audit("docs", Audit(trust_client=True), columns=["id"], old=Audit()),
    )
    assert pg.execute(
        "SELECT count(*) FROM pg_trigger WHERE tgname = 'sqla_partition_audit_move'"
    ).fetchone() == (0,)
    as_actor(app, 60, "INSERT INTO docs (id, status, created_by) VALUES (30, 'draft', 2)")
    assert creation(pg, "docs", 30)[1] == 2


def test_settings_recorded_before_trust_client_read_as_trusting():
    old = '{"audit": {"actor_setting": "app.user_id", "trail": true}, "columns": ["id"]}'
    audit, _ = read_settings(old)
    assert audit == Audit(trail=True, trust_client=True)  # what those triggers did
    assert read_settings(recorded_settings(Audit(), ["id"]))[0] == Audit()
    with pytest.raises(Exception, match="trust_client"):
        Audit(trust_client="yes")


def test_an_update_that_stays_vouches_for_no_other_row(roles, pg):  # noqa: F811
    """A key change that keeps the row in its partition (two statuses in one partition, or
    the DEFAULT) must not let a later insert of the same statement borrow a creation; and
    a ``timestamp without time zone`` created_at keeps its creation under any TimeZone."""
    names, urls = roles
    with psycopg.connect(_libpq(urls["owner"]), autocommit=True) as owner:
        owner.execute(
            "CREATE TABLE docs (id bigint NOT NULL, status text NOT NULL, "
            "created_at timestamp NOT NULL DEFAULT now(), updated_at timestamp NOT NULL "
            "DEFAULT now(), created_by bigint, updated_by bigint, PRIMARY KEY (id, status)) "
            "PARTITION BY LIST (status)"
        )
        owner.execute("CREATE TABLE docs_open PARTITION OF docs FOR VALUES IN ('draft', 'review')")
        owner.execute("CREATE TABLE docs_done PARTITION OF docs FOR VALUES IN ('done')")
        owner.execute("CREATE TABLE docs_other PARTITION OF docs DEFAULT")
        owner.execute(
            "INSERT INTO docs (id, status, created_at, created_by) "
            "VALUES (1, 'draft', '2001-02-03', 7), (2, 'x', '2001-02-03', 7)"
        )
    run_op(urls["owner"], lambda op: op.enable_audit("docs", Audit(), columns=["id"]))
    pg.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON docs TO "{names["app"]}"')
    forged = (
        "WITH u AS (UPDATE docs SET status = 'review' WHERE id = 1 "
        "RETURNING created_at, created_by) "
        "INSERT INTO docs (id, status, created_at, created_by) "
        "SELECT 11, 'done', created_at, created_by FROM u"
    )
    with psycopg.connect(_libpq(urls["app"]), autocommit=True) as app:
        as_actor(app, 50, forged)
        as_actor(
            app,
            50,
            "INSERT INTO docs (id, status, created_at, created_by) "
            "VALUES (1, 'review', now(), 50), (14, 'done', '2001-02-03', 7) "
            "ON CONFLICT (id, status) DO UPDATE SET status = 'draft'",
        )
        as_actor(
            app,
            50,
            "WITH u AS (UPDATE docs SET status = 'y' WHERE id = 2 RETURNING created_at) "
            "INSERT INTO docs (id, status, created_at, created_by) "
            "SELECT 15, 'done', created_at, 7 FROM u",
        )  # a key change inside the DEFAULT
        for key in (11, 14, 15):
            row = pg.execute(
                "SELECT created_by, created_at > '2020-01-01' FROM docs WHERE id = %s", (key,)
            ).fetchone()
            assert row == (50, True), (key, row)
        # a real move keeps the creation, whatever the session's time zone
        app.execute("SET TimeZone = 'America/New_York'")
        as_actor(app, 51, "UPDATE docs SET status = 'done' WHERE id = 1")
    assert pg.execute(
        "SELECT tableoid::regclass::text, created_at::date::text, created_by, updated_by "
        "FROM docs WHERE id = 1"
    ).fetchone() == ("docs_done", "2001-02-03", 7, 51)


def test_a_digest_is_bound_to_its_statement_and_its_table(roles, pg):  # noqa: F811
    """A DO block runs all its statements at one statement_timestamp(): an update that
    keeps the row in its partition must not leave a digest for the next statement; and a
    row's digest vouches for no row of another table, even within the same statement."""
    names, urls = roles
    with psycopg.connect(_libpq(urls["owner"]), autocommit=True) as owner:
        for table in ("docs", "copies"):
            owner.execute(
                f"CREATE TABLE {table} (id bigint NOT NULL, status text NOT NULL, body text, "
                f"{AUDIT_COLUMNS}) PARTITION BY LIST (status)"
            )
            owner.execute(
                f"CREATE TABLE {table}_open PARTITION OF {table} FOR VALUES IN ('new', 'open')"
            )
        owner.execute(
            "INSERT INTO docs (id, status, created_at, created_by) "
            "VALUES (1, 'new', '2001-02-03', 7), (2, 'new', '2001-02-03', 7)"
        )
    for table in ("docs", "copies"):
        run_op(urls["owner"], lambda op, t=table: op.enable_audit(t, Audit(), columns=["id"]))
        pg.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO "{names["app"]}"')
    with psycopg.connect(_libpq(urls["app"]), autocommit=True) as app:
        as_actor(
            app,
            50,
            "DO $$ DECLARE r record; BEGIN "
            "UPDATE docs SET status = 'open' WHERE id = 1; "
            "DELETE FROM docs WHERE id = 1 RETURNING * INTO r; "
            "INSERT INTO docs (id, status, body, created_at, created_by) "
            "VALUES (r.id, r.status, r.body, r.created_at, r.created_by); END $$",
        )
        as_actor(
            app,
            50,
            "WITH u AS (UPDATE docs SET status = 'open' WHERE id = 2 "
            "RETURNING id, status, body, created_at, created_by) "
            "INSERT INTO copies (id, status, body, created_at, created_by) SELECT * FROM u",
        )
    for table, key in (("docs", 1), ("copies", 2)):
        row = pg.execute(
            f"SELECT created_by, created_at > '2020-01-01' FROM {table} WHERE id = %s", (key,)
        ).fetchone()
        assert row == (50, True), (table, row)
    assert pg.execute("SELECT created_by FROM docs WHERE id = 2").fetchone() == (7,)


def test_the_audit_key_is_hidden_from_roles_that_read_all_data(docs, roles):  # noqa: F811
    _, urls = roles
    with psycopg.connect(_libpq(urls["monitor"]), autocommit=True) as monitor:
        rows = monitor.execute("SELECT * FROM sqla_partition.sqla_partition_audit_secret")
        assert rows.fetchall() == []  # pg_read_all_data reads every table, not past RLS
