"""The Prometheus alert rules and the Grafana dashboard in ``monitoring/`` use only metrics
``roll --metrics`` really writes, and are well-formed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from click.testing import CliRunner

from sqla_partition import Range
from sqla_partition.cli import main

from .test_roll import make_table

MONITORING = Path(__file__).resolve().parent.parent / "monitoring"
METRIC = re.compile(r"\bsqla_partition_\w+")


def written_metrics(db_url, pg, tmp_path) -> set[str]:
    make_table(db_url, Range("created_at", premake=2, retention="3 months", default=True))
    pg.execute("INSERT INTO events (created_at) VALUES ('2030-01-01')")  # a DEFAULT row
    path = tmp_path / "sqla_partition.prom"
    result = CliRunner().invoke(
        main,
        ["roll", "--database-url", db_url, "--now", "2027-04-05T00:00:00Z", "--metrics", str(path)],
    )
    assert result.exit_code == 0, result.output
    text = path.read_text()
    return {m for m in METRIC.findall(text) if f"# HELP {m} " in text}


def test_alerts_and_dashboard_use_only_written_metrics(db_url, pg, tmp_path):
    written = written_metrics(db_url, pg, tmp_path)
    assert {"sqla_partition_roll_success", "sqla_partition_default_rows"} <= written

    rules = yaml.safe_load((MONITORING / "prometheus-alerts.yml").read_text())
    (group,) = rules["groups"]
    assert group["rules"], "no alert rules"
    used = set()
    for rule in group["rules"]:
        assert {"alert", "expr", "for", "labels", "annotations"} <= set(rule), rule
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        used |= set(METRIC.findall(rule["expr"]))
    assert used <= written, used - written

    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    shown = {m for e in exprs for m in METRIC.findall(e)}
    assert shown <= written, shown - written
    assert shown == written  # every metric roll writes is on the dashboard


def test_the_rules_fire_within_the_hour_as_promtool_runs_them():
    """A stopped cron job, runs that fail as a whole, no metrics: each fires in time."""
    import shutil
    import subprocess

    import pytest

    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (.ci/run installs Debian's prometheus)")
    for args in (["check", "rules", "prometheus-alerts.yml"], ["test", "rules", "alerts_test.yml"]):
        done = subprocess.run([promtool, *args], cwd=MONITORING, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


def test_a_run_that_cannot_connect_still_writes_its_failure(db_url, tmp_path):
    make_table(db_url, Range("created_at", premake=2))
    path = tmp_path / "sqla_partition.prom"
    args = ["roll", "--now", "2027-04-05T00:00:00Z", "--metrics", str(path)]
    ok = CliRunner().invoke(main, [*args, "--database-url", db_url])
    assert ok.exit_code == 0, ok.output

    def job(text):
        return {
            line.split()[0]: float(line.split()[1])
            for line in text.splitlines()
            if line.startswith("sqla_partition_last_")
        }

    before = job(path.read_text())
    assert before["sqla_partition_last_run_success"] == 1
    refused = CliRunner().invoke(
        main, [*args, "--database-url", "postgresql://nobody@127.0.0.1:1/none"]
    )
    assert refused.exit_code == 2, refused.output
    after = job(path.read_text())
    assert after["sqla_partition_last_run_success"] == 0
    assert (
        after["sqla_partition_last_run_timestamp_seconds"]
        >= before["sqla_partition_last_run_timestamp_seconds"]
    )
    # the last success is kept from the file, so its age keeps growing in Prometheus
    assert (
        after["sqla_partition_last_success_timestamp_seconds"]
        == before["sqla_partition_last_success_timestamp_seconds"]
    )
