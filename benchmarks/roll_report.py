"""The roll benchmark's report: per-step tables and ratios, lock peaks, targets, facts.

Only ratios between times taken in the same run are compared on this noisy machine: each
step's table gives every sequence's median with its ratio to pg_partman and, per
partition, to the bare DDL floor; the targets are read off those ratios.
"""

from __future__ import annotations

import statistics
from typing import Any

import psycopg

from common import (
    SERVER_SETTINGS,
    connect,
    fmt,
    median,
    output_of,
    package_version,
    print_table_header,
    python_version,
    ratio,
    server_settings,
    server_text,
)
from roll_run import Measurement
from roll_scenario import EXTRA, Scenario
from roll_tools import SEQUENCES, STARTUP, Tools

# -- reporting --------------------------------------------------------------------------------


def median_of(ms: list[Measurement]) -> float | None:
    """The median time of the runs whose checks passed."""
    return median(m.seconds for m in ms if m.valid)


STEP_TITLES = {
    "noop-cold": "no-op, first run on the fresh copy (everything in place)",
    "noop": "no-op, second run",
    "create": f"create {EXTRA} months per table",
    "detach": f"detach {EXTRA} expired months per table (kept as tables)",
}

FLOOR_OF = {
    ("sqla-partition", "create"): "ddl",
    ("sqla-partition/now", "create"): "ddl",
    ("pg_partman", "create"): "ddl",
    ("pg_partman/proc", "create"): "ddl",
    ("pg-partsmith", "create"): "ddl",
    ("sqla-partition/nodef", "create"): "ddl/nodef",
    ("sqla-partition", "detach"): "ddl",
    ("pg_partman", "detach"): "ddl",
    ("pg_partman/proc", "detach"): "ddl",
    ("pg-partsmith", "detach"): "ddl",
    ("sqla-partition/nodef", "detach"): "ddl/nodef",
}


# sqla-partition's steps commit with synchronous_commit off: the like-for-like floor.
FLOOR_ASYNC_OF = {
    ("sqla-partition", "create"): "ddl/async",
    ("sqla-partition/now", "create"): "ddl/async",
    ("sqla-partition", "detach"): "ddl/async",
}


def per_partition(m: list[Measurement], step: str) -> float | None:
    med = median_of(m)
    valid = [x for x in m if x.valid]
    if med is None or not valid:
        return None
    work = statistics.median(x.created if step == "create" else x.detached for x in valid)
    return med / work * 1000 if work else None


def report(
    results: list[Measurement], noop_many: list[Measurement], sc: Scenario, many: int
) -> dict[str, Any]:
    timed = [m for m in results if m.run != "probe"]
    probes = [m for m in results if m.run == "probe"]
    summary: dict[str, Any] = {"steps": {}, "locks": {}, "noop_many": {}}
    sequences = [s for s in [*SEQUENCES, *STARTUP] if any(m.sequence == s for m in timed)]

    def pick(seq: str, step: str, pool: list[Measurement]) -> list[Measurement]:
        return [m for m in pool if m.sequence == seq and m.step == step]

    for step in ("noop-cold", "noop", "create", "detach"):
        rows = [s for s in sequences if pick(s, step, timed)]
        if not rows:
            continue
        print(f"\n{STEP_TITLES[step]}")
        work = step in ("create", "detach")
        header = f"{'tool':<22} {'runs':>4} {'median s':>9} {'min s':>7} {'max s':>7}"
        if work:
            header += (
                f" {'partitions':>10} {'ms/part':>8} {'vs partman':>10} {'vs floor':>8}"
                f" {'vs async':>8}  floor"
            )
        else:
            header += f" {'vs partman':>10} {'vs floor':>8}"
        print_table_header(header)
        partman = pick("pg_partman", step, timed)
        for seq in rows:
            ms = pick(seq, step, timed)
            valid = [m for m in ms if m.valid]
            med = median_of(ms)
            lo = min((m.seconds for m in valid), default=None)
            hi = max((m.seconds for m in valid), default=None)
            runs = f"{len(valid)}" + ("" if len(valid) == len(ms) else f"/{len(ms)}")
            line = f"{seq:<22} {runs:>4} {fmt(med):>9} {fmt(lo):>7} {fmt(hi):>7}"
            entry: dict[str, Any] = {"median_s": med, "min_s": lo, "max_s": hi, "runs": len(ms)}
            if work:
                count = (
                    statistics.median(m.created if step == "create" else m.detached for m in valid)
                    if valid
                    else 0
                )
                per = per_partition(ms, step)
                floor_seq = FLOOR_OF.get((seq, step))
                floor = per_partition(pick(floor_seq, step, timed), step) if floor_seq else None
                async_seq = FLOOR_ASYNC_OF.get((seq, step))
                floor_async = (
                    per_partition(pick(async_seq, step, timed), step) if async_seq else None
                )
                vs_pm = ratio(per, per_partition(partman, step))
                line += (
                    f" {count:>10.0f} {fmt(per, '.2f'):>8} {vs_pm:>10} {ratio(per, floor):>8}"
                    f" {ratio(per, floor_async):>8}  {floor_seq if floor else ''}"
                )
                entry.update(
                    partitions=count,
                    ms_per_partition=per,
                    vs_partman=vs_pm,
                    vs_floor=ratio(per, floor),
                    floor=floor_seq,
                    vs_floor_async=ratio(per, floor_async),
                )
            else:
                vs_pm = ratio(med, median_of(partman))
                # the floor of a cron command: Python importing psycopg and connecting
                vs_floor = ratio(med, median_of(pick("startup/python", "noop", timed)))
                line += f" {vs_pm:>10} {vs_floor:>8}"
                entry["vs_partman"] = vs_pm
                entry["vs_floor"] = vs_floor
            summary["steps"].setdefault(step, {})[seq] = entry
            print(line)
            for m in ms:
                if not m.valid:
                    print(f"    run {m.run}: CHECK FAILED: {'; '.join(m.problems[:3])}")

    if probes:
        print("\npeak lock entries (separate probe run, pg_locks polled every 20 ms)")
        header = (
            f"{'tool':<22} {'step':<7} {'all':>6} {'non-fastpath':>12} {'one backend':>11} "
            f"{'backends':>8} {'polls':>6}"
        )
        print_table_header(header)
        for m in probes:
            if m.step == "noop-cold" or m.locks is None:
                continue
            lk = m.locks
            print(
                f"{m.sequence:<22} {m.step:<7} {lk['peak_total']:>6} {lk['peak_shared']:>12} "
                f"{lk['peak_backend']:>11} {lk['peak_backends']:>8} {lk['polls']:>6}"
                + ("" if m.valid else "  (CHECK FAILED)")
            )
            summary["locks"].setdefault(m.sequence, {})[m.step] = lk

    if noop_many:
        print(f"\nno-op with {many} parents (one database managed by both tools)")
        header = (
            f"{'tool':<22} {'runs':>4} {'median s':>9} {'min s':>7} {'max s':>7} {'vs partman':>10}"
        )
        header += f" {'ms per extra parent':>20} {'peak locks':>10}"
        print_table_header(header)
        pm = median_of([m for m in noop_many if m.sequence == "pg_partman" and m.run != "probe"])
        for seq in ("sqla-partition", "pg_partman"):
            ms = [m for m in noop_many if m.sequence == seq and m.run != "probe"]
            probe = next((m for m in noop_many if m.sequence == seq and m.run == "probe"), None)
            peak = probe.locks["peak_total"] if probe and probe.locks else None
            if not ms:
                continue
            med = median_of(ms)
            valid = [m.seconds for m in ms if m.valid]
            small = median_of(pick(seq, "noop", timed))
            growth = (
                (med - small) / (many - sc.tables) * 1000
                if med is not None and small is not None and many > sc.tables
                else None
            )
            print(
                f"{seq:<22} {len(ms):>4} {fmt(med):>9} {fmt(min(valid, default=None)):>7} "
                f"{fmt(max(valid, default=None)):>7} {ratio(med, pm):>10} {fmt(growth, '.3f'):>20}"
                f" {'-' if peak is None else peak:>10}"
            )
            summary["noop_many"][seq] = {
                "peak_locks": peak,
                "median_s": med,
                "vs_partman": ratio(med, pm),
                "ms_per_extra_parent": growth,
            }
    return summary


def print_versions(measurements: list[Measurement]) -> None:
    """Warn when sqla-partition's sources changed during the run."""
    seen: dict[str, int] = {}
    for m in measurements:
        if m.version:
            seen[m.version] = seen.get(m.version, 0) + 1
    if len(seen) > 1:
        counts = ", ".join(f"{v} ({n} runs)" for v, n in seen.items())
        print(f"\nWARNING: sqla-partition's sources changed during this run: {counts}")


def print_targets(summary: dict[str, Any]) -> None:
    steps = summary["steps"]

    def get(step: str, seq: str, key: str) -> Any:
        return steps.get(step, {}).get(seq, {}).get(key)

    print("\ntargets (ratios from this run)")
    lines = [
        (
            "no-op <= 1.5x the start-up floor (second run)",
            get("noop", "sqla-partition", "vs_floor"),
        ),
        ("no-op <= 0.5x pg_partman (second run)", get("noop", "sqla-partition", "vs_partman")),
        (
            "no-op <= 0.5x pg_partman (first run on a fresh copy)",
            get("noop-cold", "sqla-partition", "vs_partman"),
        ),
        (
            "no-op with many parents <= 0.15x pg_partman",
            summary["noop_many"].get("sqla-partition", {}).get("vs_partman"),
        ),
        ("create <= 0.67x pg_partman per partition", get("create", "sqla-partition", "vs_partman")),
        ("create <= 1.1x LIKE+ATTACH floor", get("create", "sqla-partition", "vs_floor")),
        (
            "  the same floor with synchronous_commit off",
            get("create", "sqla-partition", "vs_floor_async"),
        ),
        ("plain detach <= 1.3x bare DETACH", get("detach", "sqla-partition", "vs_floor")),
        (
            "plain-detach retention <= 1.0x pg_partman",
            get("detach", "sqla-partition", "vs_partman"),
        ),
    ]
    for text, value in lines:
        print(f"  {text:<55} {value or '-'}")


def server_facts(admin_url: str) -> dict[str, Any]:
    facts = server_settings(
        admin_url,
        (
            *SERVER_SETTINGS,
            "max_locks_per_transaction",
            "max_connections",
            "max_prepared_transactions",
            "autovacuum_max_workers",
            "max_worker_processes",
            "max_wal_senders",
        ),
    )
    with connect(admin_url) as conn:
        row = conn.execute(
            "SELECT default_version FROM pg_available_extensions WHERE name = 'pg_partman'"
        ).fetchone()
    facts["pg_partman_available"] = row[0] if row else None
    return facts


def lock_capacity(facts: dict[str, Any]) -> tuple[int, int]:
    """(64 x max_connections as the issue counts it, the server's actual shared lock table)."""
    per = int(facts["max_locks_per_transaction"])
    conns = int(facts["max_connections"])
    backends = (
        conns
        + int(facts["autovacuum_max_workers"])
        + 1
        + int(facts["max_worker_processes"])
        + int(facts["max_wal_senders"])
    )
    return per * conns, per * (backends + int(facts["max_prepared_transactions"]))


def environment(tools: Tools, facts: dict[str, Any]) -> dict[str, str]:
    """The versions and machine facts that head the report."""
    env = {
        "sqla-partition": package_version(),
        "python": python_version(),
        "psycopg": psycopg.__version__,
        "server": server_text(facts),
        "psql": output_of(tools.psql, "--version"),
    }
    if tools.partsmith:
        env["pg-partsmith"] = output_of(tools.partsmith, "--version")
    return env
