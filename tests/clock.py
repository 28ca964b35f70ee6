"""The test suite's one clock.

A test that would otherwise read the real time (the tool's default ``--now``, autogenerate's
clock, rows the server dates with ``now()``) takes it from here instead: it passes ``NOW`` to
the tool (``--now``, ``SQLA_PARTITION_NOW``) and dates the rows it writes from it, and derives
every partition name it expects from it. ``SQLA_PARTITION_TEST_NOW`` sets the clock; CI runs
the tests marked ``clock`` again with it set to the last minutes of a month and of a year, so
no expectation holds only on the day it was written.
"""

from __future__ import annotations

import datetime as dt
import os

UTC = dt.timezone.utc


def _read() -> dt.datetime:
    text = os.environ.get("SQLA_PARTITION_TEST_NOW", "").strip()
    if not text:
        return dt.datetime.now(UTC).replace(microsecond=0)
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


NOW: dt.datetime = _read()


def month(offset: int = 0, at: dt.datetime = NOW) -> dt.datetime:
    """The first instant (UTC) of the month ``offset`` months from ``at``'s."""
    index = at.year * 12 + at.month - 1 + offset
    return dt.datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def suffix(offset: int = 0, at: dt.datetime = NOW) -> str:
    """The name suffix of that month's partition: ``p2026_11``."""
    return month(offset, at).strftime("p%Y_%m")


def day(offset: int = 0, at: dt.datetime = NOW) -> str:
    """That month's first day as ``YYYY-MM-DD`` (a migration's ``start``/``until``)."""
    return month(offset, at).date().isoformat()


def wall() -> dt.datetime:
    """The real time, for the few tests whose rows the server dates while they run (live
    writers relying on a column's ``DEFAULT now()``): their expectations follow the server's
    clock, which no test can set."""
    return dt.datetime.now(UTC)
