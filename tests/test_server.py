"""The test server itself: an embedded server that dies is started again for the next test."""

from __future__ import annotations

import os
import signal
import time

import pytest


def test_a_crashed_embedded_server_is_started_again(server):
    if not server.embedded:
        pytest.skip("the server named by SQLA_PARTITION_TEST_URL is not the suite's to stop")
    server.ensure()
    pid = int((server.data_dir / "postmaster.pid").read_text().split()[0])
    os.kill(pid, signal.SIGQUIT)  # an immediate shutdown: what a crash leaves
    deadline = time.monotonic() + 30
    while server.alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not server.alive()
    server.ensure()
    assert server.alive()
