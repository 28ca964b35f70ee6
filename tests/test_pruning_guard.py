"""The pruning guard in an application's test suite: statements that read every partition
fail (or warn) with the statement, the test and the fix; pruned ones, parameters
included, pass; a marker or a block with a reason allows a full scan; each distinct
statement is planned once."""

from __future__ import annotations

import textwrap

import pytest
import sqlalchemy as sa

from sqla_partition.testing import (
    UnprunedStatement,
    UnprunedWarning,
    allow_full_scans,
    guard_pruning,
)

pytest_plugins = ["pytester"]


@pytest.fixture
def engine(db_url, pg):
    pg.execute(
        "CREATE TABLE events (id bigint, created_at timestamptz NOT NULL, note text) "
        "PARTITION BY RANGE (created_at)"
    )
    for m in range(9, 13):
        pg.execute(
            f"CREATE TABLE events_p2026_{m:02d} PARTITION OF events FOR VALUES FROM "
            f"('2026-{m:02d}-01') TO ('{2026 + m // 12}-{m % 12 + 1:02d}-01')"
        )
    pg.execute("CREATE TABLE notes (id int, note text)")
    engine = sa.create_engine(db_url)
    yield engine
    engine.dispose()


def test_unpruned_statements_fail_and_pruned_ones_pass(engine):
    pruned = sa.text("SELECT count(*) FROM events WHERE created_at >= :a AND created_at < :b")
    with guard_pruning(engine) as guard, engine.begin() as conn:
        for _ in range(3):
            conn.execute(pruned, {"a": "2026-11-01", "b": "2026-12-01"})
        conn.execute(sa.text("SELECT count(*) FROM notes WHERE note = 'x'"))
        with pytest.raises(UnprunedStatement) as caught:
            conn.execute(sa.text("SELECT count(*) FROM events WHERE note = :n"), {"n": "x"})
        assert "reads 4 of 4 partitions; created_at is not filtered" in str(caught.value)
        assert "scans_all_partitions(reason=...)" in str(caught.value)
    assert guard.planned == 2  # the pruned statement once, the unpruned one once
    with guard_pruning(engine) as guard, engine.begin() as conn:
        # the transaction goes on after a guarded statement: the plan ran in a savepoint
        conn.execute(sa.text("INSERT INTO notes VALUES (1, 'x')"))
        with allow_full_scans("counting every event once"):
            conn.execute(sa.text("SELECT count(*) FROM events"))
        with pytest.raises(UnprunedStatement, match="wrapped in date_trunc"):
            conn.execute(
                sa.text("UPDATE events SET note = 'y' WHERE date_trunc('day', created_at) = :d"),
                {"d": "2026-11-05"},
            )
    warned = pytest.warns(UnprunedWarning, match="created_at is not filtered")
    with guard_pruning(engine, mode="warn"), engine.begin() as conn, warned:
        conn.execute(sa.text("SELECT count(*) FROM events"))
    with pytest.raises(ValueError, match="needs the reason"), allow_full_scans(""):
        pass


def test_the_pytest_plugin_names_the_test_and_honours_the_marker(pytester, db_url, engine):
    pytester.makeconftest(
        textwrap.dedent(
            f"""
            import pytest
            import sqlalchemy as sa

            from sqla_partition.testing import guard_pruning

            pytest_plugins = ["sqla_partition.testing"]


            @pytest.fixture(scope="session")
            def engine():
                return sa.create_engine({db_url!r})


            @pytest.fixture(scope="session", autouse=True)
            def _pruning(engine):
                with guard_pruning(engine):
                    yield
            """
        )
    )
    pytester.makepyfile(
        test_app=textwrap.dedent(
            """
            import pytest
            import sqlalchemy as sa


            def test_report(engine):
                with engine.connect() as conn:
                    conn.execute(sa.text("SELECT count(*) FROM events WHERE note = 'a'"))


            @pytest.mark.scans_all_partitions(reason="the yearly report")
            def test_yearly(engine):
                with engine.connect() as conn:
                    conn.execute(sa.text("SELECT count(*) FROM events WHERE note = 'b'"))


            def test_pruned(engine):
                with engine.connect() as conn:
                    conn.execute(sa.text(
                        "SELECT count(*) FROM events WHERE created_at >= '2026-11-01'"
                        " AND created_at < '2026-12-01'"
                    ))
            """
        )
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*test_app.py::test_report: SELECT count(*) FROM events*"])


def test_the_guard_never_disturbs_the_applications_statements(db_url, engine, pg):
    pg.execute("CREATE SCHEMA app")
    pg.execute(
        "CREATE TABLE app.visits (tenant int NOT NULL, at date NOT NULL) PARTITION BY HASH (tenant)"
    )
    for r in range(2):
        pg.execute(
            f"CREATE TABLE app.visits_h{r} PARTITION OF app.visits "
            f"FOR VALUES WITH (MODULUS 2, REMAINDER {r})"
        )
    pg.execute("CREATE INDEX ON app.visits (tenant)")
    pg.execute("CREATE TABLE users (id int, email text)")
    autocommit = sa.create_engine(db_url, isolation_level="AUTOCOMMIT")
    try:
        with guard_pruning(autocommit), autocommit.connect() as conn:
            conn.execute(sa.text("SELECT count(*) FROM notes"))
            with pytest.raises(UnprunedStatement, match="app.visits: reads 2 of 2"):
                conn.execute(sa.text("SELECT count(*) FROM app.visits WHERE at = '2026-01-01'"))
    finally:
        autocommit.dispose()
    with guard_pruning(engine), engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL enable_hashjoin = off"))  # for the join below
        conn.execute(sa.text("SET LOCAL enable_mergejoin = off"))
        conn.execute(sa.text("INSERT INTO notes VALUES (7, 'kept')"))
        streamed = conn.execution_options(stream_results=True)  # a server-side cursor
        list(streamed.execute(sa.text("SELECT * FROM notes")))
        # pruned at run time through a nested loop's rows, and in each branch of a UNION ALL
        # (a hash join of the same tables would read every partition)
        conn.execute(
            sa.text(
                "SELECT count(*) FROM users u JOIN app.visits v ON v.tenant = u.id "
                "WHERE u.email = :e"
            ),
            {"e": "x"},
        )
        conn.execute(
            sa.text(
                "SELECT count(*) FROM events WHERE created_at >= '2026-09-01' "
                "AND created_at < '2026-11-01' UNION ALL SELECT count(*) FROM events "
                "WHERE created_at >= '2026-11-01' AND created_at < '2027-01-01'"
            )
        )
    assert pg.execute("SELECT note FROM notes WHERE id = 7").fetchone() == ("kept",)


def test_a_string_of_several_statements_runs_once(engine, pg):
    """EXPLAIN plans the first statement of a string and runs the others: the guard leaves
    such strings alone, so the application's own execution is the only one."""
    with guard_pruning(engine) as guard, engine.begin() as conn:
        conn.exec_driver_sql(
            "SELECT count(*) FROM events WHERE note = 'x'; INSERT INTO notes VALUES (7, 'once')"
        )
    assert pg.execute("SELECT count(*) FROM notes WHERE id = 7").fetchone() == (1,)
    assert guard.planned == 0


def test_the_guard_locks_no_partition_the_statement_does_not_read(engine):
    """The guard reads the partitions from the catalog alone: the application's transaction
    holds locks on what its statement reads, as without the guard."""
    locks = (
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
        "WHERE l.pid = pg_backend_pid() AND c.relname LIKE :leaves"
    )
    with guard_pruning(engine) as guard, engine.begin() as conn:
        conn.execute(
            sa.text(
                "SELECT count(*) FROM events WHERE created_at >= '2026-11-01' "
                "AND created_at < '2026-12-01'"
            )
        )
        assert conn.execute(sa.text(locks), {"leaves": "events_p2026%"}).scalar() == 1
        # a partition scanned twice: still only the partitions read are locked
        conn.execute(
            sa.text(
                "SELECT count(*) FROM events WHERE created_at >= '2026-11-01' "
                "AND created_at < '2026-12-01' UNION ALL SELECT count(*) FROM events "
                "WHERE created_at >= '2026-11-15' AND created_at < '2026-12-15'"
            )
        )
        assert conn.execute(sa.text(locks), {"leaves": "events_p2026%"}).scalar() == 2
    assert guard.planned == 2
