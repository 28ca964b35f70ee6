"""What ``roll`` tells people and schedulers: a summary, JSON, Prometheus metrics."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from ..sql.statement import inert
from .results import RollReport, TableResult


def _names(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(inert(n) for n in names[:limit])
    return shown + (f", … (+{len(names) - limit})" if len(names) > limit else "")


def _rows(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def describe(t: TableResult) -> str:
    if t.status == "skipped":
        return f"skipped: {inert(t.skipped or '')}"
    parts = []
    if t.created:
        parts.append(f"created {len(t.created)} ({_names(t.created)})")
    if t.moved_rows:
        held = f", writes held {t.longest_write_hold_s:.2f} s" if t.longest_write_hold_s else ""
        parts.append(f"moved {_rows(t.moved_rows)} out of DEFAULT{held}")
    if t.finalized:
        parts.append(f"finished detaching {_names(t.finalized)}")
    if t.detached:
        parts.append(f"detached {len(t.detached)} ({_names(t.detached)})")
    if t.archived:
        parts.append(f"archived {len(t.archived)}")
    if t.dropped:
        parts.append(f"dropped {len(t.dropped)} ({_names(t.dropped)})")
    if t.deleted_rows:
        parts.append(f"deleted {_rows(t.deleted_rows)} older than retention (--expired delete)")
    if t.lock_retries:
        parts.append(f"{t.lock_retries} lock retries")
    if t.errors:
        label = {"locked": "LOCKED", "backlog": "BACKLOG"}.get(t.status, "FAILED")
        parts.append(f"{label}: {'; '.join(inert(e) for e in t.errors)}")
    return ", ".join(parts) if parts else "up to date"


def summary(report: RollReport) -> str:
    if report.standby:
        return (
            "read-only (a standby, or writes not allowed): nothing to do; roll runs on the primary"
        )
    lines = []
    width = max((len(inert(t.table)) for t in report.tables), default=0)
    for t in report.tables:
        lines.append(f"{inert(t.table):<{width}}  {describe(t)}")
        lines.extend(f"{'':<{width}}  note: {inert(n)}" for n in t.notes)
    lines.extend(f"warning: {inert(w)}" for w in report.warnings)
    tot = report.totals()
    verb = "Would roll" if report.dry_run else "Rolled"
    if not report.tables:
        lines.append("No range-partitioned tables are managed by sqla-partition here.")
    lines.append(
        f"{verb} {tot['tables']} table{'s' if tot['tables'] != 1 else ''} in "
        f"{report.duration_s:.2f} s: {tot['created']} created, "
        f"{_rows(tot['moved_rows'])} moved, {tot['detached']} detached, {tot['dropped']} dropped"
        + (
            f" ({tot['unchanged']} unchanged and not yet due: not read again; --full reads them)"
            if tot["unchanged"]
            else ""
        )
        + (f", {tot['failed']} failed" if tot["failed"] else "")
        + (f", {tot['locked']} locked out" if tot["locked"] else "")
        + (f", {tot['skipped']} skipped" if tot["skipped"] else "")
        + (f", {tot['backlog']} with a DEFAULT backlog to move" if tot["backlog"] else "")
    )
    return "\n".join(lines)


def dry_run_sql(report: RollReport) -> str:
    out = []
    for t in report.tables:
        if t.sql:
            out.append(f"-- {inert(t.table)}")
            out.extend(t.sql)
    if not out:
        out.append("-- nothing to do")
    return "\n\n".join(out)


def as_json(report: RollReport) -> str:
    return json.dumps(report.as_dict(), indent=2, sort_keys=True, default=str)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


#: The job's own metrics: timestamps a rule ages with ``time()``, as node_exporter's
#: textfile convention and Prometheus' ``*_timestamp_seconds`` metrics do, so a run that
#: no longer happens (a deleted cron entry) or no longer succeeds shows within the hour.
_JOB = {
    "last_run_timestamp_seconds": "Unix time the last run of roll ended, whatever its outcome.",
    "last_run_success": "Whether the last run of roll succeeded (exit code 0).",
    "last_success_timestamp_seconds": "Unix time of the last run of roll that succeeded.",
    "standby": "Whether the last run found a read-only server (a standby): nothing to roll.",
}


def _previous(path: Path, name: str) -> float | None:
    """A job metric's value in the file an earlier run wrote (kept across failing runs)."""
    try:
        text = Path(path).read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(f"sqla_partition_{name} "):
            try:
                return float(line.split()[1])
            except (IndexError, ValueError):
                return None
    return None


def _job_lines(path: Path, success: bool, now: float, standby: bool | None = None) -> list[str]:
    last_success = now if success else _previous(path, "last_success_timestamp_seconds")
    values = {
        "last_run_timestamp_seconds": now,
        "last_run_success": float(success),
        "last_success_timestamp_seconds": last_success,
        "standby": None if standby is None else float(standby),
    }
    lines = []
    for name, help_text in _JOB.items():
        if values[name] is None:
            continue  # never succeeded (or unknown): absent, which a rule sees too
        lines += [
            f"# HELP sqla_partition_{name} {help_text}",
            f"# TYPE sqla_partition_{name} gauge",
            f"sqla_partition_{name} {values[name]:.0f}",
        ]
    return lines


def write_failure_metrics(path: Path) -> None:
    """A run that could not roll at all (no connection, a refusal) still says so: the
    job's metrics, and no table's, since none was read."""
    _write(path, _job_lines(path, False, time.time()))


def write_metrics(path: Path, report: RollReport, extra: dict[str, dict[str, float]]) -> None:
    """Prometheus text format for node_exporter's textfile collector, written atomically.

    ``extra`` maps table name to gauges read after the run (coverage horizon, DEFAULT rows).
    """
    now = time.time()
    lines = _job_lines(path, report.exit_code == 0, now, report.standby)
    lines += [
        "# HELP sqla_partition_roll_success Whether the last roll of the table succeeded.",
        "# TYPE sqla_partition_roll_success gauge",
    ]
    for t in report.tables:
        lines.append(
            f'sqla_partition_roll_success{{table="{_label(t.table)}"}} {int(t.status == "ok")}'
        )
    gauges = {
        "coverage_until_seconds": "Unix time up to which partitions exist.",
        "default_rows": "Rows in the DEFAULT partition.",
        "last_success_seconds": "Unix time of the last successful roll of the table.",
    }
    for name, help_text in gauges.items():
        lines += [
            f"# HELP sqla_partition_{name} {help_text}",
            f"# TYPE sqla_partition_{name} gauge",
        ]
        for table, values in sorted(extra.items()):
            if name in values:
                value = values[name]
                lines.append(f'sqla_partition_{name}{{table="{_label(table)}"}} {value:.0f}')
    lines += [
        "# HELP sqla_partition_detached_partitions Partitions detached by the last roll.",
        "# TYPE sqla_partition_detached_partitions gauge",
    ]
    for t in report.tables:
        lines.append(
            f'sqla_partition_detached_partitions{{table="{_label(t.table)}"}} {len(t.detached)}'
        )
    _write(path, lines)


def _write(path: Path, lines: list[str]) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
