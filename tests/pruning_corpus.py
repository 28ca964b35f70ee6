"""A labelled corpus of statements over every partitioning strategy, for pruning advice.

Each case is a statement, the partitioned tables it reads in full (the topmost one of a
table partitioned in turn), the key a report must name and, for a full scan, the statement
written as the advice says (it must prune). The labels are checked against EXPLAIN
(ANALYZE) by ``test_pruning_corpus.py`` on every server the suite runs on: a statement is a
full scan of a table when the plan keeps every leaf of it and no leaf runs fewer times
than with ``enable_partition_pruning`` off (run-time pruning, not an early stop); ``$n``
statements run as generic plans. Nothing here depends on the day it runs.
"""

from __future__ import annotations

from dataclasses import dataclass

_MONTHS = [(2025 + i // 12, i % 12 + 1) for i in range(24)]


def _month(year: int, month: int) -> str:
    return f"{year + month // 12}-{month % 12 + 1:02d}-01"


SCHEMA = [
    "CREATE TYPE ticket_status AS ENUM ('open', 'pending', 'closed', 'archived')",
    "CREATE TABLE tenants (id int PRIMARY KEY, region text NOT NULL, "
    "created_at timestamptz NOT NULL, name text)",
    "CREATE TABLE events_copy (id bigint, created_at timestamptz, tenant_id int, kind text, "
    "payload text)",
    # range by month, 24 months and a DEFAULT
    "CREATE TABLE events (id bigint NOT NULL, created_at timestamptz NOT NULL, "
    "tenant_id int NOT NULL, kind text, payload text) PARTITION BY RANGE (created_at)",
    *(
        f"CREATE TABLE events_{y}_{m:02d} PARTITION OF events "
        f"FOR VALUES FROM ('{y}-{m:02d}-01') TO ('{_month(y, m)}')"
        for y, m in _MONTHS
    ),
    "CREATE TABLE events_default PARTITION OF events DEFAULT",
    "CREATE INDEX ON events (created_at)",
    "CREATE VIEW this_week AS SELECT * FROM events WHERE created_at >= now() - interval '7 days'",
    "CREATE VIEW by_day AS SELECT date_trunc('day', created_at) AS day, count(*) AS n "
    "FROM events GROUP BY 1",
    # hash, 8 shards
    "CREATE TABLE accounts (tenant_id int NOT NULL, name text, created_at timestamptz) "
    "PARTITION BY HASH (tenant_id)",
    *(
        f"CREATE TABLE accounts_{r} PARTITION OF accounts "
        f"FOR VALUES WITH (MODULUS 8, REMAINDER {r})"
        for r in range(8)
    ),
    "CREATE INDEX ON accounts (tenant_id)",
    # list of range: regions, each by month, and a DEFAULT region
    "CREATE TABLE metrics (region text NOT NULL, at timestamptz NOT NULL, v int) "
    "PARTITION BY LIST (region)",
    "CREATE TABLE metrics_eu PARTITION OF metrics FOR VALUES IN ('de', 'fr') "
    "PARTITION BY RANGE (at)",
    "CREATE TABLE metrics_us PARTITION OF metrics FOR VALUES IN ('us') PARTITION BY RANGE (at)",
    *(
        f"CREATE TABLE metrics_{r}_{m:02d} PARTITION OF metrics_{r} "
        f"FOR VALUES FROM ('2026-{m:02d}-01') TO ('{_month(2026, m)}')"
        for r in ("eu", "us")
        for m in range(1, 7)
    ),
    "CREATE TABLE metrics_other PARTITION OF metrics DEFAULT",
    # list on an enum
    "CREATE TABLE tickets (id int NOT NULL, status ticket_status NOT NULL, title text) "
    "PARTITION BY LIST (status)",
    "CREATE TABLE tickets_open PARTITION OF tickets FOR VALUES IN ('open')",
    "CREATE TABLE tickets_pending PARTITION OF tickets FOR VALUES IN ('pending')",
    "CREATE TABLE tickets_done PARTITION OF tickets FOR VALUES IN ('closed', 'archived')",
]

DATA = [
    "INSERT INTO tenants SELECT i, (ARRAY['de', 'fr', 'us', 'br'])[i % 4 + 1], "
    "timestamptz '2026-01-01' + i * interval '9 days', 'tenant ' || i "
    "FROM generate_series(1, 40) i",
    "INSERT INTO events SELECT i, timestamptz '2024-12-01' + i * interval '19 hours', "
    "i % 40 + 1, (ARRAY['a', 'b', 'c'])[i % 3 + 1], 'p' || i FROM generate_series(1, 1000) i",
    "INSERT INTO accounts SELECT i, 'account ' || i, timestamptz '2026-01-01' + i * interval "
    "'1 day' FROM generate_series(1, 200) i",
    "INSERT INTO metrics SELECT (ARRAY['de', 'fr', 'us', 'br'])[i % 4 + 1], "
    "timestamptz '2026-01-01' + i * interval '5 hours', i FROM generate_series(1, 800) i",
    "INSERT INTO tickets SELECT i, (ARRAY['open', 'pending', 'closed', 'archived'])"
    "[i % 4 + 1]::ticket_status, 'ticket ' || i FROM generate_series(1, 400) i",
    "ANALYZE",
]


@dataclass(frozen=True)
class Case:
    sql: str
    #: the partitioned tables read in full (the topmost of a table partitioned in turn)
    full: tuple[str, ...] = ()
    #: the key the reason must name
    key: str | None = None
    #: the statement as the advice says to write it: it must prune
    fix: str | None = None
    #: values of ``$n`` for EXPLAIN (ANALYZE) (the advice plans the generic plan)
    params: tuple[str, ...] = ()
    #: values of the fix's ``$n``, where they differ
    fix_params: tuple[str, ...] | None = None


E = "events"
A = "accounts"
M = "metrics"
MEU = "metrics_eu"
T = "tickets"
R = "2026-03-01' AND created_at < '2026-04-01"  # a month of events, inside quotes

CASES: list[Case] = [
    # ---- range (events by created_at): pruned
    Case(f"SELECT count(*) FROM events WHERE created_at >= '{R}'"),
    Case("SELECT * FROM events WHERE created_at = '2026-03-05 10:00+00'"),
    Case("SELECT * FROM events WHERE created_at BETWEEN '2026-01-01' AND '2026-02-15'"),
    Case("SELECT count(*) FROM events WHERE created_at > now() - interval '1 hour'"),
    Case("SELECT * FROM events WHERE created_at IN ('2025-05-01', '2026-05-01')"),
    Case(
        "SELECT * FROM events WHERE created_at >= $1 AND created_at < $2",
        params=("2026-03-01", "2026-04-01"),
    ),
    Case("SELECT * FROM events WHERE created_at = $1", params=("2026-03-05",)),
    Case("SELECT count(*) FROM events WHERE created_at >= '2026-03-01'"),
    Case("SELECT count(*) FROM events WHERE created_at < '2025-03-01'"),
    Case(
        "SELECT * FROM events WHERE created_at = ANY "
        "('{2026-01-03 00:00+00,2026-02-03 00:00+00}'::timestamptz[])"
    ),
    Case(f"SELECT * FROM events WHERE created_at >= '{R}' AND kind = 'a'"),
    Case(
        "UPDATE events SET payload = 'x' WHERE created_at >= '2026-06-01' "
        "AND created_at < '2026-06-02'"
    ),
    Case("DELETE FROM events WHERE created_at < '2025-02-01' AND kind = 'z'"),
    Case(
        "SELECT e.id, t.name FROM events e JOIN tenants t ON t.id = e.tenant_id "
        "WHERE e.created_at >= '2026-01-01' AND e.created_at < '2026-02-01'"
    ),
    Case(
        "SELECT * FROM (SELECT * FROM events WHERE created_at >= '2026-06-01' "
        "AND created_at < '2026-07-01') s WHERE kind = 'a'"
    ),
    Case(
        "WITH recent AS (SELECT * FROM events WHERE created_at >= '2026-11-01') "
        "SELECT count(*) FROM recent"
    ),
    Case(
        "SELECT id FROM events WHERE created_at >= '2026-01-01' AND created_at < '2026-02-01' "
        "UNION ALL SELECT id FROM events WHERE created_at >= '2026-05-01' "
        "AND created_at < '2026-06-01'"
    ),
    Case("SELECT count(*) FROM events WHERE created_at >= date '2026-10-01'"),
    Case("SELECT count(*) FROM events WHERE created_at >= to_timestamp(1790000000)"),
    Case("SELECT count(*) FROM events WHERE created_at >= date_trunc('month', now())"),
    Case(f"SELECT * FROM events WHERE created_at >= '{R}' ORDER BY created_at LIMIT 10"),
    Case("SELECT count(*) FROM events WHERE created_at > (SELECT max(created_at) FROM tenants)"),
    Case(  # a nested loop: the month is chosen at run time
        "SELECT e.id FROM tenants t JOIN events e ON e.created_at = t.created_at "
        "WHERE t.name = 'tenant 5'"
    ),
    Case("SELECT * FROM events WHERE created_at >= '2026-05-01' OR created_at < '2025-02-01'"),
    Case(
        "SELECT * FROM events WHERE (created_at >= '2026-05-01' AND kind = 'a') "
        "OR (created_at < '2025-02-01' AND kind = 'b')"
    ),
    Case("SELECT count(*) FROM events WHERE created_at >= $1::timestamptz", params=("2026-09-01",)),
    Case("SELECT count(*) FROM events WHERE created_at >= current_date"),
    Case(
        "SELECT count(*) FROM events WHERE created_at >= '2026-01-01' "
        "AND created_at < timestamptz '2026-01-01' + interval '1 month'"
    ),
    Case(
        "SELECT * FROM events WHERE created_at >= '2026-03-01' AND created_at < '2026-04-01' "
        "AND (created_at, id) < ('2026-03-20', 500) ORDER BY created_at DESC, id DESC LIMIT 20"
    ),
    Case(
        "SELECT * FROM events WHERE created_at <= $1 AND (created_at, id) < ($1, $2) "
        "ORDER BY created_at DESC, id DESC LIMIT 20",
        params=("2026-03-20", "500"),
    ),
    Case(
        "PREPARE recent_events AS SELECT * FROM events WHERE created_at >= $1",
        params=("2026-11-01",),
    ),
    Case(
        "INSERT INTO events_copy SELECT * FROM events WHERE created_at >= '2026-02-01' "
        "AND created_at < '2026-03-01'"
    ),
    Case(
        "SELECT * FROM events e WHERE e.created_at >= '2026-04-01' AND e.created_at < "
        "'2026-05-01' AND EXISTS (SELECT 1 FROM tenants t WHERE t.id = e.tenant_id "
        "AND t.created_at > '2026-01-01')"
    ),
    # ---- range: full scans
    Case(
        "SELECT * FROM events WHERE kind = 'x'",
        (E,),
        "created_at",
        f"SELECT * FROM events WHERE kind = 'x' AND created_at >= '{R}'",
    ),
    Case(
        "SELECT count(*) FROM events",
        (E,),
        "created_at",
        f"SELECT count(*) FROM events WHERE created_at >= '{R}'",
    ),
    Case(
        "SELECT count(*) FROM events WHERE date_trunc('month', created_at) = '2026-03-01'",
        (E,),
        "created_at",
        f"SELECT count(*) FROM events WHERE created_at >= '{R}'",
    ),
    Case(
        "SELECT count(*) FROM events WHERE date_trunc('day', created_at) = $1",
        (E,),
        "created_at",
        "SELECT count(*) FROM events WHERE created_at >= $1 "
        "AND created_at < $1::timestamptz + interval '1 day'",
        ("2026-03-05",),
    ),
    Case(
        "SELECT * FROM events WHERE created_at::date = '2026-03-05'",
        (E,),
        "created_at",
        "SELECT * FROM events WHERE created_at >= '2026-03-05' AND created_at < '2026-03-06'",
    ),
    Case(
        "SELECT count(*) FROM events WHERE extract(year FROM created_at) = 2026",
        (E,),
        "created_at",
        "SELECT count(*) FROM events WHERE created_at >= '2026-01-01' "
        "AND created_at < '2027-01-01'",
    ),
    Case(
        "SELECT count(*) FROM events WHERE now() - created_at < interval '1 hour'",
        (E,),
        "created_at",
        "SELECT count(*) FROM events WHERE created_at > now() - interval '1 hour'",
    ),
    Case(
        "SELECT count(*) FROM events WHERE created_at + interval '30 days' > now()",
        (E,),
        "created_at",
        "SELECT count(*) FROM events WHERE created_at > now() - interval '30 days'",
    ),
    Case(
        "SELECT * FROM events WHERE (created_at, id) < ('2026-03-01', 100) "
        "ORDER BY created_at DESC, id DESC LIMIT 20",
        (E,),
        "created_at",
        "SELECT * FROM events WHERE created_at <= '2026-03-01' AND (created_at, id) < "
        "('2026-03-01', 100) ORDER BY created_at DESC, id DESC LIMIT 20",
    ),
    Case(
        "SELECT * FROM events WHERE (created_at, id) < ($1, $2) "
        "ORDER BY created_at DESC, id DESC LIMIT 20",
        (E,),
        "created_at",
        "SELECT * FROM events WHERE created_at <= $1 AND (created_at, id) < ($1, $2) "
        "ORDER BY created_at DESC, id DESC LIMIT 20",
        ("2026-03-20", "500"),
    ),
    Case(
        "SELECT * FROM events WHERE created_at >= '2026-03-01' OR kind = 'x'",
        (E,),
        "created_at",
        "SELECT * FROM events WHERE created_at >= '2026-03-01' UNION ALL SELECT * FROM "
        "events WHERE kind = 'x' AND created_at >= '2026-03-01' AND created_at < '2026-04-01'",
    ),
    Case(
        "SELECT * FROM events WHERE ($1::timestamptz IS NULL OR created_at >= $1)",
        (E,),
        "created_at",
        "SELECT * FROM events WHERE created_at >= $1",
        ("2026-10-01",),
    ),
    Case(
        "SELECT * FROM events WHERE created_at = ANY ($1::timestamptz[])",
        (E,),
        "created_at",
        "SELECT * FROM events WHERE created_at IN ($1, $2)",
        ("{2026-01-03,2026-02-03}",),
        ("2026-01-03", "2026-02-03"),
    ),
    Case(
        "SELECT * FROM events WHERE created_at::text LIKE '2026-03%'",
        (E,),
        "created_at",
        f"SELECT * FROM events WHERE created_at >= '{R}'",
    ),
    Case(
        "SELECT e.* FROM events e JOIN tenants t ON t.id = e.tenant_id "
        "WHERE t.created_at > '2026-06-01'",
        (E,),
        "created_at",
        "SELECT e.* FROM events e JOIN tenants t ON t.id = e.tenant_id "
        "WHERE t.created_at > '2026-06-01' AND e.created_at > '2026-06-01'",
    ),
    Case(
        "SELECT id FROM events WHERE created_at >= '2026-01-01' AND created_at < '2026-02-01' "
        "UNION ALL SELECT id FROM events WHERE kind = 'b'",
        (E,),
        "created_at",
        "SELECT id FROM events WHERE created_at >= '2026-01-01' AND created_at < '2026-02-01' "
        "UNION ALL SELECT id FROM events WHERE kind = 'b' AND created_at >= '2026-05-01'",
    ),
    Case(
        "SELECT * FROM events WHERE tenant_id IN (SELECT id FROM tenants WHERE region = 'de')",
        (E,),
        "created_at",
        "SELECT * FROM events WHERE tenant_id IN (SELECT id FROM tenants WHERE region = 'de') "
        "AND created_at >= '2026-11-01'",
    ),
    Case(
        "SELECT e.id FROM events e JOIN tenants t ON e.created_at = t.created_at",
        (E,),
        "created_at",
        "SELECT e.id FROM events e JOIN tenants t ON e.created_at = t.created_at "
        "WHERE e.created_at >= '2026-01-01' AND e.created_at < '2026-02-01'",
    ),
    Case(
        "SELECT * FROM events WHERE created_at IN (SELECT created_at FROM tenants "
        "WHERE region = 'de')",
        (E,),
        "created_at",
        "SELECT * FROM events WHERE created_at IN (SELECT created_at FROM tenants WHERE "
        "region = 'de') AND created_at >= '2026-01-01' AND created_at < '2026-02-01'",
    ),
    Case(
        "UPDATE events SET payload = 'y' WHERE id = 5",
        (E,),
        "created_at",
        "UPDATE events SET payload = 'y' WHERE id = 5 AND created_at >= '2025-01-01' "
        "AND created_at < '2025-02-01'",
    ),
    Case(
        "DELETE FROM events WHERE kind = 'old'",
        (E,),
        "created_at",
        "DELETE FROM events WHERE kind = 'old' AND created_at < '2025-02-01'",
    ),
    Case(
        "INSERT INTO events_copy SELECT * FROM events WHERE kind = 'x'",
        (E,),
        "created_at",
        f"INSERT INTO events_copy SELECT * FROM events WHERE kind = 'x' AND created_at >= '{R}'",
    ),
    Case(
        "PREPARE by_payload AS SELECT * FROM events WHERE payload = $1",
        (E,),
        "created_at",
        f"SELECT * FROM events WHERE payload = $1 AND created_at >= '{R}'",
        ("p1",),
    ),
    Case(
        "SELECT * FROM events WHERE coalesce(created_at, now()) > '2026-10-01'",
        (E,),
        "created_at",
        "SELECT * FROM events WHERE created_at > '2026-10-01'",
    ),
    Case(
        "SELECT * FROM events WHERE created_at AT TIME ZONE 'UTC' >= '2026-10-01'",
        (E,),
        "created_at",
        "SELECT * FROM events WHERE created_at >= timestamp '2026-10-01' AT TIME ZONE 'UTC'",
    ),
    Case(
        "SELECT count(*) FROM events WHERE created_at >= '2024-01-01'",
        (E,),
        "created_at",
        "SELECT count(*) FROM events WHERE created_at >= '2026-01-01'",
    ),
    Case(
        "SELECT count(*) FROM events WHERE created_at IS NOT NULL",
        (E,),
        "created_at",
        "SELECT count(*) FROM events WHERE created_at >= '2026-01-01'",
    ),
    Case(
        "SELECT * FROM events WHERE created_at >= '2026-03-01' AND created_at < '2026-04-01' "
        "OR id = 7",
        (E,),
        "created_at",
        f"SELECT * FROM events WHERE created_at >= '{R}' UNION ALL SELECT * FROM events "
        "WHERE id = 7 AND created_at >= '2026-04-01'",
    ),
    Case(
        "SELECT * FROM events WHERE created_at > $1::timestamptz - interval '1 day'",
        (),
        params=("2026-03-05",),
    ),
    Case(
        "SELECT * FROM events WHERE created_at - interval '1 day' > $1",
        (E,),
        "created_at",
        "SELECT * FROM events WHERE created_at > $1::timestamptz + interval '1 day'",
        ("2026-03-05",),
    ),
    Case(
        "SELECT * FROM events WHERE created_at::timestamp >= '2026-03-01'",
        (E,),
        "created_at",
        "SELECT * FROM events WHERE created_at >= '2026-03-01'",
    ),
    Case(
        "SELECT * FROM events WHERE to_char(created_at, 'YYYY-MM') = '2026-03'",
        (E,),
        "created_at",
        f"SELECT * FROM events WHERE created_at >= '{R}'",
    ),
    Case("SELECT count(*) FROM this_week"),  # a view that prunes
    Case(  # a view that wraps the key: filtering the view's column prunes nothing
        "SELECT n FROM by_day WHERE day = '2026-03-05'",
        (E,),
        "created_at",
        "SELECT count(*) FROM events WHERE created_at >= '2026-03-05' "
        "AND created_at < '2026-03-06'",
    ),
    # ---- hash (accounts by tenant_id): pruned
    Case("SELECT * FROM accounts WHERE tenant_id = 7"),
    Case("SELECT * FROM accounts WHERE tenant_id IN (1, 2)"),
    Case("SELECT * FROM accounts WHERE tenant_id = $1", params=("7",)),
    Case("SELECT * FROM accounts WHERE tenant_id = ANY ('{1,2}'::int[])"),
    Case("UPDATE accounts SET name = 'n' WHERE tenant_id = 3"),
    Case("DELETE FROM accounts WHERE tenant_id = $1", params=("3",)),
    Case("SELECT * FROM accounts WHERE tenant_id = 7 AND name = 'x'"),
    Case("SELECT a.name FROM tenants t JOIN accounts a ON a.tenant_id = t.id WHERE t.id = 3"),
    Case("SELECT * FROM accounts WHERE tenant_id IS NULL"),
    Case(  # the same through USING
        "SELECT a.name FROM (SELECT id AS tenant_id FROM tenants WHERE name = 'tenant 3') t "
        "JOIN accounts a USING (tenant_id)"
    ),
    Case(  # a nested loop: each tenant's shard is chosen at run time
        "SELECT a.name FROM tenants t JOIN accounts a ON a.tenant_id = t.id "
        "WHERE t.name = 'tenant 3'"
    ),
    Case("SELECT * FROM accounts WHERE tenant_id = 7 OR tenant_id = 9"),
    # ---- hash: full scans
    Case(
        "SELECT * FROM accounts WHERE name = 'x'",
        (A,),
        "tenant_id",
        "SELECT * FROM accounts WHERE name = 'x' AND tenant_id = 7",
    ),
    Case(
        "SELECT * FROM accounts WHERE tenant_id BETWEEN 1 AND 3",
        (A,),
        "tenant_id",
        "SELECT * FROM accounts WHERE tenant_id IN (1, 2, 3)",
    ),
    Case(
        "SELECT * FROM accounts WHERE tenant_id > 100",
        (A,),
        "tenant_id",
        "SELECT * FROM accounts WHERE tenant_id IN (101, 102)",
    ),
    Case(
        "SELECT * FROM accounts WHERE tenant_id::text = '7'",
        (A,),
        "tenant_id",
        "SELECT * FROM accounts WHERE tenant_id = '7'::int",
    ),
    Case(
        "SELECT * FROM accounts WHERE tenant_id + 0 = 7",
        (A,),
        "tenant_id",
        "SELECT * FROM accounts WHERE tenant_id = 7",
    ),
    Case(
        "SELECT * FROM accounts WHERE abs(tenant_id) = 7",
        (A,),
        "tenant_id",
        "SELECT * FROM accounts WHERE tenant_id IN (7, -7)",
    ),
    Case(
        "SELECT * FROM accounts WHERE tenant_id = 7 OR name = 'x'",
        (A,),
        "tenant_id",
        "SELECT * FROM accounts WHERE tenant_id = 7 UNION ALL SELECT * FROM accounts "
        "WHERE name = 'x' AND tenant_id = 8",
    ),
    Case(
        "SELECT * FROM accounts WHERE tenant_id = 7.0",
        (A,),
        "tenant_id",
        "SELECT * FROM accounts WHERE tenant_id = 7",
    ),
    Case(
        "SELECT * FROM accounts WHERE tenant_id IN (SELECT id FROM tenants WHERE region = 'de')",
        (A,),
        "tenant_id",
        "SELECT * FROM accounts WHERE tenant_id IN (SELECT id FROM tenants WHERE region = 'de') "
        "AND tenant_id IN (4, 8)",
    ),
    Case(
        "SELECT a.name FROM tenants t JOIN accounts a ON a.tenant_id = t.id WHERE t.region = 'de'",
        (A,),
        "tenant_id",
        "SELECT a.name FROM tenants t JOIN accounts a ON a.tenant_id = t.id "
        "WHERE t.region = 'de' AND a.tenant_id IN (4, 8)",
    ),
    Case(
        "SELECT * FROM accounts WHERE tenant_id <> 7",
        (A,),
        "tenant_id",
        "SELECT * FROM accounts WHERE tenant_id IN (1, 2, 3)",
    ),
    Case(
        "SELECT * FROM accounts WHERE tenant_id = ANY ($1::int[])",
        (A,),
        "tenant_id",
        "SELECT * FROM accounts WHERE tenant_id IN ($1, $2)",
        ("{1,2}",),
        ("1", "2"),
    ),
    Case(
        "UPDATE accounts SET name = 'n' WHERE name = 'm'",
        (A,),
        "tenant_id",
        "UPDATE accounts SET name = 'n' WHERE name = 'm' AND tenant_id = 3",
    ),
    Case(
        "SELECT count(*) FROM accounts WHERE created_at >= '2026-03-01'",
        (A,),
        "tenant_id",
        "SELECT count(*) FROM accounts WHERE created_at >= '2026-03-01' AND tenant_id = 3",
    ),
    # ---- list of range (metrics by region, then by month): pruned
    Case("SELECT * FROM metrics WHERE region = 'de' AND at >= '2026-02-01' AND at < '2026-03-01'"),
    Case(
        "SELECT * FROM metrics WHERE region = 'us'",
        ("metrics_us",),
        "at",
        "SELECT * FROM metrics WHERE region = 'us' AND at >= '2026-05-01'",
    ),
    Case("SELECT * FROM metrics WHERE at >= '2026-03-01' AND at < '2026-04-01'"),
    Case(
        "SELECT * FROM metrics WHERE region IN ('de', 'us')",
        (MEU, "metrics_us"),
        "at",
        "SELECT * FROM metrics WHERE region IN ('de', 'us') AND at >= '2026-05-01'",
    ),
    Case(
        "SELECT * FROM metrics WHERE region = $1",
        (MEU,),
        "at",
        "SELECT * FROM metrics WHERE region = $1 AND at < '2026-02-01'",
        ("fr",),
    ),
    Case(
        "SELECT * FROM metrics WHERE region >= 'd' AND region < 'e'",
        (MEU,),
        "at",
        "SELECT * FROM metrics WHERE region >= 'd' AND region < 'e' AND at >= '2026-06-01'",
    ),
    Case(
        "SELECT * FROM metrics WHERE region::varchar = 'de'",
        (MEU,),
        "at",
        "SELECT * FROM metrics WHERE region::varchar = 'de' AND at >= '2026-06-01'",
    ),
    Case(
        "SELECT * FROM metrics WHERE at >= '2026-02-01' AND at < '2026-03-01' "
        "AND region || '' = 'de'"
    ),
    Case("SELECT * FROM metrics WHERE region = 'de' AND at >= $1", params=("2026-05-01",)),
    Case("SELECT * FROM metrics WHERE region = 'br'"),
    # ---- list of range: full scans
    Case(
        "SELECT * FROM metrics WHERE v = 1",
        (M,),
        "region",
        "SELECT * FROM metrics WHERE v = 1 AND region = 'de'",
    ),
    Case(
        "SELECT * FROM metrics WHERE region = 'de' AND date_trunc('month', at) = '2026-02-01'",
        (MEU,),
        "at",
        "SELECT * FROM metrics WHERE region = 'de' AND at >= '2026-02-01' AND at < '2026-03-01'",
    ),
    Case(
        "SELECT * FROM metrics WHERE region LIKE 'd%'",
        (M,),
        "region",
        "SELECT * FROM metrics WHERE region >= 'd' AND region < 'e'",
    ),
    Case(
        "SELECT * FROM metrics WHERE region <> 'de'",
        (M,),
        "region",
        "SELECT * FROM metrics WHERE region IN ('fr', 'us')",
    ),
    Case(
        "SELECT * FROM metrics WHERE upper(region) = 'DE'",
        (M,),
        "region",
        "SELECT * FROM metrics WHERE region = 'de'",
    ),
    Case(
        "SELECT * FROM metrics WHERE region = 'de' OR v = 1",
        (M,),
        "region",
        "SELECT * FROM metrics WHERE region = 'de' UNION ALL SELECT * FROM metrics "
        "WHERE v = 1 AND region = 'us'",
    ),
    Case(
        "SELECT * FROM metrics WHERE date_trunc('month', at) = '2026-02-01'",
        (M,),
        "at",
        "SELECT * FROM metrics WHERE at >= '2026-02-01' AND at < '2026-03-01'",
    ),
    Case(
        "SELECT * FROM metrics WHERE region = 'de' AND at::date = '2026-02-03'",
        (MEU,),
        "at",
        "SELECT * FROM metrics WHERE region = 'de' AND at >= '2026-02-03' AND at < '2026-02-04'",
    ),
    Case(
        "SELECT * FROM metrics WHERE region = 'us' AND v > 10",
        ("metrics_us",),
        "at",
        "SELECT * FROM metrics WHERE region = 'us' AND v > 10 AND at < '2026-03-01'",
    ),
    Case(
        "SELECT * FROM metrics WHERE region = 'fr' AND at + interval '1 day' > '2026-06-01'",
        (MEU,),
        "at",
        "SELECT * FROM metrics WHERE region = 'fr' AND at > timestamptz '2026-06-01' - "
        "interval '1 day'",
    ),
    Case(
        "SELECT * FROM metrics WHERE region = $1 AND extract(month FROM at) = 2",
        (MEU,),
        "at",
        "SELECT * FROM metrics WHERE region = $1 AND at >= '2026-02-01' AND at < '2026-03-01'",
        ("de",),
    ),
    Case(
        "SELECT count(*) FROM metrics WHERE region IS NOT NULL",
        (M,),
        "region",
        "SELECT count(*) FROM metrics WHERE region = 'de'",
    ),
    # ---- list on an enum (tickets by status): pruned
    Case("SELECT * FROM tickets WHERE status = 'open'"),
    Case("SELECT * FROM tickets WHERE status IN ('open', 'pending')"),
    Case("SELECT * FROM tickets WHERE status = $1", params=("pending",)),
    Case("SELECT * FROM tickets WHERE status = 'open'::ticket_status"),
    Case("SELECT * FROM tickets WHERE status <> 'open'"),
    Case("SELECT * FROM tickets WHERE status > 'pending'"),
    Case("UPDATE tickets SET title = 't' WHERE status = 'closed' AND id = 3"),
    # ---- list on an enum: full scans
    Case(
        "SELECT * FROM tickets WHERE status::text = 'open'",
        (T,),
        "status",
        "SELECT * FROM tickets WHERE status = 'open'",
    ),
    Case(
        "SELECT * FROM tickets WHERE status = 'open' OR title = 'x'",
        (T,),
        "status",
        "SELECT * FROM tickets WHERE status = 'open' UNION ALL SELECT * FROM tickets "
        "WHERE title = 'x' AND status = 'pending'",
    ),
    Case(
        "SELECT * FROM tickets WHERE title LIKE 'ticket 1%'",
        (T,),
        "status",
        "SELECT * FROM tickets WHERE title LIKE 'ticket 1%' AND status = 'open'",
    ),
    Case(
        "SELECT * FROM tickets WHERE status <> 'closed'",
        (T,),
        "status",
        "SELECT * FROM tickets WHERE status IN ('open', 'pending')",
    ),
    Case(
        "SELECT * FROM tickets WHERE lower(status::text) = 'open'",
        (T,),
        "status",
        "SELECT * FROM tickets WHERE status = 'open'",
    ),
    Case(
        "DELETE FROM tickets WHERE id = 4",
        (T,),
        "status",
        "DELETE FROM tickets WHERE id = 4 AND status = 'open'",
    ),
    Case(
        "SELECT * FROM tickets WHERE status::text IN ('open', 'pending')",
        (T,),
        "status",
        "SELECT * FROM tickets WHERE status IN ('open', 'pending')",
    ),
    # ---- two partitioned tables in one statement
    Case(
        "SELECT e.id FROM events e JOIN accounts a ON a.tenant_id = e.tenant_id "
        "WHERE e.created_at >= '2026-05-01' AND e.created_at < '2026-06-01'",
        (A,),
        "tenant_id",
        "SELECT e.id FROM events e JOIN accounts a ON a.tenant_id = e.tenant_id "
        "WHERE e.created_at >= '2026-05-01' AND e.created_at < '2026-06-01' "
        "AND a.tenant_id IN (1, 2)",
    ),
    Case(
        "SELECT e.id FROM events e JOIN accounts a ON a.tenant_id = e.tenant_id "
        "WHERE a.tenant_id = 5",
        (E,),
        "created_at",
        "SELECT e.id FROM events e JOIN accounts a ON a.tenant_id = e.tenant_id "
        "WHERE a.tenant_id = 5 AND e.created_at >= '2026-03-01' AND e.created_at < '2026-04-01'",
    ),
    Case(
        "SELECT * FROM tickets k WHERE k.id IN (SELECT id FROM events "
        f"WHERE created_at >= '{R}') AND k.status = 'open'",
    ),
]
