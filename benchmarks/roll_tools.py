"""The roll benchmark's tools: each tool's commands for the scenario's steps, as sequences.

A sequence is one tool run one way (``sqla-partition/nodef``, ``pg_partman/proc``, ...):
the command of each step, the untimed change to its configuration that comes first (a
larger premake, a retention) and how to read what the tool reports, so that ``roll_run``
can time every tool's step the same way.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from common import connect
from roll_scenario import (
    EXTRA,
    PREMAKE,
    Expect,
    Scenario,
    add_months,
    month_literal,
    month_suffix,
    policy_json,
    set_sqla_policies,
)

# sequence name -> (tool, description); the order is the report's.
SEQUENCES = {
    "sqla-partition": "sqla-partition roll (DEFAULT partitions: plain DETACH)",
    "sqla-partition/nodef": "sqla-partition roll, parents without DEFAULT: DETACH CONCURRENTLY",
    "sqla-partition/now": "sqla-partition roll --now 12 months later (instead of premake + 12)",
    "pg_partman": "psql -c 'SELECT partman.run_maintenance()' (one transaction)",
    "pg_partman/proc": "psql -c 'CALL partman.run_maintenance_proc()' (commits per parent)",
    "pg-partsmith": "pg-partsmith apply --allow-destructive",
    "ddl": "psql -f: CREATE TABLE (LIKE) + ATTACH per transaction; DETACH PARTITION",
    "ddl/partition-of": "psql -f: CREATE TABLE ... PARTITION OF",
    "ddl/nodef": "psql -f on parents without DEFAULT: LIKE + ATTACH; DETACH ... CONCURRENTLY",
    "ddl/async": "as ddl, with synchronous_commit off (as sqla-partition's steps set it)",
}
TOOLS = ("sqla-partition", "pg_partman", "pg-partsmith", "ddl")
# What any cron command pays before doing anything: the floor under a no-op.
STARTUP = {
    "startup/psql": "psql -c 'SELECT 1'",
    "startup/python": "python -c: import psycopg, connect, close",
    "startup/sqla-cli": "sqla-partition --version",
}
# sequence -> the template database it starts from
BASE_OF = {
    "sqla-partition": "sqla",
    "sqla-partition/nodef": "sqla-nodef",
    "sqla-partition/now": "sqla",
    "pg_partman": "partman",
    "pg_partman/proc": "partman",
    "pg-partsmith": "common",
    "ddl": "common",
    "ddl/partition-of": "common",
    "ddl/nodef": "nodef",
    "ddl/async": "common",
}


def tool_of(sequence: str) -> str:
    return sequence.split("/")[0]


# -- steps and sequences ----------------------------------------------------------------------

Prepare = Callable[[psycopg.Connection], None]
Parse = Callable[[str], dict[str, int]]


@dataclass
class Step:
    key: str  # noop-cold | noop | create | detach
    command: list[str]
    expect: Expect
    prepare: Prepare | None = None
    parse: Parse | None = None
    note: str = ""
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Sequence:
    name: str
    names: list[str]
    steps: list[Step]


def parse_sqla(stdout: str) -> dict[str, int]:
    data = json.loads(stdout)
    totals = data["totals"]
    return {
        "created": totals["created"],
        "detached": totals["detached"],
        "failed": totals["failed"],
        "locked": totals["locked"],
        "skipped": totals["skipped"],
        "exit_code": data["exit_code"],
    }


def parse_partsmith(stdout: str) -> dict[str, int]:
    data = json.loads(stdout)
    out = {"created": 0, "detached": 0, "dropped": 0, "issues": 0, "errors": 0}
    for table in data["tables"]:
        result = table.get("result") or {}
        out["created"] += result.get("created_count", 0)
        out["detached"] += result.get("detached_count", 0)
        out["dropped"] += result.get("dropped_count", 0)
        out["issues"] += len(result.get("issues") or [])
        out["errors"] += result.get("error") is not None
    return out


def partsmith_document(
    path: Path, names: list[str], create_ahead: int, retention_count: int
) -> Path:
    """pg-partsmith's YAML (JSON is YAML): ``create_ahead_count`` counts the current
    period, ``retention_count`` the newest periods kept, current one included."""
    doc = {
        "version": 1,
        "tables": [
            {
                "table_name": name,
                "partition_column": "created_at",
                "granularity": "month",
                "create_ahead_count": create_ahead,
                "retention_count": retention_count,
            }
            for name in names
        ],
    }
    path.write_text(json.dumps(doc, indent=1))
    return path


def ddl_script(
    path: Path, conn: psycopg.Connection, sc: Scenario, names: list[str], kind: str
) -> Path:
    """The bare DDL of a step for psql: like-attach, partition-of, detach, detach-concurrently."""
    lines = []
    for name in names:
        parent = sql.Identifier(name)
        if kind in ("like-attach", "partition-of"):
            for month in range(sc.last + 1, sc.last + 1 + EXTRA):
                child = sql.Identifier(f"{name}_p{month_suffix(month)}")
                lo, hi = sql.Literal(month_literal(month)), sql.Literal(month_literal(month + 1))
                if kind == "like-attach":
                    stmt = sql.SQL(
                        "BEGIN;\nCREATE TABLE {child} (LIKE {parent} INCLUDING DEFAULTS "
                        "INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS "
                        "INCLUDING GENERATED);\nALTER TABLE {parent} ATTACH PARTITION {child} "
                        "FOR VALUES FROM ({lo}) TO ({hi});\nCOMMIT;"
                    )
                else:
                    stmt = sql.SQL(
                        "CREATE TABLE {child} PARTITION OF {parent} "
                        "FOR VALUES FROM ({lo}) TO ({hi});"
                    )
                lines.append(stmt.format(child=child, parent=parent, lo=lo, hi=hi).as_string(conn))
        else:
            suffix = " CONCURRENTLY" if kind == "detach-concurrently" else ""
            for month in range(sc.first, sc.first + EXTRA):
                stmt = sql.SQL("ALTER TABLE {} DETACH PARTITION {}" + suffix + ";").format(
                    parent, sql.Identifier(f"{name}_p{month_suffix(month)}")
                )
                lines.append(stmt.as_string(conn))
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class Tools:
    psql: str
    sqla: str
    partsmith: str | None
    partman: bool


def psql_command(tools: Tools, url: str, *, command: str | None = None, file: Path | None = None):
    cmd = [tools.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url]
    if command is not None:
        cmd += ["-c", command]
    if file is not None:
        cmd += ["-f", str(file)]
    return cmd


def build_sequences(
    args: argparse.Namespace,
    sc: Scenario,
    tools: Tools,
    workdir: Path,
    selected: list[str],
) -> dict[str, Callable[[str], Sequence]]:
    """For each selected sequence, a function of the run database's URL."""
    names = sc.names()
    n = sc.retention_months
    start = Expect(sc.first, sc.last, 0, True)
    grown = Expect(sc.first, sc.last + EXTRA, 0, True)
    trimmed = Expect(sc.first + EXTRA, sc.last + EXTRA, EXTRA, True)

    def nodef(e: Expect) -> Expect:
        return Expect(e.first, e.last, e.detached, False)

    out: dict[str, Callable[[str], Sequence]] = {}

    def sqla_sequence(name: str, default: bool) -> Callable[[str], Sequence]:
        def make(url: str) -> Sequence:
            cmd = [tools.sqla, "roll", "--database-url", url, "--json"]
            e = (lambda x: x) if default else nodef

            def grow(conn: psycopg.Connection) -> None:
                set_sqla_policies(conn, names, policy_json(PREMAKE + EXTRA, default))

            def expire(conn: psycopg.Connection) -> None:
                set_sqla_policies(conn, names, policy_json(PREMAKE + EXTRA, default, f"{n} months"))

            return Sequence(
                name,
                names,
                [
                    Step("noop-cold", cmd, e(start), parse=parse_sqla),
                    Step("noop", cmd, e(start), parse=parse_sqla),
                    Step("create", cmd, e(grown), grow, parse_sqla, f"premake {PREMAKE + EXTRA}"),
                    Step(
                        "detach",
                        cmd,
                        e(trimmed),
                        expire,
                        parse_sqla,
                        f"retention {n} months, "
                        + ("plain DETACH" if default else "DETACH CONCURRENTLY"),
                    ),
                ],
            )

        return make

    def sqla_now(url: str) -> Sequence:
        later = add_months(dt.datetime.now(dt.timezone.utc), EXTRA).isoformat(timespec="seconds")
        cmd = [tools.sqla, "roll", "--database-url", url, "--json", "--now", later]
        grown_now = Expect(sc.first, sc.last + EXTRA, 0, True)
        return Sequence(
            "sqla-partition/now",
            names,
            [Step("create", cmd, grown_now, parse=parse_sqla, note=f"--now {later}")],
        )

    def partman_sequence(name: str, call: str) -> Callable[[str], Sequence]:
        def make(url: str) -> Sequence:
            cmd = psql_command(tools, url, command=call)

            def grow(conn: psycopg.Connection) -> None:
                conn.execute("UPDATE partman.part_config SET premake = %s", (PREMAKE + EXTRA,))

            def expire(conn: psycopg.Connection) -> None:
                conn.execute(
                    "UPDATE partman.part_config SET retention = %s, retention_keep_table = true",
                    (f"{n} months",),
                )

            return Sequence(
                name,
                names,
                [
                    Step("noop-cold", cmd, start),
                    Step("noop", cmd, start),
                    Step("create", cmd, grown, grow, note=f"premake {PREMAKE + EXTRA}"),
                    Step("detach", cmd, trimmed, expire, note=f"retention {n} months, keep table"),
                ],
            )

        return make

    def partsmith_sequence(url: str) -> Sequence:
        assert tools.partsmith is not None
        never = 1000  # periods kept: no retention before step 3
        docs = {
            "noop": partsmith_document(workdir / "partsmith-noop.yaml", names, PREMAKE + 1, never),
            "create": partsmith_document(
                workdir / "partsmith-create.yaml", names, PREMAKE + EXTRA + 1, never
            ),
            "detach": partsmith_document(
                workdir / "partsmith-detach.yaml", names, PREMAKE + EXTRA + 1, n + 1
            ),
        }

        def cmd(doc: Path) -> list[str]:
            return [
                str(tools.partsmith),
                "apply",
                "--config",
                str(doc),
                "--dsn",
                url,
                "--allow-destructive",
                "--output",
                "json",
            ]

        return Sequence(
            "pg-partsmith",
            names,
            [
                Step("noop-cold", cmd(docs["noop"]), start, parse=parse_partsmith),
                Step("noop", cmd(docs["noop"]), start, parse=parse_partsmith),
                Step(
                    "create",
                    cmd(docs["create"]),
                    grown,
                    parse=parse_partsmith,
                    note=f"create_ahead_count {PREMAKE + EXTRA + 1}",
                ),
                Step(
                    "detach",
                    cmd(docs["detach"]),
                    trimmed,
                    parse=parse_partsmith,
                    note=f"retention_count {n + 1}",
                ),
            ],
        )

    def ddl_sequence(
        name: str, default: bool, create: str, async_commit: bool = False
    ) -> Callable[[str], Sequence]:
        env = {"PGOPTIONS": "-c synchronous_commit=off"} if async_commit else {}

        def make(url: str) -> Sequence:
            e = (lambda x: x) if default else nodef
            with connect(url) as conn:
                grow = ddl_script(workdir / f"{create}.sql", conn, sc, names, create)
                detach_kind = "detach" if default else "detach-concurrently"
                detach = ddl_script(workdir / f"{detach_kind}.sql", conn, sc, names, detach_kind)
            steps = [
                Step("create", psql_command(tools, url, file=grow), e(grown), note=create, env=env)
            ]
            if create == "like-attach":
                steps.append(
                    Step(
                        "detach",
                        psql_command(tools, url, file=detach),
                        e(trimmed),
                        note=detach_kind,
                        env=env,
                    )
                )
            return Sequence(name, names, steps)

        return make

    makers: dict[str, Callable[[str], Sequence]] = {
        "sqla-partition": sqla_sequence("sqla-partition", True),
        "sqla-partition/nodef": sqla_sequence("sqla-partition/nodef", False),
        "sqla-partition/now": sqla_now,
        "pg_partman": partman_sequence("pg_partman", "SELECT partman.run_maintenance()"),
        "pg_partman/proc": partman_sequence(
            "pg_partman/proc", "CALL partman.run_maintenance_proc()"
        ),
        "pg-partsmith": partsmith_sequence,
        "ddl": ddl_sequence("ddl", True, "like-attach"),
        "ddl/partition-of": ddl_sequence("ddl/partition-of", True, "partition-of"),
        "ddl/nodef": ddl_sequence("ddl/nodef", False, "like-attach"),
        "ddl/async": ddl_sequence("ddl/async", True, "like-attach", async_commit=True),
    }
    for name in selected:
        out[name] = makers[name]
    return out
