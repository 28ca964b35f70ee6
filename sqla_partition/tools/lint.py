"""``sqla-partition lint``: the partition rules no general SQL linter knows.

SQL is read with PostgreSQL's own parser (pglast). What the file does not say about the
database (which tables are partitioned, which have a DEFAULT partition) can come from a
catalog snapshot. A finding is accepted inline with a reason, on a comment line right
above the statement: ``-- sqla-partition: allow detach-without-concurrently: <reason>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import SqlaPartitionError

RULES: dict[str, tuple[str, str]] = {
    "partition-of-live-parent": (
        "CREATE TABLE … PARTITION OF takes ACCESS EXCLUSIVE on {parent}, which already exists",
        "create a plain table (LIKE the parent), add a CHECK matching the bounds, then "
        "ALTER TABLE … ATTACH PARTITION",
    ),
    "attach-without-check": (
        "ATTACH PARTITION scans {child} under lock: it existed before this transaction and no "
        "CHECK constraint implies its bounds",
        "ALTER TABLE {child} ADD CONSTRAINT … CHECK (key IS NOT NULL AND key >= lower AND "
        "key < upper) before the ATTACH",
    ),
    "attach-scans-default": (
        "ATTACH scans the DEFAULT partition {default} of {parent} under ACCESS EXCLUSIVE",
        "in the same transaction, LOCK TABLE {default} and move the rows of the new range "
        "out of it first (sqla-partition roll does), so the scan finds the DEFAULT small",
    ),
    "attach-beside-default-unlocked": (
        "ATTACH beside the DEFAULT partition {default} of {parent} while writers of {parent} "
        "may still route rows to {default}: an insert routed there before the ATTACH fails "
        "once it commits (violates partition constraint)",
        "LOCK TABLE ONLY {parent} IN SHARE ROW EXCLUSIVE MODE earlier in the transaction, "
        "before {default} is locked: writers then wait at the parent and route afresh",
    ),
    "detach-without-concurrently": (
        "DETACH PARTITION takes ACCESS EXCLUSIVE on {parent}; it has no DEFAULT partition, "
        "so CONCURRENTLY is possible",
        "ALTER TABLE {parent} DETACH PARTITION {child} CONCURRENTLY (outside a transaction)",
    ),
    "index-on-partitioned-parent": (
        "CREATE INDEX on partitioned {table} locks every partition against writes for the "
        "whole build",
        "CREATE INDEX … ON ONLY {table}; CREATE INDEX CONCURRENTLY on each partition; "
        "ALTER INDEX … ATTACH PARTITION each",
    ),
    "ddl-without-lock-timeout": (
        "{what} waits for its lock without a bound, and every query queued behind it waits too",
        "SET LOCAL lock_timeout = '3s' earlier in the transaction (or SET lock_timeout before "
        "a statement that runs outside one)",
    ),
    "allow-without-reason": (
        "an inline allow for {allowed} gives no reason",
        "write the reason after the rule: -- sqla-partition: allow {allowed}: <why it is safe>",
    ),
}

#: A fact the file states about the database, as ``roll --dry-run`` writes it.
_NAME = r'("(?:[^"]|"")*"|[^\s,"]+)'
_FACT = re.compile(
    rf"--\s*sqla-partition:\s*{_NAME} has DEFAULT partition {_NAME}(, empty when planned)?"
)


def _unquote(name: str) -> str:
    """A name as the fact writes it (an identifier, quoted when it must be)."""
    if name.startswith('"') and name.endswith('"'):
        return name[1:-1].replace('""', '"')
    return name


_ALLOW = re.compile(r"--\s*sqla-partition:\s*allow\s+([a-z-]+)\s*(?::\s*(.*))?$", re.MULTILINE)


@dataclass
class Finding:
    rule: str
    line: int
    message: str
    fix: str
    accepted: str | None = None

    def format(self, filename: str) -> str:
        return f"{filename}:{self.line}: [{self.rule}] {self.message}\n    fix: {self.fix}"


@dataclass
class Knowledge:
    """What is known about the database besides the file: from a snapshot, if given."""

    partitioned: set[str] = field(default_factory=set)
    defaults: dict[str, str] = field(default_factory=dict)  # parent -> DEFAULT partition

    @classmethod
    def from_snapshot(cls, snap: Any) -> Knowledge:
        k = cls()
        for parent in snap.parents.values():
            k.partitioned.add(parent.name)
            if parent.default is not None:
                k.defaults[parent.name] = parent.default.name
        return k


def _name(rangevar: Any) -> str:
    return rangevar.relname


def _setting(stmt: Any) -> str:
    """The value of ``SET name = value`` as text (``0`` disables a timeout)."""
    if not stmt.args:
        return ""
    val = getattr(stmt.args[0], "val", None)
    for attr in ("ival", "sval", "fval"):
        if val is not None and hasattr(val, attr):
            return str(getattr(val, attr)).strip()
    return ""


class _State:
    def __init__(self, known: Knowledge):
        self.partitioned = set(known.partitioned)
        self.defaults = dict(known.defaults)
        self.empty_defaults: set[str] = set()
        self.in_tx = False
        self.created_tx: set[str] = set()
        self.checks: set[str] = set()
        self.locked_tx: set[str] = set()
        #: Tables locked in this transaction, in order, and those locked against writers.
        self.lock_order: dict[str, int] = {}
        self.writers_held_tx: set[str] = set()
        self.timeout_tx = False
        self.timeout_session = False

    def end_tx(self) -> None:
        self.in_tx = False
        self.created_tx.clear()
        self.locked_tx.clear()
        self.lock_order.clear()
        self.writers_held_tx.clear()
        self.timeout_tx = False

    @property
    def has_timeout(self) -> bool:
        return self.timeout_tx or self.timeout_session


#: pg_locks' numbering of lock modes (LockStmt.mode): SHARE ROW EXCLUSIVE and stronger
#: conflict with the ROW EXCLUSIVE lock every INSERT takes.
SHARE_ROW_EXCLUSIVE = 6


def _writers_held_first(state: _State, parent: str, default: str) -> bool:
    """The parent is locked against writers, before the DEFAULT partition was locked."""
    if parent not in state.writers_held_tx:
        return False
    order = state.lock_order
    return default not in order or order[parent] < order[default]


def _finding(rule: str, line: int, **kw: str) -> Finding:
    message, fix = RULES[rule]
    return Finding(rule, line, message.format(**kw), fix.format(**kw))


def lint_sql(text: str, known: Knowledge | None = None) -> list[Finding]:
    """Every rule violation in ``text``; accepted ones carry their reason."""
    import pglast
    from pglast import ast
    from pglast.enums import (
        AlterTableType,
        ConstrType,
        ObjectType,
        TransactionStmtKind,
        VariableSetKind,
    )

    try:
        statements = pglast.parse_sql(text)
    except pglast.parser.ParseError as exc:
        raise SqlaPartitionError(f"not valid PostgreSQL: {exc}") from None
    data = text.encode("utf-8")
    state = _State(known or Knowledge())
    findings: list[Finding] = []
    previous_end = 0
    for raw in statements:
        start = raw.stmt_location
        line = data[:start].count(b"\n") + 1
        preamble = data[previous_end:start].decode("utf-8", "replace")
        previous_end = start + (raw.stmt_len or len(data) - start)
        allowed = {m.group(1): (m.group(2) or "").strip() for m in _ALLOW.finditer(preamble)}
        found: list[Finding] = []
        stmt = raw.stmt

        for m in _FACT.finditer(preamble):
            parent, default = _unquote(m.group(1)), _unquote(m.group(2))
            state.partitioned.add(parent)
            state.defaults[parent] = default
            if m.group(3):
                state.empty_defaults.add(default)

        def needs_timeout(
            what: str, table: str | None, found: list[Finding] = found, line: int = line
        ) -> None:
            if not state.has_timeout and (table is None or table not in state.created_tx):
                found.append(_finding("ddl-without-lock-timeout", line, what=what))

        if isinstance(stmt, ast.TransactionStmt):
            if stmt.kind in (
                TransactionStmtKind.TRANS_STMT_BEGIN,
                TransactionStmtKind.TRANS_STMT_START,
            ):
                state.in_tx = True
            elif stmt.kind in (
                TransactionStmtKind.TRANS_STMT_COMMIT,
                TransactionStmtKind.TRANS_STMT_ROLLBACK,
            ):
                state.end_tx()
        elif isinstance(stmt, ast.VariableSetStmt) and stmt.name == "lock_timeout":
            on = stmt.kind == VariableSetKind.VAR_SET_VALUE and _setting(stmt) not in ("0", "")
            if stmt.is_local:
                state.timeout_tx = on
            else:
                state.timeout_session = on
        elif isinstance(stmt, ast.CreateStmt):
            name = _name(stmt.relation)
            if stmt.partspec is not None:
                state.partitioned.add(name)
            if stmt.partbound is not None and stmt.inhRelations:
                parent = _name(stmt.inhRelations[0])
                state.partitioned.add(parent)
                if stmt.partbound.is_default:
                    state.defaults[parent] = name
                if parent not in state.created_tx:
                    found.append(_finding("partition-of-live-parent", line, parent=parent))
                    needs_timeout("CREATE TABLE … PARTITION OF", None)
            state.created_tx.add(name)
        elif isinstance(stmt, ast.LockStmt):
            for rel in stmt.relations or ():
                state.locked_tx.add(_name(rel))
                state.lock_order.setdefault(_name(rel), len(state.lock_order))
                if (stmt.mode or 0) >= SHARE_ROW_EXCLUSIVE:
                    state.writers_held_tx.add(_name(rel))
            needs_timeout("LOCK TABLE", None)
        elif isinstance(stmt, ast.IndexStmt):
            table = _name(stmt.relation)
            if table in state.partitioned and stmt.relation.inh and table not in state.created_tx:
                found.append(_finding("index-on-partitioned-parent", line, table=table))
            needs_timeout("CREATE INDEX", table)
        elif isinstance(stmt, ast.AlterTableStmt) and stmt.objtype == ObjectType.OBJECT_TABLE:
            table = _name(stmt.relation)
            for cmd in stmt.cmds:
                kind = cmd.subtype
                if (
                    kind == AlterTableType.AT_AddConstraint
                    and isinstance(cmd.def_, ast.Constraint)
                    and cmd.def_.contype == ConstrType.CONSTR_CHECK
                ):
                    state.checks.add(table)
                elif kind == AlterTableType.AT_AttachPartition:
                    child = _name(cmd.def_.name)
                    state.partitioned.add(table)
                    if cmd.def_.bound is not None and cmd.def_.bound.is_default:
                        state.defaults[table] = child
                        continue
                    if child not in state.checks and child not in state.created_tx:
                        found.append(_finding("attach-without-check", line, child=child))
                    default = state.defaults.get(table)
                    if default and default not in state.locked_tx | state.empty_defaults:
                        found.append(
                            _finding("attach-scans-default", line, parent=table, default=default)
                        )
                    if default and not _writers_held_first(state, table, default):
                        found.append(
                            _finding(
                                "attach-beside-default-unlocked",
                                line,
                                parent=table,
                                default=default,
                            )
                        )
                elif kind == AlterTableType.AT_DetachPartition:
                    child = _name(cmd.def_.name)
                    if not cmd.def_.concurrent and table not in state.defaults:
                        found.append(
                            _finding("detach-without-concurrently", line, parent=table, child=child)
                        )
            needs_timeout("ALTER TABLE", table)
        elif isinstance(stmt, ast.DropStmt):
            needs_timeout("DROP", None)
        for f in found:
            if f.rule in allowed:
                if allowed[f.rule]:
                    f.accepted = allowed[f.rule]
                else:
                    findings.append(_finding("allow-without-reason", line, allowed=f.rule))
            findings.append(f)
    return findings
