"""Workload advice: indexes that halve the planned cost of frequent queries.

Queries come from ``pg_stat_statements`` (or a file); candidate indexes from the columns
they filter and sort on; ``hypopg`` makes each candidate hypothetical, on every partition
of a partitioned table, and the planner's estimate decides. Nothing is built.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pglast
from pglast import ast

from .. import sql
from ..errors import SqlaPartitionError
from .placeholders import to_dollar
from .pruning import PartitionMap, Unpruned, unpruned, walk

RANGE_OPS = {"<", ">", "<=", ">="}


class AdviceUnavailable(SqlaPartitionError):
    """What to install or grant before advice can be given (the CLI exits 2)."""


@dataclass(frozen=True)
class Query:
    text: str
    calls: int = 1
    #: Normalized by pg_stat_statements ($1, $2, …): planned generically.
    parameters: int = 0


@dataclass(frozen=True)
class Candidate:
    schema: str
    table: str
    columns: tuple[str, ...]
    partitioned: bool

    @property
    def name(self) -> str:
        return sql.suggested_index_name("adv", self.table, self.columns)


@dataclass
class Advice:
    candidate: Candidate
    queries: list[tuple[Query, float, float]] = field(default_factory=list)  # before, after

    @property
    def weight(self) -> float:
        return sum(q.calls * (before - after) for q, before, after in self.queries)


def _columns(node: Any, out: list[tuple[str | None, str, str]], kind: str) -> None:
    """``(qualifier, column, kind)`` for each column compared in ``node``."""
    if isinstance(node, ast.A_Expr):
        op = node.name[-1].sval if node.name else ""
        what = "eq" if op == "=" or node.kind.name in ("AEXPR_IN",) else None
        what = what or ("range" if op in RANGE_OPS or node.kind.name == "AEXPR_BETWEEN" else None)
        for side in (node.lexpr, node.rexpr):
            if isinstance(side, ast.ColumnRef) and what:
                names = [f.sval for f in side.fields if isinstance(f, ast.String)]
                if names:
                    out.append((names[-2] if len(names) > 1 else None, names[-1], what))
    elif isinstance(node, ast.BoolExpr):
        for arg in node.args:
            _columns(arg, out, kind)


def _where_and_tables(text: str) -> tuple[dict[str, str], list[tuple[str | None, str, str]]]:
    """Tables (alias -> name) and compared or sorted columns of one statement."""
    try:
        (raw,) = pglast.parse_sql(text)
    except (pglast.parser.ParseError, ValueError):
        return {}, []
    stmt = raw.stmt
    tables: dict[str, str] = {}
    for node in walk(stmt):
        if isinstance(node, ast.RangeVar):
            tables[node.alias.aliasname if node.alias else node.relname] = node.relname
    found: list[tuple[str | None, str, str]] = []
    for where in (getattr(stmt, "whereClause", None),):
        if where is not None:
            _columns(where, found, "where")
    for sort in getattr(stmt, "sortClause", None) or ():
        if isinstance(sort.node, ast.ColumnRef):
            names = [f.sval for f in sort.node.fields if isinstance(f, ast.String)]
            if names:
                found.append((names[-2] if len(names) > 1 else None, names[-1], "sort"))
    return tables, found


def candidates(text: str, columns_of: dict[str, tuple[str, set[str], bool]]) -> list[Candidate]:
    """Indexes worth trying for one query: each filtered column alone, equality columns
    together, then a range or sort column after them."""
    tables, found = _where_and_tables(text)
    per_table: dict[str, dict[str, list[str]]] = {}
    for qualifier, column, kind in found:
        names = [tables[qualifier]] if qualifier in tables else list(tables.values())
        for table in names:
            if table in columns_of and column in columns_of[table][1]:
                bucket = per_table.setdefault(table, {"eq": [], "range": [], "sort": []})
                if column not in bucket[kind]:
                    bucket[kind].append(column)
                break
    out: list[Candidate] = []
    for table, kinds in per_table.items():
        schema, _cols, partitioned = columns_of[table]
        shapes = [(c,) for c in kinds["eq"] + kinds["range"] + kinds["sort"]]
        if len(kinds["eq"]) > 1:
            shapes.append(tuple(kinds["eq"][:3]))
        for tail in kinds["range"][:1] + kinds["sort"][:1]:
            if kinds["eq"]:
                shapes.append((*kinds["eq"][:3], tail))
        for shape in dict.fromkeys(shapes):
            out.append(Candidate(schema, table, shape, partitioned))
    return out


class Advisor:
    """Runs the trials on one connection (psycopg 3, autocommit)."""

    def __init__(self, conn: Any, application_path: str = "public") -> None:
        self.conn = conn
        #: The search_path the application's statements are planned under; the session's
        #: own queries run under the pinned one.
        self.application_path = application_path
        self.hypopg = "public"
        self.statements_schema = "public"
        #: Statements ``pruning`` could not plan here (a table or right missing), with why.
        self.unplanned = 0
        self.skipped: list[tuple[Query, str]] = []
        self.last_error = ""

    def check(self, *, statements: bool, hypothetical: bool = True) -> None:
        row = self.conn.execute(sql.ADVICE_READY_QUERY).fetchone()
        has_hypopg, hypopg_available, has_statements, can_read, hypopg, statements_at = row
        self.hypopg = hypopg or self.hypopg
        self.statements_schema = statements_at or self.statements_schema
        if hypothetical and not has_hypopg:
            where = (
                "it is installed on the server: run CREATE EXTENSION hypopg in this database"
                if hypopg_available
                else "install it on the server (Debian: apt install postgresql-15-hypopg, "
                "for your server's version), then CREATE EXTENSION hypopg in this database"
            )
            raise AdviceUnavailable(f"advise needs the hypopg extension: {where}")
        if statements and not has_statements:
            raise AdviceUnavailable(
                "advise reads the workload from pg_stat_statements, which this database "
                "does not have: add pg_stat_statements to shared_preload_libraries, restart, "
                "run CREATE EXTENSION pg_stat_statements, let the application run; or pass "
                "--queries FILE"
            )
        if statements and not can_read:
            raise AdviceUnavailable(
                "this role cannot read other roles' statements in pg_stat_statements: "
                "GRANT pg_read_all_stats TO <this role>"
            )

    def plan_as(self, role: str | None) -> None:
        """Plan as ``role``, never in a superuser's session: planning evaluates the functions
        a statement calls (constant folding) with the session's rights, and in a superuser's
        session ``SET ROLE`` is no boundary (such a function can ``RESET ROLE``)."""
        if self.conn.execute(sql.SUPERUSER_SESSION_QUERY).fetchone()[0]:
            raise AdviceUnavailable(
                "advise does not plan in a superuser's session, not even under --role: "
                "planning runs the functions a statement calls, and there such a function "
                "can RESET ROLE and act as the superuser. Connect as the planning role "
                "instead (a role with pg_read_all_data, and pg_read_all_stats for "
                "pg_stat_statements): --database-url postgresql://ROLE@HOST/DATABASE"
            )
        if role:
            try:
                self.conn.execute(sql.act_as(role, local=False).sql)
            except Exception as exc:
                text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise AdviceUnavailable(f"--role {role}: {text}") from None

    def workload(self, min_calls: int, limit: int) -> list[Query]:
        rows = self.conn.execute(
            sql.workload_query(min_calls, limit, self.statements_schema)
        ).fetchall()
        return [Query(text, int(calls), _parameters(text)) for text, calls in rows]

    def tables(self) -> dict[str, tuple[str, set[str], bool]]:
        rows = self.conn.execute(sql.ADVICE_TABLES_QUERY).fetchall()
        return {name: (schema, set(cols), bool(p)) for schema, name, cols, p in rows}

    def existing(self) -> set[tuple[str, tuple[str, ...]]]:
        """``(table, leading columns)`` of indexes that already exist."""
        rows = self.conn.execute(sql.INDEX_CATALOG_QUERY).fetchall()
        out = set()
        for _schema, table, _name, columns, *_ in rows:
            for n in range(1, len(columns) + 1):
                out.add((table, tuple(columns[:n])))
        return out

    def plan(self, query: Query) -> Any:
        """The statement's plan as JSON (the generic plan of a normalized statement), or
        ``None`` when it cannot be planned here."""
        query = dataclasses.replace(query, text=to_dollar(query.text))
        try:
            with self.conn.transaction(force_rollback=True):  # plans only, nothing kept
                self.conn.execute(sql.APPLICATION_PATH, {"path": self.application_path})
                if query.parameters:
                    self.conn.execute(sql.GENERIC_PLANS)
                    self.conn.execute(sql.prepare_statement(query.text))
                    plan = self.conn.execute(sql.explain_prepared(query.parameters)).fetchone()
                    self.conn.execute(sql.DEALLOCATE_ADVICE)
                else:
                    plan = self.conn.execute(sql.explain(query.text)).fetchone()
        except Exception as exc:  # a statement that cannot be planned here is not advised on
            self.last_error = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            return None
        return plan[0] if not isinstance(plan[0], str) else json.loads(plan[0])

    def cost(self, query: Query) -> float | None:
        data = self.plan(query)
        return None if data is None else float(data[0]["Plan"]["Total Cost"])

    def pruning(self, queries: list[Query]) -> list[tuple[Query, Unpruned]]:
        """The statements that read every partition of a partitioned table, most calls
        first."""
        partitions = PartitionMap.read(self.conn)
        out = []
        self.unplanned = 0
        self.skipped = []
        for query in queries:
            planned = sql.as_select(to_dollar(query.text))
            data = self.plan(dataclasses.replace(query, text=planned))
            if data is None:
                self.unplanned += 1
                self.skipped.append((query, self.last_error))
                continue
            for found in unpruned(data, query.text, partitions):
                out.append((query, self._checked(query, found, partitions)))
        return sorted(out, key=lambda pair: -pair[0].calls)

    def _checked(self, query: Query, found: Unpruned, partitions: PartitionMap) -> Unpruned:
        """``found`` with its rewritten statement only if that statement, planned here,
        no longer reads every partition of the table."""
        if not found.instead:
            return found
        rewritten = dataclasses.replace(query, text=sql.as_select(found.instead))
        data = self.plan(rewritten)
        still = data is None or any(
            u.table == found.table and u.verdict == "full"
            for u in unpruned(data, found.instead, partitions)
        )
        return dataclasses.replace(found, instead="" if still else found.instead)

    def trial(self, candidate: Candidate, leaves: Sequence[tuple[str, str]]) -> None:
        targets = leaves if candidate.partitioned else [(candidate.schema, candidate.table)]
        for schema, table in targets:
            self.conn.execute(sql.hypothetical_index(schema, table, candidate.columns, self.hypopg))

    def leaves(self, candidate: Candidate) -> list[tuple[str, str]]:
        rows = self.conn.execute(
            sql.LEAF_PARTITIONS_QUERY, {"table": sql.qualified(candidate.table, candidate.schema)}
        ).fetchall()
        return [(s, t) for s, t in rows]

    def advise(self, queries: list[Query], threshold: float = 0.5) -> list[Advice]:
        tables = self.tables()
        existing = self.existing()
        found: dict[Candidate, Advice] = {}
        for query in queries:
            before = self.cost(query)
            if not before:
                continue
            best: tuple[float, Candidate] | None = None
            for candidate in candidates(query.text, tables):
                if (candidate.table, candidate.columns) in existing:
                    continue
                self.trial(candidate, self.leaves(candidate) if candidate.partitioned else [])
                after = self.cost(query)
                self.conn.execute(sql.hypopg_reset(self.hypopg))
                halved = after is not None and after <= before * threshold
                if halved and (best is None or after < best[0]):  # type: ignore[operator]
                    best = (after, candidate)  # type: ignore[assignment]
            if best is not None:
                advice = found.setdefault(best[1], Advice(best[1]))
                advice.queries.append((query, before, best[0]))
        return sorted(found.values(), key=lambda a: -a.weight)


def _parameters(text: str) -> int:
    """The highest ``$n`` in a normalized statement."""
    import re

    numbers = [int(n) for n in re.findall(r"\$(\d+)", text)]
    return max(numbers, default=0)


def read_queries(text: str) -> list[Query]:
    """Statements separated by semicolons, each weighing as one call; DB-API placeholders
    (``%s``, ``%(name)s``, ``?``, ``:name``) are read as ``$n``, and a statement that is not
    SQL is kept, to be named as skipped."""
    try:
        statements = split_statements(text)
    except pglast.parser.ParseError as exc:
        raise SqlaPartitionError(
            f"the workload file is not SQL PostgreSQL can parse: {exc}"
        ) from None
    errors = []
    for raw in statements:
        try:
            pglast.parse_sql(to_dollar(raw))
        except pglast.parser.ParseError as exc:
            errors.append(exc)
    if statements and len(errors) == len(statements):  # the wrong file, not a few odd lines
        raise SqlaPartitionError(f"the workload file is not SQL PostgreSQL can parse: {errors[0]}")
    return [Query(raw, 1, _parameters(to_dollar(raw))) for raw in statements]


def split_statements(text: str) -> list[str]:
    """The statements of ``text`` at its semicolons, as the lexer sees them (a semicolon
    in a string, a comment or a function's body does not split)."""
    from pglast.parser import scan

    out, start = [], 0
    for token in [*scan(text), None]:
        if token is None or token.name == "ASCII_59":
            end = len(text) if token is None else token.start
            piece = text[start:end].strip()
            if piece and scan(piece):  # not only comments
                out.append(piece)
            start = end + 1
    return out


#: The largest ``--queries`` file advise reads: a workload, not a dump.
MAX_QUERIES_BYTES = 10 * 1024 * 1024


def read_limited(path: Any) -> str:
    size = path.stat().st_size
    if size > MAX_QUERIES_BYTES:
        raise AdviceUnavailable(
            f"--queries {path}: {size / 1048576:.0f} MB; advise reads at most "
            f"{MAX_QUERIES_BYTES // 1048576} MB of statements (the most frequent ones are enough)"
        )
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise AdviceUnavailable(f"--queries {path} is not UTF-8 text (SQL expected)") from None
