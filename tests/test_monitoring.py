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
