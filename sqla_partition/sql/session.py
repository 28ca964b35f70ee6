"""Settings that bound every wait of the statements that follow."""

from __future__ import annotations

from .quoting import ident
from .statement import Statement


def set_lock_timeout(ms: int, *, local: bool = True) -> Statement:
    scope = "LOCAL " if local else ""
    return Statement(
        f"SET {scope}lock_timeout = {int(ms)}",
        "no lock",
        "bounds every lock wait below, so no reader or writer queues behind this DDL for longer",
    )


def reset_lock_timeout() -> Statement:
    return Statement("RESET lock_timeout", "no lock", "back to the role's setting")


def set_statement_timeout(ms: int, *, local: bool = True) -> Statement:
    scope = "LOCAL " if local else ""
    return Statement(
        f"SET {scope}statement_timeout = {int(ms)}",
        "no lock",
        "bounds how long any statement below may run",
    )


def timeouts(lock_ms: int, statement_ms: int, *, local: bool = True) -> list[Statement]:
    """Bounds for the statements that follow: in this transaction, or for the session."""
    return [
        set_lock_timeout(lock_ms, local=local),
        set_statement_timeout(statement_ms, local=local),
    ]


def relaxed_commit(*, local: bool = True) -> Statement:
    """For ``roll`` only: its steps are idempotent, so a commit need not wait for the disk."""
    return Statement(
        f"SET {'LOCAL ' if local else ''}synchronous_commit = off",
        "no lock",
        "a crash right after COMMIT may forget this step; the next roll does it again",
    )


def reset_relaxed_commit() -> Statement:
    return Statement("RESET synchronous_commit", "no lock", "back to the role's setting")


def reset_timeouts(*, local: bool = True) -> list[Statement]:
    """Back to the settings in force before :func:`timeouts`."""
    if local:
        return [
            Statement(f"SET LOCAL {name} TO DEFAULT", "no lock", "back to the session's setting")
            for name in ("lock_timeout", "statement_timeout")
        ]
    return [
        reset_lock_timeout(),
        Statement("RESET statement_timeout", "no lock", "back to the role's setting"),
    ]


def act_as(role: str, *, local: bool = True) -> Statement:
    """Run what follows as the table's owner: what it creates belongs to the owner (the next
    migration, run as the owner, can alter it), and triggers that fire while rows move run
    with the owner's rights, never with those of a more privileged role running the tool."""
    return Statement(
        f"SET {'LOCAL ' if local else ''}ROLE {ident(role)}",
        "no lock",
        "acts as the table's owner, whose partitions these are",
    )


def reset_role() -> Statement:
    return Statement("RESET ROLE", "no lock", "back to the role that connected")


#: The tool's reads of the catalog are many small lookups the planner prices high: past
#: thousands of tables their cost crosses jit_above_cost, and compiling them took 0.8 s of a
#: 1.5 s read at 10,000 tables (executing them took none of it back).
NO_JIT = Statement(
    "SET jit = off",
    "no lock",
    "the catalog reads are short lookups: compiling them costs more than running them",
)

#: The search_path of every session of the tool's commands (``advise`` excepted: it plans
#: the application's statements as they are written).
PINNED_SEARCH_PATH = Statement(
    "SET search_path = pg_catalog, pg_temp",
    "no lock",
    "names resolve in pg_catalog first and in no schema another role can create in, so "
    "no function or operator of another role's is ever called by the tool's queries "
    "(pg_temp last: a temporary table never takes a name)",
)


#: For a session that is not the tool's own (autogenerate runs in the application's): pin
#: the search_path for the tool's catalog reads, returning what to put back and the
#: schemas it named.
PIN_SEARCH_PATH_QUERY = (
    "SELECT s.path, s.schemas, pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', "
    "false) FROM (SELECT pg_catalog.current_setting('search_path') AS path, "
    "pg_catalog.current_schemas(false)::text[] AS schemas OFFSET 0) AS s"
)
#: Puts the session's search_path back (bind parameter ``path``, SQLAlchemy style).
RESTORE_SEARCH_PATH = "SELECT pg_catalog.set_config('search_path', :path, false)"


#: The TimeZone a session of this role in this database starts with (before the tool's own
#: settings): where partitions made by hand or by Citus's helpers have their boundaries.
SERVER_TIMEZONE_QUERY = "SELECT reset_val FROM pg_catalog.pg_settings WHERE name = 'TimeZone'"
