"""On a real streaming standby: roll changes nothing and exits 0 saying so, status and
check answer from it, and the metrics say it ran on a standby."""

from __future__ import annotations

from click.testing import CliRunner

from sqla_partition import Range
from sqla_partition.cli import main

from .standby import primary_and_standby, replayed
from .test_roll import make_table


def test_roll_status_and_check_on_a_streaming_standby(tmp_path):
    with primary_and_standby() as (primary, standby):
        make_table(primary, Range("created_at", premake=2, default=True))
        roll = CliRunner().invoke(
            main, ["roll", "--database-url", primary, "--now", "2026-11-27T10:00:00Z"]
        )
        assert roll.exit_code == 0, roll.output
        replayed(primary, standby)
        metrics = tmp_path / "sqla_partition.prom"
        now = ["--now", "2027-01-10T00:00:00Z"]
        result = CliRunner().invoke(
            main, ["roll", "--database-url", standby, "--metrics", str(metrics), *now]
        )
        assert result.exit_code == 0, result.output
        assert (
            "read-only (a standby" in result.output and "roll runs on the primary" in result.output
        )
        text = metrics.read_text()
        assert "sqla_partition_standby 1" in text and "sqla_partition_last_run_success 1" in text
        status = CliRunner().invoke(main, ["status", "--database-url", standby, *now])
        assert status.exit_code == 0, status.output
        assert "public.events" in status.output
        check = CliRunner().invoke(main, ["check", "--database-url", standby, *now])
        assert check.exit_code in (0, 1), check.output  # it answers: the table is behind
        assert "Traceback" not in check.output and "public.events" in check.output
