"""``roll --jobs N``: several tables at once, each worker on a connection of its own.

A catch-up over thousands of tables is a transaction per table, each mostly the server's
work: two connections on two cores cut one by about a third. Each table still takes its
own lock and runs exactly as it would alone; the results come back in the tables' order.
"""

from __future__ import annotations

import collections
import datetime as dt
import threading
from collections.abc import Callable, Sequence

import psycopg

from ..catalog.snapshot import Parent
from ..errors import SqlaPartitionError
from .results import TableResult
from .runner import Roller
from .session import bound_session, one_line

Connect = Callable[[], psycopg.Connection]


def roll_tables(
    roller: Roller,
    parents: Sequence[Parent],
    now: dt.datetime,
    *,
    jobs: int = 1,
    connect: Connect | None = None,
    warnings: list[str] | None = None,
) -> list[TableResult]:
    """Every table's result, in ``parents``' order. A worker whose connection breaks stops
    (the table it was on is reported failed); the others carry on with the rest."""
    queue = collections.deque(enumerate(parents))
    taken = threading.Lock()
    results: list[TableResult | None] = [None] * len(parents)

    def work(worker: Roller) -> None:
        while True:
            with taken:
                if not queue:
                    return
                index, parent = queue.popleft()
            try:
                results[index] = worker.roll_table(parent, now)
            except psycopg.Error as exc:  # the connection broke: the next run carries on
                name = f"{parent.schema}.{parent.name}"
                results[index] = TableResult(
                    name, (parent.schema, parent.name), status="failed", errors=[one_line(exc)]
                )
                return

    workers, connections = _workers(roller, min(jobs, len(parents)) - 1, connect, warnings)
    threads = [threading.Thread(target=work, args=(w,), daemon=True) for w in workers]
    try:
        for thread in threads:
            thread.start()
        work(roller)
        for thread in threads:
            thread.join()
    finally:
        for conn in connections:
            conn.close()
    return [r for r in results if r is not None]


def _workers(
    roller: Roller, extra: int, connect: Connect | None, warnings: list[str] | None
) -> tuple[list[Roller], list[psycopg.Connection]]:
    """Rollers on ``extra`` connections of their own, sharing what the run read once."""
    workers: list[Roller] = []
    connections: list[psycopg.Connection] = []
    if extra <= 0 or connect is None:
        return workers, connections
    for _ in range(extra):
        conn = None
        try:
            conn = connect()
            bound_session(conn, roller.options)
        except (psycopg.Error, SqlaPartitionError) as exc:  # e.g. max_connections: fewer
            if conn is not None:  # workers, the same work
                conn.close()
            if warnings is not None:
                warnings.append(
                    f"--jobs: {len(workers) + 1} connection(s) used, another could not be "
                    f"opened: {one_line(exc)}"
                )
            break
        connections.append(conn)
        workers.append(roller.sharing(conn))
    return workers, connections
