"""``advise --pruning`` and the pruning guard measured on a labelled corpus: every strategy,
132 statements, labels checked against EXPLAIN (ANALYZE) on the server the suite runs on.

Precision: of the scans reported as reading every partition, the share that do. Recall:
of the scans that do, the share reported. Each report must name the key the label names,
and each fix, written out as a statement, must prune.
"""

from __future__ import annotations

import json
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from psycopg import sql
from sqlalchemy.engine import make_url

from sqla_partition.cli import main
from sqla_partition.testing import UnprunedWarning, guard_pruning

from .conftest import _libpq
from .pruning_corpus import CASES, DATA, SCHEMA
from .pruning_labels import Labeller
from .test_advise import as_role

PRECISION = 0.98
RECALL = 0.9


@pytest.fixture(scope="module")
def corpus(server: Any) -> Iterator[tuple[str, str]]:
    """A database holding the corpus's tables (built once for the module) and the URL of a
    role that may read everything and nothing more."""
    url = server.ensure()
    name = f"sqlp_corpus_{uuid.uuid4().hex[:8]}"
    role = f"sqlp_corpus_planner_{uuid.uuid4().hex[:6]}"
    admin = _libpq(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        conn.execute(sql.SQL("GRANT pg_read_all_data TO {}").format(sql.Identifier(role)))
    db = make_url(url).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(_libpq(db), autocommit=True) as conn:
        for statement in SCHEMA + DATA:
            conn.execute(statement)
    yield db, as_role(db, role)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@pytest.fixture(scope="module")
def reported(corpus: tuple[str, str], tmp_path_factory: Any) -> dict[str, list[dict[str, Any]]]:
    """What ``advise --pruning --json`` reports of the whole corpus, by statement."""
    path = tmp_path_factory.mktemp("corpus") / "workload.sql"
    path.write_text(";\n".join(case.sql for case in CASES) + ";\n")
    result = CliRunner().invoke(
        main, ["advise", "--pruning", "--queries", str(path), "--json", "--database-url", corpus[1]]
    )
    assert result.exit_code == 0, result.output
    out: dict[str, list[dict[str, Any]]] = {}
    for row in json.loads(result.output):
        out.setdefault(row["query"], []).append(row)
    return out


def test_the_labels_hold_on_this_server(corpus):
    """Each label is what EXPLAIN (ANALYZE) shows here, and each fix prunes."""
    with psycopg.connect(_libpq(corpus[0]), autocommit=True) as conn:
        labeller = Labeller(conn)
        wrong = []
        for case in CASES:
            got = labeller.full(case.sql, case.params)
            if got != set(case.full):
                wrong.append(f"{case.sql}: labelled {case.full}, reads in full {sorted(got)}")
            if case.fix is not None:
                params = case.fix_params if case.fix_params is not None else case.params
                still = labeller.full(case.fix, params) & set(case.full)
                if still:
                    wrong.append(f"the fix {case.fix} still reads {sorted(still)} in full")
    assert not wrong, "\n".join(wrong)
    assert len(CASES) >= 100
    for strategy_table in ("events", "accounts", "metrics", "metrics_eu", "tickets"):
        assert any(strategy_table in case.full for case in CASES)


def test_precision_recall_and_the_key_named(reported):
    true_positive, false_positive, missed, wrong_key = [], [], [], []
    for case in CASES:
        rows = reported.get(case.sql, [])
        full = {r["table"].split(".", 1)[1]: r for r in rows if r["verdict"] == "full"}
        explained = {r["table"].split(".", 1)[1] for r in rows if r["verdict"] == "run-time"}
        for table, row in full.items():
            if table in case.full:
                true_positive.append(case.sql)
                if row["key"] != case.key or not row["reason"].startswith(case.key):
                    wrong_key.append(f"{case.sql}: {row['reason']} (the key is {case.key})")
            else:
                false_positive.append(f"{case.sql}: {row['reason']}")
        for table in case.full:
            if table not in full:
                missed.append((case.sql, table in explained))
    precision = len(true_positive) / max(1, len(true_positive) + len(false_positive))
    recall = len(true_positive) / max(1, len(true_positive) + len(missed))
    summary = f"precision {precision:.2f}, recall {recall:.2f}"
    assert precision >= PRECISION, f"{summary}; false alarms:\n" + "\n".join(false_positive)
    assert recall >= RECALL, f"{summary}; missed:\n" + "\n".join(s for s, _ in missed)
    assert not wrong_key, "\n".join(wrong_key)
    # what is not found is said to be undecidable without running it
    assert all(explained for _, explained in missed), missed


def test_statements_that_prune_at_run_time_are_said_so(reported):
    nested_loop = (
        "SELECT a.name FROM tenants t JOIN accounts a ON a.tenant_id = t.id "
        "WHERE t.name = 'tenant 3'"
    )
    subquery = (
        "SELECT count(*) FROM events WHERE created_at > (SELECT max(created_at) FROM tenants)"
    )
    for text, key in ((nested_loop, "tenant_id"), (subquery, "created_at")):
        (row,) = reported[text]
        assert row["verdict"] == "run-time" and row["key"] == key, row
        assert "cannot" not in row["reason"]


def test_the_guard_agrees_with_the_command(corpus, reported):
    """The test-suite guard, on every statement of the corpus an application could send
    as it is (no parameters), reports the same tables as ``advise --pruning``."""
    engine = sa.create_engine(corpus[0])
    disagree = []
    try:
        with guard_pruning(engine, mode="warn") as guard:
            for case in CASES:
                if case.params or case.sql.startswith("PREPARE"):
                    continue
                before = len(guard.found)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UnprunedWarning)
                    with engine.connect() as conn, conn.begin() as transaction:
                        conn.execute(sa.text(case.sql))
                        transaction.rollback()
                guarded = {u.table for _, _, u in guard.found[before:]}
                advised = {r["table"] for r in reported.get(case.sql, []) if r["verdict"] == "full"}
                if guarded != advised:
                    disagree.append(f"{case.sql}: guard {guarded}, advise {advised}")
    finally:
        engine.dispose()
    assert not disagree, "\n".join(disagree)


def test_the_statements_offered_instead_prune(corpus, reported):
    """Where the fix can be written out (arithmetic moved to the value's side, a day
    truncated into a range, a keyset's first column bounded), advise plans the statement
    before offering it; EXPLAIN (ANALYZE) agrees that it prunes."""
    offered = [
        (case, row) for case in CASES for row in reported.get(case.sql, []) if row.get("instead")
    ]
    assert len(offered) >= 10, offered
    with psycopg.connect(_libpq(corpus[0]), autocommit=True) as conn:
        labeller = Labeller(conn)
        for case, row in offered:
            table = row["table"].split(".", 1)[1]
            assert table not in labeller.full(row["instead"], case.params), row
        # and returns the same rows as the statement it replaces
        for case, row in offered:
            if case.params or not case.sql.startswith("SELECT"):
                continue
            for a, b in ((case.sql, row["instead"]), (row["instead"], case.sql)):
                extra = conn.execute(f"SELECT count(*) FROM (({a}) EXCEPT ALL ({b})) x")
                assert extra.fetchone() == (0,), (case.sql, row["instead"])
    kinds = {row["reason"].split(" is ", 1)[1].split(" ")[0] for _, row in offered}
    assert {"wrapped", "inside", "compared", "cast"} <= kinds, kinds
