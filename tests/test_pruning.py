"""Statements that read every partition: ``advise --pruning`` names them with the reason
and the fix; pruned ones (plan time, or at execution for parameters) are never reported."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from sqla_partition.cli import main

from .test_advise import planner  # noqa: F401  (a fixture)

TABLES = [
    "CREATE TABLE events (id bigint, created_at timestamptz NOT NULL, note text) "
    "PARTITION BY RANGE (created_at)",
    *(
        f"CREATE TABLE events_p2026_{m:02d} PARTITION OF events FOR VALUES FROM "
        f"('2026-{m:02d}-01') TO ('{2026 + m // 12}-{m % 12 + 1:02d}-01')"
        for m in range(7, 13)
    ),
    "CREATE TABLE accounts (tenant_id int NOT NULL, name text) PARTITION BY HASH (tenant_id)",
    *(
        f"CREATE TABLE accounts_h{r} PARTITION OF accounts FOR VALUES WITH "
        f"(MODULUS 4, REMAINDER {r})"
        for r in range(4)
    ),
    "CREATE TABLE orders (id int, region text, note text) PARTITION BY LIST (region)",
    "CREATE TABLE orders_eu PARTITION OF orders FOR VALUES IN ('de', 'fr')",
    "CREATE TABLE orders_us PARTITION OF orders FOR VALUES IN ('us')",
    "CREATE TABLE orders_default PARTITION OF orders DEFAULT",
    "CREATE TABLE ids (id int NOT NULL) PARTITION BY RANGE (id)",
    "CREATE TABLE ids_0 PARTITION OF ids FOR VALUES FROM (0) TO (100)",
    "CREATE TABLE ids_1 PARTITION OF ids FOR VALUES FROM (100) TO (200)",
    # a list partition partitioned by month in turn
    "CREATE TABLE metrics (region text NOT NULL, at timestamptz NOT NULL, v int) "
    "PARTITION BY LIST (region)",
    "CREATE TABLE metrics_eu PARTITION OF metrics FOR VALUES IN ('de') PARTITION BY RANGE (at)",
    "CREATE TABLE metrics_eu_a PARTITION OF metrics_eu FOR VALUES FROM ('2026-01-01') "
    "TO ('2026-02-01')",
    "CREATE TABLE metrics_eu_b PARTITION OF metrics_eu FOR VALUES FROM ('2026-02-01') "
    "TO ('2026-03-01')",
    "CREATE TABLE metrics_us PARTITION OF metrics FOR VALUES IN ('us')",
]

#: (statement, the reason reported, or None when it is pruned)
CASES = [
    (  # an epoch column read as a time
        "SELECT count(*) FROM ids WHERE to_timestamp(id) >= '2026-01-01'",
        "id is wrapped in to_timestamp()",
    ),
    (
        "SELECT count(*) FROM events WHERE created_at >= '2026-11-01' "
        "AND created_at < '2026-12-01'",
        None,
    ),
    ("SELECT count(*) FROM events WHERE created_at >= $1 AND created_at < $2", None),
    ("SELECT count(*) FROM events WHERE note = 'x'", "created_at is not filtered"),
    ("UPDATE events SET note = 'y' WHERE note = 'x'", "created_at is not filtered"),
    ("UPDATE events SET note = $1 WHERE id = $2", "created_at is not filtered"),
    (
        "UPDATE events e SET note = a.name FROM accounts a WHERE a.tenant_id = e.id "
        "AND a.tenant_id = 3",
        "created_at is not filtered",
    ),
    (
        "WITH t AS (SELECT 1 AS one) DELETE FROM events USING t WHERE events.id = t.one",
        "created_at is not filtered",
    ),
    (
        "SELECT count(*) FROM events WHERE date_trunc('month', created_at) = '2026-11-01'",
        "created_at is wrapped in date_trunc()",
    ),
    (
        "SELECT count(*) FROM events WHERE date_trunc('day', created_at) = $1",
        "created_at is wrapped in date_trunc()",
    ),
    (
        "SELECT count(*) FROM events WHERE created_at::date = '2026-11-05'",
        "created_at is cast to date",
    ),
    (
        "SELECT count(*) FROM ids WHERE id = 5.0",
        "id is compared with a value of another type",
    ),
    ("SELECT count(*) FROM ids WHERE id = 5", None),
    ("SELECT * FROM accounts WHERE tenant_id = 7", None),
    ("SELECT * FROM accounts WHERE tenant_id = $1", None),
    ("SELECT * FROM accounts WHERE name = 'x'", "tenant_id is not filtered"),
    (
        "SELECT * FROM orders WHERE region = 'de' OR note = 'x'",
        "region is compared inside an OR with other columns",
    ),
    ("SELECT * FROM orders WHERE region = 'de'", None),
    (  # the region's own months are all read: a full scan of metrics_eu
        "SELECT * FROM metrics WHERE region = 'de'",
        "at is not filtered",
    ),
    ("SELECT * FROM metrics WHERE region = 'de' AND at >= '2026-02-01'", None),
    ("SELECT * FROM metrics WHERE v = 1", "region is not filtered"),
    (  # compared as it is, but the range asked for spans every partition
        "SELECT * FROM events WHERE created_at >= '2026-01-01' AND created_at < '2027-06-01'",
        "created_at is compared as it is, but the values asked for span every partition",
    ),
]


@pytest.fixture
def workload(pg, tmp_path):
    for statement in TABLES:
        pg.execute(statement)
    path = tmp_path / "workload.sql"
    path.write_text(";\n".join(text for text, _ in CASES) + ";\n")
    return path


def test_unpruned_statements_are_named_with_the_reason_and_the_fix(
    db_url,
    workload,
    planner,  # noqa: F811
):
    args = ["advise", "--pruning", "--queries", str(workload)]
    result = CliRunner().invoke(main, [*args, "--database-url", planner, "--json"])
    assert result.exit_code == 0, result.output
    found = {row["query"]: row for row in json.loads(result.output)}
    for text, reason in CASES:
        if reason is None:
            assert text not in found, f"reported although pruned: {text}"
        else:
            assert text in found, f"not reported: {text}"
            assert found[text]["reason"].startswith(reason), found[text]
            assert found[text]["read"] == found[text]["partitions"]
    assert found["SELECT count(*) FROM events WHERE note = 'x'"]["partitions"] == 6
    assert "SELECT * FROM metrics WHERE v = 1" in found
    assert found["SELECT * FROM metrics WHERE v = 1"]["partitions"] == 3
    fix = found["SELECT count(*) FROM events WHERE created_at::date = '2026-11-05'"]["fix"]
    assert fix.startswith("compare created_at directly and cast the value instead")
    fix = found["SELECT count(*) FROM ids WHERE to_timestamp(id) >= '2026-01-01'"]["fix"]
    assert "write id >= extract(epoch FROM x)" in fix

    text = CliRunner().invoke(main, [*args, "--database-url", planner])
    assert text.exit_code == 0, text.output
    assert f"-- {len(CASES)} statements planned; {len(found)} read every partition" in (text.output)
    assert "public.events: reads 6 of 6 partitions; created_at is not filtered" in text.output


def test_pruning_needs_no_hypopg_and_bad_input_is_one_line(db_url, workload, tmp_path):
    bad = tmp_path / "bad.sql"
    bad.write_text("SELEC nope")
    result = CliRunner().invoke(
        main, ["advise", "--pruning", "--queries", str(bad), "--database-url", db_url]
    )
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    superuser = CliRunner().invoke(
        main, ["advise", "--pruning", "--queries", str(workload), "--database-url", db_url]
    )
    assert superuser.exit_code == 2 and "does not plan in a superuser's session" in superuser.output


def test_placeholders_of_every_paramstyle_are_read_and_skipped_statements_named(
    workload,
    planner,  # noqa: F811
    tmp_path,
):
    """A log of what an application runs holds its driver's placeholders: each statement is
    planned, and the ones that cannot be are named, in text and JSON."""
    statements = [
        "SELECT * FROM events WHERE note = %s",  # format
        "SELECT * FROM events WHERE note = %(note)s AND id = %(id)s",  # pyformat
        "SELECT * FROM events WHERE note = ? AND note LIKE 'a?%'",  # qmark
        "SELECT * FROM events WHERE note = :note AND created_at::date = :day",  # named
        "SELECT * FROM events WHERE note = :1",  # numeric
        "SELECT * FROM events WHERE created_at >= %(since)s AND created_at < %(until)s",
        "SELECT * FROM no_such_table WHERE x = 1",
        "SELEC broken",
    ]
    path = tmp_path / "log.sql"
    path.write_text(";\n".join(statements) + ";\n")
    args = ["advise", "--pruning", "--queries", str(path), "--database-url", planner]
    result = CliRunner().invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["query"]: row for row in json.loads(result.output)}
    for text in statements[:5]:
        assert rows[text]["verdict"] == "full" and rows[text]["key"] == "created_at", rows
    assert rows[statements[3]]["reason"] == "created_at is cast to date"
    assert statements[5] not in rows  # pruned when the executor starts
    skipped = {t: r["reason"] for t, r in rows.items() if r["verdict"] == "skipped"}
    assert set(skipped) == set(statements[6:])
    assert 'relation "no_such_table" does not exist' in skipped[statements[6]]
    assert "syntax error" in skipped[statements[7]]

    text = CliRunner().invoke(main, args)
    assert text.exit_code == 0, text.output
    assert "-- 6 statements planned (2 could not be planned here); 5 read every" in text.output
    assert "# skipped, 1 calls: SELEC broken" in text.output
    assert "could not be planned here: syntax error" in text.output


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("SELECT %s, %(a)s, %(a)s", "SELECT $1, $2, $2"),
        (
            "SELECT ?, x ? 'k', y ?| ARRAY['a'] FROM t LIMIT ?",
            "SELECT $1, x ? 'k', y ?| ARRAY['a'] FROM t LIMIT $2",
        ),
        (
            "SELECT :a::int, :1, ':a ? %s', b % 2 -- :x ?",
            "SELECT $1::int, $2, ':a ? %s', b % 2 -- :x ?",
        ),
        ("SELECT %s WHERE x LIKE 'a%%'", "SELECT $1 WHERE x LIKE 'a%'"),
        ("SELECT $1, %s", "SELECT $1, $2"),
        (  # jsonb's ? after a column named like an unreserved keyword; an array slice
            "SELECT * FROM t WHERE data ? 'k' AND value ? 'x' AND a[1:2] = ? AND b = :name",
            "SELECT * FROM t WHERE data ? 'k' AND value ? 'x' AND a[1:2] = $1 AND b = $2",
        ),
        (
            "SELECT 1 WHERE z BETWEEN ? AND ? AND w LIKE ?",
            "SELECT 1 WHERE z BETWEEN $1 AND $2 AND w LIKE $3",
        ),
        ("SELECT 'unterminated", "SELECT 'unterminated"),
    ],
)
def test_db_api_placeholders_as_postgresql_reads_them(written, read):
    from sqla_partition.tools.placeholders import to_dollar

    assert to_dollar(written) == read


def test_the_workload_holds_what_reads_partitions(pg):
    """pg_stat_statements' statements that read tables: INSERT … SELECT and PREPARE too,
    not an INSERT of values (a table of the same shape stands in for the view)."""
    from sqla_partition import sql

    pg.execute("CREATE SCHEMA stats")
    pg.execute(
        "CREATE TABLE stats.pg_stat_statements (dbid oid, query text, calls bigint, "
        "total_exec_time float8)"
    )
    texts = [
        "SELECT * FROM events WHERE note = $1",
        "with t as (select 1) select * from t",
        "INSERT INTO copy SELECT * FROM events WHERE note = $1",
        "insert into copy (a)\nselect a from events",
        "PREPARE p AS SELECT * FROM events",
        "UPDATE events SET note = $1",
        "INSERT INTO events VALUES ($1, $2, $3)",
        "VACUUM events",
    ]
    for text in texts:
        pg.execute(
            "INSERT INTO stats.pg_stat_statements SELECT oid, %s, 10, 1 FROM pg_database "
            "WHERE datname = current_database()",
            (text,),
        )
    rows = pg.execute(sql.workload_query(1, 100, "stats")).fetchall()
    assert sorted(q for q, _ in rows) == sorted(texts[:6])


def test_hostile_names_are_resolved_and_quoted_in_the_statement_offered(
    pg,
    planner,  # noqa: F811
    tmp_path,
):
    pg.execute(
        'CREATE TABLE "Ev""ents; --" ("Created At" timestamptz NOT NULL, "select" int) '
        'PARTITION BY RANGE ("Created At")'
    )
    for m in (1, 2, 3):
        pg.execute(
            f'CREATE TABLE "Ev""ents; --_{m}" PARTITION OF "Ev""ents; --" '
            f"FOR VALUES FROM ('2026-0{m}-01') TO ('2026-0{m + 1}-01')"
        )
    statement = (
        'SELECT * FROM "Ev""ents; --" e WHERE date_trunc(\'day\', e."Created At") = '
        "'2026-02-03' AND e.\"select\" = 1"
    )
    path = tmp_path / "q.sql"
    path.write_text(statement + ";\n")
    args = ["advise", "--pruning", "--queries", str(path), "--database-url", planner, "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)
    assert row["table"] == 'public.Ev"ents; --' and row["key"] == "Created At", row
    assert row["reason"] == "Created At is wrapped in date_trunc()"
    assert row["instead"].startswith('SELECT * FROM "Ev""ents; --" AS e WHERE (e."Created At" >= ')
    assert row["instead"].endswith(' AND e."select" = 1')
    rows = pg.execute(f"EXPLAIN (FORMAT JSON) {row['instead']}").fetchone()[0]
    # the offered statement reads one partition
    assert json.dumps(rows).count('"Relation Name"') == 1, rows


def test_one_partition_is_no_full_scan_and_not_like_is_not_a_range():
    from sqla_partition.tools.pruning import PartitionMap, unpruned
    from sqla_partition.tools.pruning_reasons import why
    from sqla_partition.tools.pruning_terms import Level

    rows = [("public", "logs", "public", "logs_2026", ["at"], "r", None, None, "timestamp")]
    plan = [
        {
            "Plan": {
                "Node Type": "Seq Scan",
                "Relation Name": "logs_2026",
                "Schema": "public",
                "Alias": "logs",
            }
        }
    ]
    assert unpruned(plan, "SELECT * FROM logs", PartitionMap(rows)) == []

    found = why("SELECT * FROM t WHERE r NOT LIKE 'ab%'", {"t"}, [Level("r", "l", "text")])
    assert found.kind == "like" and found.rewritten == "" and ">=" not in found.fix
