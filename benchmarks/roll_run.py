"""Running the roll benchmark: timing each tool's steps on fresh copies, the lock probe.

Each step's command runs as a whole process, as cron runs it, and is timed from outside;
the catalog is checked after it (``roll_scenario.read_state``), so a step whose tool did
nothing is flagged rather than timed. The lock probe polls ``pg_locks`` from another
connection during a separate, untimed run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from common import connect, create_database, db_url, drop_database, run_timed, sources_hash
from roll_scenario import Expect, Scenario, State, month_index, read_state
from roll_tools import BASE_OF, Sequence, Step, Tools, parse_sqla, psql_command, tool_of

LOCK_POLL_S = 0.02
OTHER_BENCHMARK = "benchmarks/autogenerate.py"


# -- lock probe -------------------------------------------------------------------------------

LOCKS_QUERY = """
SELECT l.pid, count(*), count(*) FILTER (WHERE NOT l.fastpath)
  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
 WHERE a.datname = %s AND l.pid <> pg_backend_pid()
 GROUP BY l.pid
"""


class LockProbe:
    """Polls ``pg_locks`` for the backends connected to one database, from another
    connection, and keeps the peaks."""

    def __init__(self, admin_url: str, dbname: str) -> None:
        self.admin_url = admin_url
        self.dbname = dbname
        self.peak_total = 0  # lock entries of all the database's backends at once
        self.peak_shared = 0  # of those, not fast-path: what fills the shared lock table
        self.peak_backend = 0  # the most held by one backend
        self.peak_backends = 0
        self.polls = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with connect(self.admin_url) as conn:
            while not self._stop.is_set():
                rows = conn.execute(LOCKS_QUERY, (self.dbname,)).fetchall()
                self.polls += 1
                self.peak_total = max(self.peak_total, sum(r[1] for r in rows))
                self.peak_shared = max(self.peak_shared, sum(r[2] for r in rows))
                self.peak_backend = max(self.peak_backend, max((r[1] for r in rows), default=0))
                self.peak_backends = max(self.peak_backends, len(rows))
                time.sleep(LOCK_POLL_S)

    def __enter__(self) -> LockProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def as_dict(self) -> dict[str, int]:
        return {
            "peak_total": self.peak_total,
            "peak_shared": self.peak_shared,
            "peak_backend": self.peak_backend,
            "peak_backends": self.peak_backends,
            "polls": self.polls,
        }


@dataclass
class Measurement:
    sequence: str
    step: str
    run: str  # "1", "2", ... or "probe"
    seconds: float
    exit_code: int
    created: int  # from the catalog
    detached: int
    reported: dict[str, int]
    problems: list[str]
    locks: dict[str, int] | None = None
    stderr: str = ""
    version: str = ""  # sqla-partition's sources hash when this ran (it may be edited)

    @property
    def valid(self) -> bool:
        return self.exit_code == 0 and not self.problems


# -- running ----------------------------------------------------------------------------------


def wait_for_quiet(args: argparse.Namespace) -> None:
    """Wait while the autogenerate benchmark runs, so neither disturbs the other."""
    if args.no_wait:
        return
    told = False
    while True:
        found = subprocess.run(
            ["pgrep", "-f", OTHER_BENCHMARK], capture_output=True, text=True, check=False
        ).stdout.split()
        if not found:
            return
        if not told:
            print(f"  (waiting for {OTHER_BENCHMARK} to finish: pids {' '.join(found)})")
            told = True
        time.sleep(20)


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("DATABASE_URL", "PG_PARTSMITH_DSN", "PG_PARTSMITH_DSN_FILE", "PGOPTIONS"):
        env.pop(var, None)
    env.update(extra or {})
    return env


def run_db(args: argparse.Namespace, name: str) -> str:
    return f"{args.db_prefix}_run_{name.replace('/', '_').replace('-', '_')}"


def run_step(
    args: argparse.Namespace,
    sc: Scenario,
    seq: Sequence,
    step: Step,
    dbname: str,
    before: State,
    run: str,
    probe: bool,
) -> tuple[Measurement, State]:
    """Prepare (untimed), run the command (timed, as a whole process), check the catalog."""
    admin = args.database_url
    url = db_url(admin, dbname)
    if step.prepare is not None:
        with connect(url) as conn:
            step.prepare(conn)
    wait_for_quiet(args)
    version = sources_hash() if tool_of(seq.name) == "sqla-partition" else ""
    lock_probe = LockProbe(admin, dbname) if probe else None
    if lock_probe:
        lock_probe.__enter__()
    done, seconds = run_timed(step.command, child_env(step.env))
    if lock_probe:
        lock_probe.__exit__(None, None, None)
    after = read_state(url, sc, seq.names, step.expect)
    problems = list(after.problems)
    reported: dict[str, int] = {}
    if step.parse is not None and done.returncode in (0, 1, 3):
        try:
            reported = step.parse(done.stdout)
        except (ValueError, KeyError, TypeError) as exc:
            problems.append(f"cannot read the tool's output: {exc}")
    created = max(0, after.attached - before.attached)
    detached = max(0, after.leftovers - before.leftovers)
    for key, value in (("created", created), ("detached", detached)):
        if key in reported and reported[key] != value:
            problems.append(f"tool reports {reported[key]} {key}, the catalog shows {value}")
    if done.returncode != 0:
        problems.append(f"exit code {done.returncode}: {done.stderr.strip()[-500:]}")
    m = Measurement(
        seq.name,
        step.key,
        run,
        seconds,
        done.returncode,
        created,
        detached,
        reported,
        problems,
        lock_probe.as_dict() if lock_probe else None,
        done.stderr.strip()[-2000:],
        version,
    )
    mark = "ok" if not problems else "CHECK FAILED: " + "; ".join(problems[:3])
    extra = f", {created} created" if created else ""
    extra += f", {detached} detached" if detached else ""
    locks = f", peak locks {lock_probe.peak_total}" if lock_probe else ""
    print(f"    {seq.name:<22} {step.key:<10} {seconds:7.3f} s{extra}{locks}  {mark}")
    return m, after


STEP_ORDER = ("noop-cold", "noop", "create", "detach")


def run_round(
    args: argparse.Namespace,
    sc: Scenario,
    makers: dict[str, Callable[[str], Sequence]],
    bases: dict[str, str],
    order: list[str],
    run: str,
    probe: bool,
) -> list[Measurement]:
    """One run of every sequence: a fresh copy of each, then each step for every tool back
    to back, so that the times compared with each other are taken close together."""
    admin = args.database_url
    check_month(sc)
    wait_for_quiet(args)
    live: dict[str, tuple[str, Sequence, State]] = {}
    for name in order:
        dbname = run_db(args, name)
        create_database(admin, dbname, bases[BASE_OF[name]])
        seq = makers[name](db_url(admin, dbname))
        start = Expect(sc.first, sc.last, 0, True)
        live[name] = (dbname, seq, read_state(db_url(admin, dbname), sc, seq.names, start))
    with connect(admin) as conn:
        conn.execute("CHECKPOINT")
    out = []
    for key in STEP_ORDER:
        for name in order:
            dbname, seq, before = live[name]
            step = next((s for s in seq.steps if s.key == key), None)
            if step is None:
                continue
            m, after = run_step(args, sc, seq, step, dbname, before, run, probe)
            live[name] = (dbname, seq, after)
            out.append(m)
    if not args.keep:
        for name in order:
            drop_database(admin, live[name][0])
    return out


def run_startup(args: argparse.Namespace, tools: Tools, run: str) -> list[Measurement]:
    """The start-up floor of a cron command, against the admin database."""
    url = args.database_url
    commands = {
        "startup/psql": psql_command(tools, url, command="SELECT 1"),
        "startup/python": [
            sys.executable,
            "-c",
            "import sys, psycopg; psycopg.connect(sys.argv[1]).close()",
            url,
        ],
        "startup/sqla-cli": [tools.sqla, "--version"],
    }
    out = []
    for name, cmd in commands.items():
        wait_for_quiet(args)
        done, seconds = run_timed(cmd, child_env())
        problems = [] if done.returncode == 0 else [f"exit code {done.returncode}"]
        out.append(Measurement(name, "noop", run, seconds, done.returncode, 0, 0, {}, problems))
        print(f"    {name:<22} {'':<10} {seconds:7.3f} s")
    return out


def one_at_a_time(admin_url: str) -> psycopg.Connection:
    """Hold a session advisory lock for the whole run: two runs of this script would share
    database names and disturb each other's timings, so a second one waits."""
    conn = connect(admin_url)
    key = "SELECT pg_try_advisory_lock(hashtext('sqlp_rollbench'))"
    if not conn.execute(key).fetchone()[0]:  # type: ignore[index]
        print("another benchmarks/roll.py is running on this server: waiting for it")
        conn.execute("SELECT pg_advisory_lock(hashtext('sqlp_rollbench'))")
    return conn


def check_month(sc: Scenario) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    if month_index(now.year, now.month) != sc.current:
        raise SystemExit("the month changed during the benchmark; run it again")


def run_noop_many(
    args: argparse.Namespace, sc: Scenario, tools: Tools, base: str, selected: list[str]
) -> list[Measurement]:
    """No-op runs of sqla-partition and pg_partman on one database of many parents."""
    admin = args.database_url
    url = db_url(admin, base)
    names = sc.names()
    expect = Expect(sc.first, sc.last, 0, True)
    commands = {}
    if "sqla-partition" in selected:
        commands["sqla-partition"] = (
            [tools.sqla, "roll", "--database-url", url, "--json"],
            parse_sqla,
        )
    if "pg_partman" in selected:
        commands["pg_partman"] = (
            psql_command(tools, url, command="SELECT partman.run_maintenance()"),
            None,
        )
    out = []
    state = read_state(url, sc, names, expect)
    if state.problems:
        print(f"    {base}: {state.problems[:3]}")
    runs = ["warm-up"] + [str(i + 1) for i in range(args.repeat)]
    if not args.no_probe:
        runs.append("probe")
    for run in runs:
        for name, (cmd, parse) in commands.items():
            wait_for_quiet(args)
            probe = LockProbe(admin, base) if run == "probe" else None
            if probe:
                probe.__enter__()
            done, seconds = run_timed(cmd, child_env())
            if probe:
                probe.__exit__(None, None, None)
            after = read_state(url, sc, names, expect)
            problems = list(after.problems)
            reported = {}
            if parse is not None and done.returncode == 0:
                reported = parse(done.stdout)
                if reported.get("created") or reported.get("detached"):
                    problems.append(f"a no-op did work: {reported}")
            if done.returncode != 0:
                problems.append(f"exit code {done.returncode}: {done.stderr.strip()[-500:]}")
            m = Measurement(
                name,
                "noop",
                run,
                seconds,
                done.returncode,
                0,
                0,
                reported,
                problems,
                probe.as_dict() if probe else None,
                version=sources_hash() if name == "sqla-partition" else "",
            )
            out.append(m)
            mark = "ok" if not problems else "CHECK FAILED: " + "; ".join(problems[:3])
            locks = f", peak locks {probe.peak_total}" if probe else ""
            print(
                f"    {name:<22} noop x{sc.tables:<5} run {run:<8} {seconds:7.3f} s{locks}  {mark}"
            )
    return [m for m in out if m.run != "warm-up"]
