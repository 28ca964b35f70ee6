"""``sqla-partition advise``: hypothetical indexes decide, on every partition; what is
missing (hypopg, pg_stat_statements, rights) is one message and exit code 2."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from sqla_partition import Range
from sqla_partition.cli import main

from .test_roll import make_table

WORKLOAD = """
SELECT * FROM events WHERE note = 'n42';
SELECT * FROM accounts WHERE email = $1;
SELECT * FROM accounts WHERE id = $1;
"""


def advise(db_url, *args):
    return CliRunner().invoke(main, ["advise", "--database-url", db_url, *args])


@pytest.fixture
def hypopg(pg):
    available = pg.execute(
        "SELECT count(*) FROM pg_available_extensions WHERE name = 'hypopg'"
    ).fetchone()
    if not available[0]:
        pytest.skip("hypopg is not installed on this server (.ci/run installs it on Debian)")
    pg.execute("CREATE EXTENSION hypopg")


def seed(db_url, pg):
    make_table(db_url, Range("created_at", premake=3, default=True))
    pg.execute(
        "INSERT INTO events (created_at, note) SELECT timestamptz '2026-11-01' "
        "+ g * interval '1 minute', 'n' || g FROM generate_series(1, 60000) g"
    )
    pg.execute("CREATE TABLE accounts (id int PRIMARY KEY, email text)")
    pg.execute("INSERT INTO accounts SELECT g, 'u' || g FROM generate_series(1, 50000) g")
    pg.execute("ANALYZE events")
    pg.execute("ANALYZE accounts")


def as_role(url: str, role: str) -> str:
    return make_url(url).set(username=role, password=None).render_as_string(False)


@pytest.fixture
def planner(db_url, pg):
    """The URL of a role that may read everything and nothing more: advise plans as it."""
    name = f"sqlp_planner_{uuid.uuid4().hex[:6]}"
    pg.execute(f'CREATE ROLE "{name}" LOGIN')
    pg.execute(f'GRANT pg_read_all_data TO "{name}"')
    yield as_role(db_url, name)
    pg.execute(f'DROP OWNED BY "{name}"')
    pg.execute(f'DROP ROLE "{name}"')


def test_advice_for_a_seeded_workload(db_url, pg, hypopg, planner, tmp_path):
    seed(db_url, pg)
    queries = tmp_path / "workload.sql"
    queries.write_text(WORKLOAD)
    result = advise(planner, "--queries", str(queries), "--json")
    assert result.exit_code == 0, result.output
    advice = {(a["table"], tuple(a["columns"])): a for a in json.loads(result.output)}
    assert set(advice) == {("public.events", ("note",)), ("public.accounts", ("email",))}
    events = advice[("public.events", ("note",))]
    assert events["partitioned"] and events["index"] == "sqlp_adv_events_note"
    (query,) = events["queries"]
    assert query["cost_with"] <= query["cost"] / 2
    # the primary key already serves lookups by id: nothing proposed for them

    text = advise(planner, "--queries", str(queries)).output
    assert "op.create_partitioned_index('sqlp_adv_events_note', 'events', ['note'])" in text
    assert "op.create_index_online('sqlp_adv_accounts_email', 'accounts', ['email'])" in text
    hypothetical = pg.execute("SELECT count(*) FROM hypopg_list_indexes").fetchone()
    assert hypothetical == (0,)  # nothing left behind (and nothing was ever built)
    indexes = pg.execute("SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'sqlp_%'")
    assert indexes.fetchone() == (0,)


def test_without_hypopg_the_message_says_what_to_install(db_url, tmp_path):
    queries = tmp_path / "workload.sql"
    queries.write_text(WORKLOAD)
    result = advise(db_url, "--queries", str(queries))
    assert result.exit_code == 2
    assert "advise needs the hypopg extension" in result.output
    assert "CREATE EXTENSION hypopg" in result.output


def test_without_pg_stat_statements_the_message_says_what_to_configure(db_url, hypopg):
    result = advise(db_url)
    assert result.exit_code == 2
    assert "shared_preload_libraries" in result.output and "--queries FILE" in result.output


def test_a_workload_file_that_is_not_sql_is_one_line_and_exit_2(db_url, hypopg, tmp_path):
    queries = tmp_path / "workload.sql"
    queries.write_text("SELEC * FROM events;")
    result = advise(db_url, "--queries", str(queries))
    assert result.exit_code == 2
    assert "not SQL PostgreSQL can parse" in result.output and "Traceback" not in result.output


def test_bad_input_is_one_line_and_exit_2(db_url, tmp_path):
    result = advise(db_url, "--queries", str(tmp_path / "missing.sql"))
    assert result.exit_code == 2 and "does not exist" in result.output
    result = CliRunner().invoke(main, ["advise"], env={"DATABASE_URL": ""})
    assert result.exit_code == 2 and "no database" in result.output


def test_advise_never_plans_as_a_superuser(db_url, pg, hypopg, planner, tmp_path):
    """Planning folds calls of IMMUTABLE functions with constant arguments: a function
    another role wrote runs with the rights of whoever plans the statement, and what it
    does outside the transaction (here: a sequence, elsewhere COPY … TO PROGRAM) stays."""
    pg.execute("CREATE SEQUENCE loot")
    pg.execute(
        "CREATE FUNCTION sneaky(x int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS "
        "$$ BEGIN PERFORM nextval('loot'); RETURN x; END $$"
    )
    make_table(db_url, Range("created_at", premake=1))
    statement = "SELECT * FROM events WHERE id = sneaky(1)"
    with pytest.raises(psycopg.errors.QueryCanceled), pg.transaction():  # the harm, by hand
        pg.execute(f"EXPLAIN {statement}")
        pg.execute("SET LOCAL statement_timeout = 1; SELECT pg_sleep(1)")
    assert pg.execute("SELECT last_value, is_called FROM loot").fetchone() == (1, True)
    pg.execute("SELECT setval('loot', 1, false)")

    queries = tmp_path / "workload.sql"
    queries.write_text(statement + ";")
    refused = advise(db_url, "--queries", str(queries))
    assert refused.exit_code == 2 and "does not plan in a superuser's session" in refused.output
    assert "Connect as the planning role" in refused.output
    planning_role = make_url(planner).username
    # SET ROLE is no boundary there: a function can RESET ROLE
    refused = advise(db_url, "--queries", str(queries), "--role", planning_role)
    assert refused.exit_code == 2 and "not even under --role" in refused.output
    # nor is a role that may become a superuser
    pg.execute(f'CREATE ROLE "{planning_role}_su" SUPERUSER')
    pg.execute(f'GRANT "{planning_role}_su" TO "{planning_role}"')
    try:
        refused = advise(planner, "--queries", str(queries))
        assert refused.exit_code == 2 and "superuser" in refused.output
    finally:
        pg.execute(f'DROP ROLE "{planning_role}_su"')
    result = advise(planner, "--queries", str(queries))
    assert result.exit_code == 0, result.output
    assert pg.execute("SELECT is_called FROM loot").fetchone() == (False,)  # it never ran
    # --role from a session that is no superuser: a login role member of the planner
    login = f"{planning_role}_login"
    pg.execute(f'CREATE ROLE "{login}" LOGIN IN ROLE "{planning_role}" NOINHERIT')
    try:
        result = advise(as_role(db_url, login), "--queries", str(queries), "--role", planning_role)
        assert result.exit_code == 0, result.output
        unknown = advise(as_role(db_url, login), "--queries", str(queries), "--role", "nobody_here")
        assert unknown.exit_code == 2 and "--role nobody_here" in unknown.output
    finally:
        pg.execute(f'DROP ROLE "{login}"')
    assert pg.execute("SELECT is_called FROM loot").fetchone() == (False,)


def test_the_tools_queries_call_no_function_another_role_defines(
    db_url, pg, hypopg, planner, tmp_path
):
    """An owner with CREATE on public defines a better match for a function the tool's
    catalog queries call: it never runs, and the application's statements are still
    planned under their own search_path."""
    owner = f"{make_url(planner).username}_owner"
    pg.execute(f'CREATE ROLE "{owner}"')
    pg.execute(f'GRANT CREATE ON SCHEMA public TO "{owner}"')
    pg.execute("CREATE SEQUENCE public.loot")
    pg.execute("GRANT USAGE, UPDATE ON SEQUENCE public.loot TO PUBLIC")
    pg.execute(f'SET ROLE "{owner}"')
    # a better match than pg_catalog.unnest(anyarray) for the index catalog's unnest(int2[])
    pg.execute(
        "CREATE FUNCTION public.unnest(smallint[]) RETURNS SETOF smallint LANGUAGE sql AS "
        "$$ SELECT x FROM pg_catalog.unnest($1) AS x WHERE nextval('public.loot') > 0 $$"
    )
    pg.execute("RESET ROLE")
    seed(db_url, pg)
    pg.execute("CREATE SCHEMA app")
    pg.execute("CREATE TABLE app.things (id int PRIMARY KEY, tag text)")
    pg.execute("INSERT INTO app.things SELECT g, 't' || g FROM generate_series(1, 50000) g")
    pg.execute("ANALYZE app.things")
    pg.execute(f'ALTER ROLE "{make_url(planner).username}" SET search_path = app, public')
    queries = tmp_path / "workload.sql"
    queries.write_text(WORKLOAD + "SELECT * FROM things WHERE tag = 'x';\n")
    try:
        result = advise(planner, "--queries", str(queries), "--json")
        assert result.exit_code == 0, result.output
        tables = {a["table"] for a in json.loads(result.output)}
        assert "app.things" in tables  # planned under the application's own path
        result = advise(planner, "--pruning", "--queries", str(queries))
        assert result.exit_code == 0, result.output
        assert pg.execute("SELECT is_called FROM public.loot").fetchone() == (False,)
    finally:
        pg.execute(f'DROP OWNED BY "{owner}"')
        pg.execute(f'DROP ROLE "{owner}"')


def test_a_huge_workload_file_is_refused_before_it_is_read(db_url, hypopg, tmp_path):
    queries = tmp_path / "workload.sql"
    with queries.open("w") as fh:
        fh.truncate(11 * 1024 * 1024)
    result = advise(db_url, "--queries", str(queries))
    assert result.exit_code == 2 and "advise reads at most 10 MB" in result.output
