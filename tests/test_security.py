"""Least privilege and secrets: what an attacker or a careless URL must never get."""

from __future__ import annotations

import json
import stat
import uuid

import psycopg
import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from sqla_partition import Range
from sqla_partition.catalog.connect import redact, scrub
from sqla_partition.cli import main

from .conftest import _libpq
from .test_archives import run_op
from .test_roll import make_table, partitions

#: Passwords in every way a URL can carry one, and URLs libpq refuses in ways that quote
#: them back: the password must appear in no message, in no form.
URLS = [
    ("postgresql://app:s3cr%zzet@127.0.0.1:5432/db", ["s3cr%zzet", "s3cr"]),
    ("postgresql://app:hunter2@bad host:5432/db", ["hunter2"]),
    ("postgresql://app@127.0.0.1:1/db?password=hunter2", ["hunter2"]),
    ("postgresql://app:sec@ret@127.0.0.1:1/db", ["sec@ret", "ret@"]),
    ("postgresql://app:hunter2@[::1/db", ["hunter2"]),
    ("postgresql+psycopg://app:pa%40ss@127.0.0.1:1/db", ["pa%40ss", "pa@ss"]),
    ("postgresql://app@127.0.0.1:1/db?%70assword=hunter2", ["hunter2"]),
    ("postgresql://app@127.0.0.1:1/db?sslmode=disable&PASS%57ORD=hunter2", ["hunter2"]),
]


@pytest.mark.parametrize(("url", "secrets"), URLS)
@pytest.mark.parametrize("command", [["status"], ["check"], ["roll", "--json"], ["advise"]])
def test_no_command_prints_a_password(url, secrets, command, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    result = CliRunner().invoke(main, [*command, "--database-url", url])
    assert result.exit_code == 2, result.output
    assert ('"error":' if "--json" in command else "error:") in result.output
    for secret in secrets:
        assert secret not in result.output, result.output
    monkeypatch.setenv("DATABASE_URL", url)  # the same through the environment
    result = CliRunner().invoke(main, command)
    for secret in secrets:
        assert secret not in result.output, result.output


def test_connection_refused_keeps_its_reason():
    result = CliRunner().invoke(
        main, ["status", "--database-url", "postgresql://a:b@127.0.0.1:1/x"]
    )
    assert "Connection refused" in result.output and "Is the server running" in result.output


def test_redact_and_scrub_cover_every_form():
    assert redact("postgresql://u:p@ss@h/db") == "postgresql://u:***@h/db"
    assert redact("postgresql://u@h/db?sslmode=require&password=x%20y") == (
        "postgresql://u@h/db?sslmode=require&password=***"
    )
    assert scrub('bad token "x y"', "postgresql://u@h/db?password=x%20y") == 'bad token "***"'
    assert redact("postgresql://u@h/db?%70assword=hunter2") == "postgresql://u@h/db?%70assword=***"
    dsn = "host=h user=u password='correct horse battery' dbname=d"
    assert "horse" not in redact(dsn) and "horse" not in scrub(f"bad: {dsn}", dsn)


def test_init_keeps_a_password_to_its_owner(tmp_path):
    with_password = tmp_path / "a"
    result = CliRunner().invoke(
        main, ["init", str(with_password / "migrations"), "--url", "postgresql://u:pw@h/db"]
    )
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE((with_password / "alembic.ini").stat().st_mode) == 0o600
    encoded = tmp_path / "c"  # a password under a percent-encoded key is one too
    result = CliRunner().invoke(
        main, ["init", str(encoded / "migrations"), "--url", "postgresql://u@h/db?%70assword=pw"]
    )
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE((encoded / "alembic.ini").stat().st_mode) == 0o600
    without = tmp_path / "b"
    result = CliRunner().invoke(
        main, ["init", str(without / "migrations"), "--url", "postgresql://u@h/db"]
    )
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE((without / "alembic.ini").stat().st_mode) & 0o044  # as umask says


@pytest.fixture
def roles(db_url, pg):
    """The least-privilege recipe of docs/security.md: an owner that runs the migrations, a roll
    role that is a member of it, an application role with DML only, a monitoring role."""
    suffix = uuid.uuid4().hex[:6]
    names = {kind: f"sqlp_{kind}_{suffix}" for kind in ("owner", "roll", "app", "monitor")}
    database = make_url(db_url).database
    for name in names.values():
        pg.execute(f'CREATE ROLE "{name}" LOGIN')
    pg.execute(f'GRANT CREATE ON SCHEMA public TO "{names["owner"]}"')
    pg.execute(f'GRANT CREATE ON DATABASE "{database}" TO "{names["owner"]}"')
    pg.execute(f'GRANT "{names["owner"]}" TO "{names["roll"]}"')
    pg.execute(f'GRANT pg_read_all_data TO "{names["monitor"]}"')
    urls = {k: make_url(db_url).set(username=v).render_as_string(False) for k, v in names.items()}
    yield names, urls
    for name in names.values():
        pg.execute(f'DROP OWNED BY "{name}" CASCADE')
    for name in names.values():
        pg.execute(f'DROP ROLE "{name}"')


def test_least_privilege_recipe(roles, pg):
    names, urls = roles
    owner, app = names["owner"], names["app"]
    make_table(urls["owner"], Range("created_at", premake=2, retention="3 months", default=True))
    pg.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON events TO "{app}"')
    with psycopg.connect(_libpq(urls["app"]), autocommit=True) as conn:
        conn.execute("INSERT INTO events (created_at) VALUES ('2027-02-10'), ('2027-04-10')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # the policies are not its
            conn.execute("UPDATE sqla_partition.sqla_partition_policy SET policy = '{}'")

    result = CliRunner().invoke(
        main, ["roll", "--database-url", urls["roll"], "--now", "2027-04-05T00:00:00Z"]
    )
    assert result.exit_code == 0, result.output
    owners = dict(
        pg.execute(
            "SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass"
        ).fetchall()
    )
    assert owners["events_p2027_06"] == owner  # made by roll, as the owner
    assert set(owners.values()) == {owner}
    assert pg.execute("SELECT count(*) FROM events_p2027_04").fetchone() == (1,)  # moved

    # the next migration, run as the owner, may alter what roll made
    def index(op):
        op.create_partitioned_index("ix_events_created", "events", ["created_at"])

    run_op(urls["owner"], index)

    for command in (["status"], ["check", "--max-age", "48h"]):
        out = CliRunner().invoke(
            main, [*command, "--database-url", urls["monitor"], "--now", "2027-04-05T00:00:00Z"]
        )
        assert "permission denied" not in out.output, out.output
    # monitoring reads everything but may not act as the owner: one line says what to grant
    denied = CliRunner().invoke(
        main, ["roll", "--database-url", urls["monitor"], "--now", "2027-09-05T00:00:00Z"]
    )
    assert denied.exit_code == 1, denied.output
    assert f"as the table's owner ({owner})" in denied.output and "GRANT" in denied.output
    # the application may not even read the policies
    denied = CliRunner().invoke(main, ["roll", "--database-url", urls["app"]])
    assert denied.exit_code == 2, denied.output
    assert "permission denied for schema sqla_partition" in denied.output
    assert "Security and privileges" in denied.output


def test_an_archive_schema_another_role_made_is_refused(db_url, pg):
    pg.execute("CREATE ROLE sqlp_squatter")
    try:
        pg.execute('CREATE SCHEMA "Old Data" AUTHORIZATION sqlp_squatter')
        make_table(
            db_url, Range("created_at", premake=2, retention="3 months", archive_schema="Old Data")
        )
        result = CliRunner().invoke(
            main, ["roll", "--database-url", db_url, "--now", "2027-03-05T00:00:00Z"]
        )
        assert result.exit_code == 1, result.output
        assert "belongs to sqlp_squatter" in result.output
        moved = pg.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'Old Data'"
        ).fetchone()
        assert moved == (0,)  # no archive went where that role could drop it
    finally:
        pg.execute('DROP SCHEMA IF EXISTS "Old Data" CASCADE')
        pg.execute("DROP ROLE sqlp_squatter")


def test_sizes_that_would_exhaust_the_server_are_refused_at_declaration():
    from sqla_partition import Hash, PolicyError

    with pytest.raises(PolicyError, match="out of shared memory"):
        Range("created_at", interval="1 day", premake=10_000)
    with pytest.raises(PolicyError, match="more than 500"):
        Range("created_at", premake=100_000)  # would also run past the year 9999
    with pytest.raises(PolicyError, match="more than 1024"):
        Hash("tenant_id", partitions=1_000_000)
    with pytest.raises(PolicyError, match="partitions at once"):
        Range("created_at", premake=200, subpartition=Hash("tenant_id", partitions=64))
    Range("created_at", interval="1 day", premake=365)  # a year of days is fine


@pytest.mark.parametrize(
    "args",
    [["--now", "9999-12-31T23:00:00"], ["--now", "0001-01-01"], ["--metrics", "/nonexistent/m"]],
)
def test_out_of_range_input_is_one_line(args):
    result = CliRunner().invoke(main, ["roll", "--database-url", "postgresql://x@h/d", *args])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "Invalid value" in result.output


def test_policies_writable_by_other_roles_hold_every_detach_and_drop(roles, pg):
    names, urls = roles
    app = names["app"]
    make_table(urls["owner"], Range("created_at", premake=2, retention="12 months"))
    forge = (
        "UPDATE sqla_partition.sqla_partition_policy SET policy = jsonb_set(jsonb_set(policy, "
        "'{retention}', '\"1 month\"'), '{on_expire}', '\"drop\"')"
    )
    with psycopg.connect(_libpq(urls["owner"]), autocommit=True) as conn:
        # the common blanket grant on public no longer reaches the policies...
        conn.execute(
            f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{app}"'
        )
    with (
        psycopg.connect(_libpq(urls["app"]), autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute(forge)
    with psycopg.connect(_libpq(urls["owner"]), autocommit=True) as conn:
        # ...but the same grant given in the tool's own schema would
        conn.execute(f'GRANT USAGE ON SCHEMA sqla_partition TO "{app}"')
        conn.execute(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA sqla_partition "
            f'TO "{app}"'
        )
    with psycopg.connect(_libpq(urls["app"]), autocommit=True) as conn:
        conn.execute(forge)
    before = partitions(pg)
    now = ["--now", "2027-02-10T00:00:00Z"]
    result = CliRunner().invoke(main, ["roll", "--database-url", urls["roll"], *now])
    assert f"{app} may DELETE, INSERT, UPDATE sqla_partition_policy" in result.output
    assert "expiry held" in result.output
    assert set(before) <= set(partitions(pg))  # nothing detached, nothing dropped
    check = CliRunner().invoke(main, ["check", "--database-url", urls["monitor"], *now])
    assert check.exit_code == 1 and "REVOKE INSERT, UPDATE, DELETE, TRUNCATE" in check.output


@pytest.mark.parametrize("grant", ["column", "pg_write_all_data"])
def test_a_column_grant_or_pg_write_all_data_holds_expiry_too(roles, pg, grant):
    """The guard missed a grant on one column of the policies and membership of
    pg_write_all_data: with either, the application set on_expire to drop and roll dropped
    live partitions."""
    names, urls = roles
    app = names["app"]
    make_table(urls["owner"], Range("created_at", premake=2, retention="12 months"))
    with psycopg.connect(_libpq(urls["owner"]), autocommit=True) as conn:
        conn.execute(f'GRANT USAGE ON SCHEMA sqla_partition TO "{app}"')
        conn.execute(f'GRANT SELECT ON sqla_partition.sqla_partition_policy TO "{app}"')
        if grant == "column":
            conn.execute(
                f'GRANT UPDATE (policy) ON sqla_partition.sqla_partition_policy TO "{app}"'
            )
    if grant == "pg_write_all_data":
        if not pg.execute("SELECT to_regrole('pg_write_all_data') IS NOT NULL").fetchone()[0]:
            pytest.skip("pg_write_all_data arrived in PostgreSQL 14")
        pg.execute(f'GRANT pg_write_all_data TO "{app}"')
    with psycopg.connect(_libpq(urls["app"]), autocommit=True) as conn:
        conn.execute(
            "UPDATE sqla_partition.sqla_partition_policy SET policy = jsonb_set(jsonb_set("
            "policy, '{retention}', '\"1 month\"'), '{on_expire}', '\"drop\"')"
        )
    before = partitions(pg)
    now = ["--now", "2027-02-10T00:00:00Z"]
    result = CliRunner().invoke(main, ["roll", "--database-url", urls["roll"], *now])
    expected = "UPDATE (policy)" if grant == "column" else "pg_write_all_data"
    assert f"{app} may" in result.output and expected in result.output, result.output
    assert "expiry held" in result.output
    assert set(before) <= set(partitions(pg))  # nothing detached, nothing dropped
    check = CliRunner().invoke(main, ["check", "--database-url", urls["monitor"], *now])
    assert check.exit_code == 1 and expected in check.output


def test_a_table_planted_under_a_future_partitions_name_is_never_attached(db_url, pg):
    """A role with CREATE on the schema makes next month's partition first, with a trigger
    that would make it superuser when a row is moved into it by a superuser's roll."""
    mallory = f"sqlp_mallory_{uuid.uuid4().hex[:6]}"
    pg.execute(f'CREATE ROLE "{mallory}" LOGIN')
    try:
        pg.execute(f'GRANT CREATE ON SCHEMA public TO "{mallory}"')
        make_table(db_url, Range("created_at", premake=2, default=True))
        pg.execute("INSERT INTO events (created_at) VALUES ('2027-03-10')")  # in the DEFAULT
        url = make_url(db_url).set(username=mallory).render_as_string(False)
        with psycopg.connect(_libpq(url), autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE events_p2027_03 (id bigint, created_at timestamptz, note text)"
            )
            conn.execute(
                "CREATE FUNCTION escalate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f'ALTER ROLE "{mallory}" SUPERUSER; RETURN NULL; END $$'
            )
            conn.execute(
                "CREATE TRIGGER t AFTER INSERT ON events_p2027_03 "
                "FOR EACH ROW EXECUTE FUNCTION escalate()"
            )
        result = CliRunner().invoke(
            main, ["roll", "--database-url", db_url, "--now", "2027-01-10T00:00:00Z"]
        )
        assert result.exit_code == 1
        assert "public.events_p2027_03 was not created" in result.output
        assert "events_p2027_03" not in partitions(pg)
        is_super = pg.execute(
            "SELECT rolsuper FROM pg_roles WHERE rolname = %s", (mallory,)
        ).fetchone()
        assert is_super == (False,)
        assert pg.execute("SELECT count(*) FROM events_default").fetchone() == (1,)
    finally:
        pg.execute(f'DROP OWNED BY "{mallory}" CASCADE')
        pg.execute(f'DROP ROLE "{mallory}"')


def test_the_tools_objects_can_live_in_a_schema_of_their_own(db_url, pg, monkeypatch):
    """Blanket grants on public do not reach them there; roll finds them by itself."""
    from sqla_partition.sql.policy import DEFAULT_TOOL_SCHEMA, use_tool_schema

    monkeypatch.setenv("SQLA_PARTITION_SCHEMA", "sqlp_ops")
    use_tool_schema("sqlp_ops")  # as a process started with the variable would
    try:
        make_table(db_url, Range("created_at", premake=2, retention="3 months", default=True))
    finally:
        monkeypatch.delenv("SQLA_PARTITION_SCHEMA")
        use_tool_schema(DEFAULT_TOOL_SCHEMA)
    where = pg.execute(
        "SELECT to_regclass('sqlp_ops.sqla_partition_policy') IS NOT NULL, "
        "to_regclass('public.sqla_partition_policy') IS NOT NULL"
    ).fetchone()
    assert where == (True, False)
    pg.execute("CREATE ROLE sqlp_blanket")
    try:
        pg.execute("GRANT ALL ON ALL TABLES IN SCHEMA public TO sqlp_blanket")
        result = CliRunner().invoke(  # no variable: the schema is found in the database
            main, ["roll", "--database-url", db_url, "--now", "2027-04-05T00:00:00Z", "--json"]
        )
        assert result.exit_code == 0, result.output
        out = json.loads(result.output)
        assert out["tables"][0]["created"] and out["tables"][0]["detached"]
        assert not out["warnings"]  # the blanket grant does not reach the policies
        recorded = pg.execute("SELECT count(*) FROM sqlp_ops.sqla_partition_partitions").fetchone()
        assert recorded[0] > 0
        status = CliRunner().invoke(main, ["status", "--database-url", db_url])
        assert "public.events" in status.output
        run_op(db_url, lambda op: op.drop_partitioned_table("events", archives="drop"))
        left = pg.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'sqlp_ops'"
        ).fetchone()
        assert left == (0,)  # the migration found them there too, and removed them
    finally:
        pg.execute("DROP OWNED BY sqlp_blanket")
        pg.execute("DROP ROLE sqlp_blanket")


def test_a_name_too_long_says_what_to_shorten():
    from sqla_partition import PolicyError
    from sqla_partition.declaration.policies import TablePolicy

    with pytest.raises(PolicyError, match="table name .* Use a shorter name$"):
        TablePolicy("t" * 70, Range("created_at"), "timestamptz")
    with pytest.raises(PolicyError, match="partition_prefix="):
        TablePolicy("t" * 60, Range("created_at"), "timestamptz")


def test_a_writers_temporary_table_never_takes_a_splits_key_log(roles, pg):
    """The split's key-log trigger runs as the table's owner in the writers' sessions: an
    application that makes a temporary table of the log's name (and a trigger of its own
    on it) must see its table untouched and its trigger never run; the keys go to the real
    log. Before, pg_temp came first in the function's search_path."""
    import sqlalchemy as sa

    from sqla_partition import Hash, sql
    from sqla_partition.declaration.policies import TablePolicy
    from sqla_partition.planning.hash_split import hash_split

    from .test_hash import run_online

    names, urls = roles
    run_online(
        urls["owner"],
        lambda op: op.create_partitioned_table(
            "accounts",
            sa.Column("tenant_id", sa.Integer, nullable=False),
            sa.Column("id", sa.BigInteger, nullable=False),
            sa.Column("note", sa.Text),
            sa.PrimaryKeyConstraint("tenant_id", "id"),
            partitioning=Hash("tenant_id", partitions=2),
        ),
    )
    pg.execute("INSERT INTO accounts SELECT g, g, 'n' FROM generate_series(1, 20) g")
    pg.execute(f'GRANT SELECT, UPDATE ON accounts TO "{names["app"]}"')
    old, new = (TablePolicy("accounts", Hash("tenant_id", partitions=n), "hash") for n in (2, 4))
    split = hash_split(old, new, ("id", "note", "tenant_id"), ("tenant_id", "id"))[0]
    with psycopg.connect(_libpq(urls["owner"]), autocommit=True) as owner:
        owner.execute(sql.split_trigger_function(split).sql)
        owner.execute(sql.split_prepare(split).sql)
    with psycopg.connect(_libpq(urls["app"]), autocommit=True) as app:
        app.execute(f'CREATE TEMP TABLE "{split.log}" (tenant_id int, id bigint)')
        app.execute("CREATE TEMP TABLE ran (who text)")
        app.execute(
            "CREATE FUNCTION pg_temp.spy() RETURNS trigger LANGUAGE plpgsql AS "
            "$$BEGIN INSERT INTO pg_temp.ran VALUES (current_user); RETURN NULL; END$$"
        )
        app.execute(
            f'CREATE TRIGGER spy AFTER INSERT ON pg_temp."{split.log}" '
            "FOR EACH ROW EXECUTE FUNCTION pg_temp.spy()"
        )
        app.execute(
            "UPDATE accounts SET note = 'changed' WHERE tableoid = %s::regclass", (split.child,)
        )
        assert app.execute(f'SELECT count(*) FROM pg_temp."{split.log}"').fetchone() == (0,)
        assert app.execute("SELECT count(*) FROM pg_temp.ran").fetchone() == (0,)
    logged = pg.execute(f'SELECT count(*) FROM public."{split.log}"').fetchone()[0]
    assert logged > 0  # every key written went to the real log


def test_another_sessions_temporary_table_is_never_the_tools(db_url, pg, monkeypatch):
    """A login role's TEMP table named like the policy table, beside the tool's tables in
    a schema of their own: they are not looked for there (status, check and roll stopped
    with "in several schemas")."""
    from sqla_partition.sql.policy import DEFAULT_TOOL_SCHEMA, use_tool_schema

    monkeypatch.setenv("SQLA_PARTITION_SCHEMA", "sqlp_ops")
    use_tool_schema("sqlp_ops")
    try:
        make_table(db_url)
    finally:
        monkeypatch.delenv("SQLA_PARTITION_SCHEMA")
        use_tool_schema(DEFAULT_TOOL_SCHEMA)
    with psycopg.connect(pg.info.dsn, autocommit=True) as other:
        other.execute("CREATE TEMP TABLE sqla_partition_policy (x int)")
        other.execute("CREATE TEMP TABLE sqla_partition_partitions (x int)")
        for command in (["status"], ["check"], ["roll"]):
            result = CliRunner().invoke(
                main, [*command, "--database-url", db_url, "--now", "2026-11-27T10:00:00Z"]
            )
            assert "several schemas" not in result.output, result.output
            assert result.exit_code in (0, 1), result.output  # check: never rolled yet


def test_a_superuser_session_does_not_roll_a_table_a_non_superuser_owns(roles, db_url, pg):
    """SET ROLE is no boundary in a superuser's session: the owner's trigger could RESET
    ROLE and run as superuser while rows move. Such a table is refused in one line naming
    the role to use; the roll role (a member of the owner) rolls it."""
    names, urls = roles
    make_table(urls["owner"], Range("created_at", premake=2, default=True))
    with psycopg.connect(_libpq(urls["owner"]), autocommit=True) as owner:
        owner.execute(
            "CREATE FUNCTION escalate() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN "
            "RESET ROLE; PERFORM set_config('sqlp.escalated', current_user, false); "
            "RETURN NEW; END$$"
        )
        owner.execute(
            "CREATE TRIGGER escalate BEFORE INSERT ON events FOR EACH ROW "
            "EXECUTE FUNCTION escalate()"
        )
        owner.execute("INSERT INTO events (created_at) VALUES ('2027-05-10')")  # DEFAULT
    before = partitions(pg)
    now = ["--now", "2027-04-10T00:00:00Z", "--json"]
    result = CliRunner().invoke(main, ["roll", "--database-url", db_url, *now])
    assert result.exit_code == 1, result.output
    (table,) = json.loads(result.output)["tables"]
    assert (
        table["status"] == "failed" and "not rolled in a superuser's session" in table["errors"][0]
    )
    assert names["owner"] in table["errors"][0]
    assert partitions(pg) == before  # nothing ran
    result = CliRunner().invoke(main, ["roll", "--database-url", urls["roll"], *now])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["tables"][0]["moved_rows"] == 1


def test_the_tools_queries_never_call_another_roles_functions(roles, db_url, pg):
    """An owner with CREATE on public shadows pg_catalog's pg_get_expr with one whose
    argument types match the tool's call more closely: no command of the tool calls it
    (a no-op roll run as a superuser called it 21 times, and it made the owner superuser)."""
    names, urls = roles
    make_table(urls["owner"], Range("created_at", premake=2, default=True))
    with psycopg.connect(_libpq(urls["owner"]), autocommit=True) as owner:
        owner.execute("CREATE TABLE public.calls (who text)")
        owner.execute("GRANT INSERT ON public.calls TO PUBLIC")
        owner.execute(
            "CREATE FUNCTION public.pg_get_expr(pg_node_tree, integer) RETURNS text "
            "LANGUAGE plpgsql AS $$BEGIN INSERT INTO public.calls VALUES (current_user); "
            "RETURN pg_catalog.pg_get_expr($1, $2::oid); END$$"
        )
        # closer matches for other calls: an aggregate of names, a size by oid
        owner.execute(
            "CREATE FUNCTION public.logged(name[], name) RETURNS name[] LANGUAGE plpgsql AS "
            "$$BEGIN INSERT INTO public.calls VALUES (current_user); RETURN $1 || $2; END$$"
        )
        owner.execute(
            "CREATE AGGREGATE public.array_agg(name) (sfunc = public.logged, stype = name[])"
        )
        owner.execute(
            "CREATE FUNCTION public.pg_relation_size(oid) RETURNS bigint LANGUAGE plpgsql AS "
            "$$BEGIN INSERT INTO public.calls VALUES (current_user); RETURN 0; END$$"
        )
        # and an operator pg_catalog has no exact match for (oid <> integer), which the
        # catalog's read of foreign keys would meet
        owner.execute("CREATE TABLE public.calls_parent (id int PRIMARY KEY)")
        owner.execute("CREATE TABLE public.calls_child (p int REFERENCES public.calls_parent)")
        owner.execute(
            "CREATE FUNCTION public.logged_ne(oid, integer) RETURNS boolean LANGUAGE plpgsql "
            "AS $$BEGIN INSERT INTO public.calls VALUES (pg_catalog.current_query()); "
            "RETURN $1 OPERATOR(pg_catalog.<>) $2::pg_catalog.oid; END$$"
        )
        owner.execute(
            "CREATE OPERATOR public.<> (leftarg = oid, rightarg = integer, "
            "function = public.logged_ne)"
        )
    now = ["--now", "2027-01-10T00:00:00Z"]
    for url, command in (
        (db_url, ["roll", "--dry-run"]),  # a superuser's session
        (urls["roll"], ["roll"]),
        (urls["monitor"], ["status"]),
        (urls["monitor"], ["check"]),
    ):
        result = CliRunner().invoke(main, [*command, "--database-url", url, *now])
        assert result.exit_code in (0, 1), result.output
    assert pg.execute("SELECT count(*) FROM public.calls").fetchone() == (0,)
    # nor does autogenerate, run by a superuser, which reads the same catalog; the
    # session's own search_path is back afterwards (SQLAlchemy's reflection, which calls
    # array_agg of a text, is no part of this tool: that shadow goes first)
    pg.execute("DROP AGGREGATE public.array_agg(name)")
    import sqlalchemy as sa
    from alembic.autogenerate import produce_migrations
    from alembic.migration import MigrationContext

    engine = sa.create_engine(db_url)
    plugins = ["alembic.autogenerate.*", "sqla_partition"]
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SET search_path = public")
            context = MigrationContext.configure(
                conn,
                opts={
                    "target_metadata": sa.MetaData(),
                    "autogenerate_plugins": plugins,
                    "include_schemas": False,
                },
            )
            script = produce_migrations(context, sa.MetaData())
            dropped = {op.table_name for op in script.upgrade_ops.ops}
            # it ran: the partitions are hidden
            assert dropped == {"events", "calls", "calls_parent", "calls_child"}
            assert conn.exec_driver_sql("SHOW search_path").scalar() == "public"
            # (counted in the same transaction, which is rolled back; the operator records
            # the query that called it, and SQLAlchemy's reflection of columns, no part of
            # this tool either, compares an oid with an integer)
            ours = conn.exec_driver_sql(
                "SELECT who FROM public.calls "
                "WHERE who NOT LIKE 'SELECT pg_catalog.pg_attribute.attname AS name, %%'"
            ).fetchall()
            assert ours == []
    finally:
        engine.dispose()
    assert pg.execute("SELECT count(*) FROM public.calls").fetchone() == (0,)


def test_a_policy_table_in_another_roles_schema_is_never_the_tools(roles, pg):
    """A role that owns a schema makes a table named like the policy table there, with a
    trigger of its own, before the first migration: the migration puts the tool's tables
    in their own schema, and writes nothing into that table (its trigger ran as the
    migrating owner)."""
    names, urls = roles
    app = names["app"]
    pg.execute(f'CREATE SCHEMA evil AUTHORIZATION "{app}"')
    with psycopg.connect(_libpq(urls["app"]), autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE evil.sqla_partition_policy (schema_name text, table_name text, "
            "policy jsonb, key_type text, updated_at timestamptz DEFAULT now(), "
            "rolled_at timestamptz, PRIMARY KEY (schema_name, table_name))"
        )
        conn.execute("GRANT ALL ON SCHEMA evil TO PUBLIC")
        conn.execute("GRANT ALL ON evil.sqla_partition_policy TO PUBLIC")
    make_table(urls["owner"])
    assert pg.execute("SELECT count(*) FROM evil.sqla_partition_policy").fetchone() == (0,)
    assert pg.execute("SELECT count(*) FROM sqla_partition.sqla_partition_policy").fetchone() == (
        1,
    )
    for command in (["status"], ["check"]):
        result = CliRunner().invoke(main, [*command, "--database-url", urls["monitor"]])
        assert "public.events" in result.output or "never rolled" in result.output, result.output


def test_a_tool_schema_another_role_made_first_is_refused(roles, pg):
    """A role that may create schemas makes one named sqla_partition before the first
    migration: the tool's tables would be that role's to replace, so the migration stops
    with the reason and the role to give the schema to."""
    names, urls = roles
    pg.execute(f'CREATE SCHEMA sqla_partition AUTHORIZATION "{names["app"]}"')
    with pytest.raises(Exception, match="the schema sqla_partition belongs to"):
        make_table(urls["owner"])
    assert pg.execute(
        "SELECT count(*) FROM pg_class WHERE relnamespace = 'sqla_partition'::regnamespace"
    ).fetchone() == (0,)


def test_no_role_that_may_not_roll_a_table_can_stop_its_roll(roles, pg):
    """roll's lock is an advisory lock, which any role may take: its key is a random number
    only roles that may roll the table read, and a key a stranger holds (seen in pg_locks
    while a run held it) is drawn again."""
    from sqla_partition.sql import roll_lock

    names, urls = roles
    make_table(urls["owner"], Range("created_at", premake=2, default=True))
    # as an audited database has it: every role may use the schema (not its tables)
    pg.execute(f'GRANT USAGE ON SCHEMA sqla_partition TO "{names["app"]}"')
    now = ["--now", "2027-04-05T00:00:00Z"]
    strangers = {
        kind: psycopg.connect(_libpq(urls[kind]), autocommit=True) for kind in ("app", "monitor")
    }
    mallory = strangers["app"]
    try:
        # the key earlier versions used, which anyone can compute, holds nothing back
        mallory.execute("SELECT pg_advisory_lock(1936813168, hashtext('public.events'))")
        first = CliRunner().invoke(main, ["roll", "--database-url", urls["roll"], "--json", *now])
        assert first.exit_code == 0, first.output
        assert json.loads(first.output)["tables"][0]["status"] == "ok"
        # the keys are out of sight of every other role, pg_read_all_data included
        for conn in strangers.values():
            assert conn.execute(f"SELECT * FROM {roll_lock.keys_table()}").fetchall() == []
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # nor can they plant one
            mallory.execute(f"INSERT INTO {roll_lock.keys_table()} VALUES ('public', 'events', 1)")
        assert (
            mallory.execute(f"UPDATE {roll_lock.keys_table()} SET key = 1 RETURNING key").fetchall()
            == []
        )
        # a key seen in pg_locks and held afterwards: drawn again, the run goes on
        (key,) = pg.execute(f"SELECT key FROM {roll_lock.keys_table()}").fetchone()
        mallory.execute(f"SELECT pg_advisory_lock({roll_lock.KEYED_CLASS}, {key})")
        second = CliRunner().invoke(
            main, ["roll", "--database-url", urls["roll"], "--now", "2027-06-05T00:00:00Z"]
        )
        assert second.exit_code == 0, second.output
        assert f"of role {names['app']}, which may not roll public.events" in second.output
        assert "events_p2027_08" in partitions(pg)
        (again,) = pg.execute(f"SELECT key FROM {roll_lock.keys_table()}").fetchone()
        assert again != key
    finally:
        for conn in strangers.values():
            conn.close()
    # a run of a role that may roll the table is waited for, then skipped
    with psycopg.connect(_libpq(urls["roll"]), autocommit=True) as other_run:
        (key,) = other_run.execute(
            roll_lock.key_query(), {"schema": "public", "table": "events"}
        ).fetchone()
        other_run.execute(roll_lock.try_keyed_lock(), {"key": key})
        busy = CliRunner().invoke(
            main,
            ["roll", "--database-url", urls["roll"], "--wait-for-other-run", "0"]
            + ["--now", "2027-09-05T00:00:00Z"],
        )
        assert busy.exit_code == 3, busy.output
        assert "another run of sqla-partition" in busy.output


def test_a_database_of_an_earlier_version_gets_its_lock_keys_from_roll(roles, pg):
    from sqla_partition.sql import roll_lock

    names, urls = roles
    make_table(urls["owner"], Range("created_at", premake=2))
    pg.execute(f"DROP TABLE {roll_lock.keys_table()}")
    result = CliRunner().invoke(
        main, ["roll", "--database-url", urls["roll"], "--now", "2027-04-05T00:00:00Z"]
    )
    assert result.exit_code == 0, result.output
    owner, forced = pg.execute(
        "SELECT pg_get_userbyid(relowner), relforcerowsecurity FROM pg_class "
        f"WHERE oid = '{roll_lock.keys_table()}'::regclass"
    ).fetchone()
    assert (owner, forced) == (names["owner"], True)
    assert pg.execute(f"SELECT count(*) FROM {roll_lock.keys_table()}").fetchone() == (1,)
