"""Least privilege and secrets: what an attacker or a careless URL must never get."""

from __future__ import annotations

import stat

import pytest
from click.testing import CliRunner

from sqla_partition.catalog.connect import redact, scrub
from sqla_partition.cli import main

#: Passwords in every way a URL can carry one, and URLs libpq refuses in ways that quote
#: them back: the password must appear in no message, in no form.
URLS = [
    ("postgresql://app:s3cr%zzet@127.0.0.1:5432/db", ["s3cr%zzet", "s3cr"]),
    ("postgresql://app:hunter2@bad host:5432/db", ["hunter2"]),
    ("postgresql://app@127.0.0.1:1/db?password=hunter2", ["hunter2"]),
    ("postgresql://app:sec@ret@127.0.0.1:1/db", ["sec@ret", "ret@"]),
    ("postgresql://app:hunter2@[::1/db", ["hunter2"]),
    ("postgresql+psycopg://app:pa%40ss@127.0.0.1:1/db", ["pa%40ss", "pa@ss"]),
]


@pytest.mark.parametrize(("url", "secrets"), URLS)
@pytest.mark.parametrize("command", [["status"], ["check"], ["roll", "--json"], ["advise"]])
def test_no_command_prints_a_password(url, secrets, command, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    result = CliRunner().invoke(main, [*command, "--database-url", url])
    assert result.exit_code == 2, result.output
    assert "error:" in result.output
    for secret in secrets:
        assert secret not in result.output, result.output
    monkeypatch.setenv("DATABASE_URL", url)  # the same through the environment
    result = CliRunner().invoke(main, command)
    for secret in secrets:
        assert secret not in result.output, result.output


def test_connection_refused_keeps_its_reason():
    result = CliRunner().invoke(
        main, ["status", "--database-url", "postgresql://a:b@127.0.0.1:1/x"]
    )
    assert "Connection refused" in result.output and "Is the server running" in result.output


def test_redact_and_scrub_cover_every_form():
    assert redact("postgresql://u:p@ss@h/db") == "postgresql://u:***@h/db"
    assert redact("postgresql://u@h/db?sslmode=require&password=x%20y") == (
        "postgresql://u@h/db?sslmode=require&password=***"
    )
    assert scrub('bad token "x y"', "postgresql://u@h/db?password=x%20y") == 'bad token "***"'


def test_init_keeps_a_password_to_its_owner(tmp_path):
    with_password = tmp_path / "a"
    result = CliRunner().invoke(
        main, ["init", str(with_password / "migrations"), "--url", "postgresql://u:pw@h/db"]
    )
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE((with_password / "alembic.ini").stat().st_mode) == 0o600
    without = tmp_path / "b"
    result = CliRunner().invoke(
        main, ["init", str(without / "migrations"), "--url", "postgresql://u@h/db"]
    )
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE((without / "alembic.ini").stat().st_mode) & 0o044  # as umask says
