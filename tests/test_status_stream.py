"""``status`` shows each table as soon as it is read: at ten thousand tables the first lines
come within a second, and the output is never held whole in memory."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from sqla_partition.cli import main
from sqla_partition.cron import status as status_module
from sqla_partition.cron.commands import run_status

from .test_roll import make_table

NOW = dt.datetime(2026, 12, 10, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "text"])
def test_each_table_is_written_before_the_next_is_read(db_url, monkeypatch, as_json):
    for name in ("alpha", "beta", "gamma"):
        make_table(db_url, name=name)
    events: list[str] = []
    read = status_module.table_status

    def table_status(conn, parent, *args, **kwargs):
        events.append(f"read {parent.name}")
        return read(conn, parent, *args, **kwargs)

    monkeypatch.setattr(status_module, "table_status", table_status)
    written: list[str] = []

    def echo(text: str = "", nl: bool = True, err: bool = False) -> None:
        written.append(text + ("\n" if nl else ""))
        named = [n for n in ("alpha", "beta", "gamma") if f"public.{n}" in text]
        events.extend(f"wrote {n}" for n in named)

    run_status(db_url, NOW, (), as_json, echo)
    assert events == [
        "read alpha",
        "wrote alpha",
        "read beta",
        "wrote beta",
        "read gamma",
        "wrote gamma",
    ]
    if as_json:  # the pieces make the document the whole used to be, byte for byte
        document = "".join(written)
        shown = json.loads(document)
        assert [t["table"] for t in shown] == ["public.alpha", "public.beta", "public.gamma"]
        assert document == json.dumps(shown, indent=2) + "\n"


def test_an_empty_database_is_an_empty_array(db_url):
    result = CliRunner().invoke(main, ["status", "--database-url", db_url, "--json"])
    assert result.exit_code == 0, result.output
    assert result.output == "[]\n"
