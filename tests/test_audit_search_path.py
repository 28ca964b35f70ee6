"""A session's own search_path changes nothing the audit columns record. The columns
function runs for every row an update writes, without a ``SET search_path`` of its own
(that clause costs as much as the rest of the function): it names every function, operator
and type with its schema instead. An application role that owns a schema puts shadows of
what the function uses there, before pg_catalog on its search_path."""

from __future__ import annotations

import psycopg
import pytest

from sqla_partition import Audit

from .conftest import _libpq
from .test_hash import run_online
from .test_security import roles  # noqa: F401  (the fixture)

#: Each shadow lies or fails loudly: a clock in 2001, an actor of 7, text that is always
#: equal (and never matches a pattern), a type ``text`` no value passes.
SHADOWS = [
    "CREATE FUNCTION evil.now() RETURNS pg_catalog.timestamptz LANGUAGE sql "
    "AS $$ SELECT '2001-02-03 04:05:06+00'::pg_catalog.timestamptz $$",
    "CREATE FUNCTION evil.current_setting(pg_catalog.text, pg_catalog.bool) "
    "RETURNS pg_catalog.text LANGUAGE sql AS $$ SELECT '7'::pg_catalog.text $$",
    "CREATE FUNCTION evil.set_config(pg_catalog.text, pg_catalog.text, pg_catalog.bool) "
    "RETURNS pg_catalog.text LANGUAGE sql AS $$ SELECT $2 $$",
    "CREATE FUNCTION evil.length(pg_catalog.text) RETURNS pg_catalog.int4 LANGUAGE sql "
    "AS $$ SELECT 99 $$",
    "CREATE FUNCTION evil.yes(pg_catalog.text, pg_catalog.text) RETURNS pg_catalog.bool "
    "LANGUAGE sql AS $$ SELECT true $$",
    "CREATE FUNCTION evil.glue(pg_catalog.text, pg_catalog.text) RETURNS pg_catalog.text "
    "LANGUAGE sql AS $$ SELECT 'shadowed'::pg_catalog.text $$",
    *(
        f"CREATE OPERATOR evil.{op} (LEFTARG = pg_catalog.text, RIGHTARG = pg_catalog.text, "
        "FUNCTION = evil.yes)"
        for op in ("=", "<>", "!~", "!~*")
    ),
    "CREATE OPERATOR evil.|| (LEFTARG = pg_catalog.text, RIGHTARG = pg_catalog.text, "
    "FUNCTION = evil.glue)",
    "CREATE DOMAIN evil.text AS pg_catalog.text CHECK (VALUE IS NULL)",
]


@pytest.fixture
def hostile(roles, db_url, pg):  # noqa: F811
    """An audited table the application role writes, in a session whose search_path puts
    the role's own schema of shadows first."""
    names, urls = roles
    app = names["app"]
    pg.execute(
        "CREATE TABLE docs (id int PRIMARY KEY, body text, "
        "created_at timestamptz NOT NULL DEFAULT now(), "
        "updated_at timestamptz NOT NULL DEFAULT now(), created_by bigint, updated_by bigint)"
    )
    run_online(db_url, lambda op: op.enable_audit("docs", Audit(), primary_key=["id"]))
    pg.execute("INSERT INTO docs (id, body) VALUES (1, 'a')")
    pg.execute(f'GRANT SELECT, INSERT, UPDATE ON docs TO "{app}"')
    pg.execute(f'CREATE SCHEMA evil AUTHORIZATION "{app}"')
    with psycopg.connect(_libpq(urls["app"])) as conn:
        for stmt in SHADOWS:
            conn.execute(stmt)
        conn.commit()
        conn.execute("SET search_path = evil, pg_catalog, public")
        # the shadows are live in this session: what the function used to call unqualified
        # is theirs here
        assert conn.execute("SELECT now()::pg_catalog.text LIKE '2001%'").fetchone() == (True,)
        assert conn.execute("SELECT 'a' = 'b', current_setting('x', true)").fetchone() == (
            True,
            "7",
        )
        conn.commit()
        yield conn


def stamped(conn, row: int) -> tuple:
    """Whether the row's times are this transaction's, and its actors."""
    return conn.execute(
        "SELECT created_at OPERATOR(pg_catalog.=) pg_catalog.now(), "
        "updated_at OPERATOR(pg_catalog.=) pg_catalog.now(), created_by, updated_by "
        "FROM public.docs WHERE id OPERATOR(pg_catalog.=) %s",
        (row,),
    ).fetchone()


def test_an_update_under_a_hostile_search_path_is_stamped_truly(hostile):
    conn = hostile
    conn.execute("SELECT pg_catalog.set_config('app.user_id', '42', true)")
    conn.execute("UPDATE public.docs SET body = 'b' WHERE id OPERATOR(pg_catalog.=) 1")
    _, updated_now, _, updated_by = stamped(conn, 1)
    assert (updated_now, updated_by) == (True, 42)
    conn.commit()


def test_an_insert_the_trigger_fills_under_a_hostile_search_path(hostile):
    """Values left NULL make the trigger fill them (its insert branch)."""
    conn = hostile
    conn.execute("SELECT pg_catalog.set_config('app.user_id', '42', true)")
    conn.execute(
        "INSERT INTO public.docs (id, created_at, updated_at, created_by, updated_by) "
        "VALUES (2, NULL, NULL, NULL, NULL)"
    )
    assert stamped(conn, 2) == (True, True, 42, 42)
    conn.commit()


def test_a_bad_actor_gets_its_message_under_a_hostile_search_path(hostile):
    conn = hostile
    conn.execute("SELECT pg_catalog.set_config('app.user_id', 'alice', true)")
    with pytest.raises(psycopg.errors.InvalidParameterValue) as raised:
        conn.execute("UPDATE public.docs SET body = 'c' WHERE id OPERATOR(pg_catalog.=) 1")
    assert "app.user_id must be an integer user id, got alice" in str(raised.value)
    assert "SELECT set_config('app.user_id', '42', true)" in (raised.value.diag.message_hint or "")
    conn.rollback()
