"""Partitioned parents and their partitions: create, attach, detach, drop."""

from __future__ import annotations

from .plpgsql import do_block
from .quoting import (
    KeyValue,
    ident,
    key_literal,
    qualified,
    regclass,
    string_literal,
    typed_literal,
)
from .roll import default_fact, insert_by_name, insert_moved
from .statement import Statement

BOUND_CHECK = "sqla_partition_bound"


def partition_by(strategy: str, column: str) -> str:
    """The ``PARTITION BY`` clause body, e.g. ``RANGE (created_at)``."""
    return f"{strategy.upper()} ({ident(column)})"


def range_bounds(lower: KeyValue, upper: KeyValue, key_type: str) -> str:
    return f"FOR VALUES FROM ({key_literal(lower, key_type)}) TO ({key_literal(upper, key_type)})"


def sub_by(column: str | None, strategy: str = "hash") -> str:
    """``PARTITION BY HASH (…)`` for a partition partitioned in turn (by range, for a list
    partition)."""
    return f" PARTITION BY {partition_by(strategy, column)}" if column else ""


def create_partition_of(
    parent: str,
    child: str,
    bounds: str,
    schema: str | None = None,
    *,
    hash_column: str | None = None,
    if_not_exists: bool = True,
    sub_strategy: str = "hash",
) -> Statement:
    """``PARTITION OF``: only for a parent created in the same transaction. ``IF NOT
    EXISTS`` lets a migration that stopped between its transactions run again; a table
    ``roll`` creates gets its partitions without it (a table of that name stops the step)."""
    guard = "IF NOT EXISTS " if if_not_exists else ""
    return Statement(
        f"CREATE TABLE {guard}{qualified(child, schema)} "
        f"PARTITION OF {qualified(parent, schema)} {bounds}{sub_by(hash_column, sub_strategy)}",
        f"ACCESS EXCLUSIVE on {parent}",
        "the parent is new in this transaction, nobody else can see it yet",
        squawk_ignore=() if if_not_exists else ("prefer-robust-stmts",),
    )


def create_range_partition_of(
    parent: str,
    child: str,
    lower: KeyValue,
    upper: KeyValue,
    key_type: str,
    schema: str | None,
    *,
    hash_column: str | None = None,
    sub_strategy: str = "hash",
    if_not_exists: bool = True,
) -> Statement:
    """``hash_column``: partitioned in turn by it (``sub_strategy``: hash or range)."""
    bounds = range_bounds(lower, upper, key_type)
    return create_partition_of(
        parent,
        child,
        bounds,
        schema,
        hash_column=hash_column,
        sub_strategy=sub_strategy,
        if_not_exists=if_not_exists,
    )


def create_default_partition_of(parent: str, child: str, schema: str | None = None) -> Statement:
    return create_partition_of(parent, child, "DEFAULT", schema)


def hash_bound(modulus: int, remainder: int) -> str:
    return f"FOR VALUES WITH (MODULUS {int(modulus)}, REMAINDER {int(remainder)})"


def create_hash_partition_of(
    parent: str,
    child: str,
    modulus: int,
    remainder: int,
    schema: str | None = None,
    *,
    if_not_exists: bool = True,
) -> Statement:
    bound = hash_bound(modulus, remainder)
    return create_partition_of(parent, child, bound, schema, if_not_exists=if_not_exists)


def create_like(
    parent: str,
    child: str,
    schema: str | None,
    sub_column: str | None = None,
    sub_strategy: str = "hash",
) -> str:
    """``CREATE TABLE child (LIKE parent …)``, partitioned in turn by ``sub_column``."""
    return (
        f"CREATE TABLE {qualified(child, schema)} "
        f"(LIKE {qualified(parent, schema)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
        f"INCLUDING STORAGE INCLUDING COMMENTS INCLUDING GENERATED)"
        f"{sub_by(sub_column, sub_strategy)}"
    )


def create_detached_child(
    parent: str,
    child: str,
    schema: str | None = None,
    *,
    hash_column: str | None = None,
    sub_strategy: str = "hash",
) -> Statement:
    """A table shaped like the parent (hash-partitioned itself with ``hash_column``), to be
    attached once it is ready, in the same transaction.

    Never ``IF NOT EXISTS``: a table that already has the name (a detached archive, someone
    else's table) is not taken as the new partition; the step stops instead."""
    return Statement(
        create_like(parent, child, schema, hash_column, sub_strategy),
        f"ACCESS SHARE on {parent}",
        "only reads the parent's definition; reads and writes continue. A table that "
        "already has this name is never taken as the partition: the step stops",
        squawk_ignore=("prefer-robust-stmts",),
    )


def add_bound_check(
    child: str,
    column: str,
    lower: KeyValue,
    upper: KeyValue,
    key_type: str,
    schema: str | None = None,
    *,
    existing: bool = False,
) -> Statement:
    """The CHECK that lets ATTACH skip its scan; ``existing``: on a table that has rows."""
    col = ident(column)
    why = "the new table is not attached yet, nobody uses it; the CHECK spares ATTACH a scan"
    if existing:
        why = (
            "scans the table's rows, but the table is not a partition: the application does "
            "not use it; the CHECK spares ATTACH a scan under the parent's lock"
        )
    return Statement(
        f"ALTER TABLE {qualified(child, schema)} ADD CONSTRAINT {ident(BOUND_CHECK)} "
        f"CHECK ({col} IS NOT NULL AND {col} >= {typed_literal(lower, key_type)} "
        f"AND {col} < {typed_literal(upper, key_type)})",
        f"ACCESS EXCLUSIVE on {child}",
        why,
        squawk_ignore=("constraint-missing-not-valid",) if existing else (),
    )


def drop_bound_check(child: str, schema: str | None = None) -> Statement:
    """Before re-attaching a table that was a partition: its old CHECK may not match."""
    return Statement(
        f"ALTER TABLE {qualified(child, schema)} DROP CONSTRAINT IF EXISTS {ident(BOUND_CHECK)}",
        f"ACCESS EXCLUSIVE on {child}",
        "the table is not attached, nobody uses it; the CHECK is added again just below",
        squawk_ignore=("ban-drop-constraint",),
    )


def drop_attached_bound_check(child: str, schema: str | None = None) -> Statement:
    """After the ATTACH: the partition constraint holds the bound now; the CHECK that spared
    the ATTACH its scan would only stand in the way of a later change of bounds."""
    return Statement(
        f"ALTER TABLE {qualified(child, schema)} DROP CONSTRAINT IF EXISTS {ident(BOUND_CHECK)}",
        f"ACCESS EXCLUSIVE on {child} (held already by the ATTACH above)",
        "the partition constraint enforces the same bound from now on",
        squawk_ignore=("ban-drop-constraint",),
    )


def attach_range_partition(
    parent: str,
    child: str,
    lower: KeyValue,
    upper: KeyValue,
    key_type: str,
    schema: str | None = None,
    default: str | None = None,
    *,
    subpartitioned: bool = False,
) -> Statement:
    lock = f"SHARE UPDATE EXCLUSIVE on {parent}, ACCESS EXCLUSIVE on {child}"
    if subpartitioned:
        lock += " and its partitions"
    why = (
        f"reads and writes of {parent} continue; {child} is not in use yet: its scan reads "
        "only rows just moved in, or a CHECK spares it"
    )
    if default:
        lock += f" and {default}"
        why = (
            f"reads of {parent} continue, its writers wait at the lock above until COMMIT; "
            f"{child} is not in use yet: its scan reads only rows just moved in, or a CHECK "
            f"spares it; {default} is scanned for rows of this range, kept small by moving "
            "them out"
        )
    return Statement(
        f"ALTER TABLE {qualified(parent, schema)} ATTACH PARTITION {qualified(child, schema)} "
        f"{range_bounds(lower, upper, key_type)}",
        lock,
        why,
        facts=(default_fact(parent, default),) if default else (),
    )


def lock_parent_for_attach(
    parent: str, default: str, schema: str | None = None, *, moving: bool = False
) -> Statement:
    """Queries of ``parent`` wait here, before the DEFAULT partition's lock is taken.

    A statement routes and prunes with the partitions it saw when it was planned. An INSERT
    routed to the DEFAULT before an ATTACH, and queued on the DEFAULT's lock, fails once the
    ATTACH commits ("violates partition constraint"); queued at the parent instead (SHARE ROW
    EXCLUSIVE conflicts with every write), it routes afresh. When rows ``moving`` out of the
    DEFAULT, a query planned before the ATTACH would read them only in the DEFAULT, after
    they left it (a count of 0 rows): then reads wait at the parent too (ACCESS EXCLUSIVE),
    for as long as the move takes. ``ONLY``: partitions stay free for autovacuum and for
    statements that address them directly.
    """
    if moving:
        return Statement(
            f"LOCK TABLE ONLY {qualified(parent, schema)} IN ACCESS EXCLUSIVE MODE",
            f"ACCESS EXCLUSIVE on {parent}",
            f"reads and writes of {parent} wait here until COMMIT, then see the moved rows in "
            f"the new partition (planned earlier, they would look for them in {default} only, "
            "after they left it); roll's --max-move-rows bounds the rows moved meanwhile",
            holds_writers=True,
        )
    return Statement(
        f"LOCK TABLE ONLY {qualified(parent, schema)} IN SHARE ROW EXCLUSIVE MODE",
        f"SHARE ROW EXCLUSIVE on {parent}",
        f"writes to {parent} wait here until COMMIT and then route to the new partition "
        f"(an insert already routed to {default} would fail after the ATTACH); reads go on",
        holds_writers=True,
    )


def attach_default_partition(parent: str, child: str, schema: str | None = None) -> Statement:
    return Statement(
        f"ALTER TABLE {qualified(parent, schema)} ATTACH PARTITION "
        f"{qualified(child, schema)} DEFAULT",
        f"SHARE UPDATE EXCLUSIVE on {parent}, ACCESS EXCLUSIVE on {child}",
        f"reads and writes of {parent} continue; the new DEFAULT partition is empty",
    )


def detach_partition(
    parent: str,
    child: str,
    schema: str | None = None,
    *,
    concurrently: bool = False,
    default: str | None = None,
) -> Statement:
    if concurrently:
        return Statement(
            f"ALTER TABLE {qualified(parent, schema)} DETACH PARTITION "
            f"{qualified(child, schema)} CONCURRENTLY",
            f"SHARE UPDATE EXCLUSIVE on {parent}, ACCESS EXCLUSIVE on {child}",
            f"reads and writes of {parent} continue, {child} (expired) is locked briefly; "
            "PostgreSQL runs it outside a transaction, and a rerun after an interruption "
            "finishes it (DETACH … FINALIZE)",
            transactional=False,
            squawk_ignore=("prefer-robust-stmts",),
        )
    if default:
        return Statement(
            f"ALTER TABLE {qualified(parent, schema)} DETACH PARTITION {qualified(child, schema)}",
            f"ACCESS EXCLUSIVE on {parent} and {child} and {default}",
            f"brief; CONCURRENTLY is refused while {default} (a DEFAULT partition) exists, and "
            "lock_timeout bounds the wait so the queue behind it stays short",
            squawk_ignore=("require-concurrent-partition-detach",),
            facts=(default_fact(parent, default),),
        )
    return Statement(
        f"ALTER TABLE {qualified(parent, schema)} DETACH PARTITION {qualified(child, schema)}",
        f"ACCESS EXCLUSIVE on {parent} and {child}",
        "brief; lock_timeout bounds the wait, so the queue behind it stays short",
    )


def drop_archive_foreign_keys(child: str, schema: str | None = None) -> Statement:
    """A detached partition keeps the foreign keys it inherited: the rows it references could
    no longer be deleted (or, ``ON DELETE CASCADE``, would delete archived rows), and a
    downgrade that drops those tables would stop. They go, once the table is no partition
    any more (a detach still pending leaves them). A key that references a partitioned
    table has a clone per referenced partition (``conparentid`` set): dropping the key
    drops its clones, so only the keys themselves are dropped."""
    reg = string_literal(qualified(child, schema))
    return Statement(
        do_block(
            "  FOR fk IN SELECT c.conname FROM pg_catalog.pg_constraint c\n"
            f"             WHERE c.conrelid = pg_catalog.to_regclass({reg}) AND c.contype = 'f'\n"
            "               AND c.conparentid = 0\n"
            "               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i "
            "WHERE i.inhrelid = c.conrelid) LOOP\n"
            "    EXECUTE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I', "
            f"{reg}, fk.conname);\n"
            "  END LOOP;\n",
            "  fk record;\n",
        ),
        f"ACCESS EXCLUSIVE on {child} and on each table its foreign keys reference",
        f"brief: {child} is an archive nobody writes; readers and writers of the referenced "
        "tables wait at most lock_timeout for it",
    )


def unless_attached(
    parent: str, child: str, schema: str | None, statements: list[Statement]
) -> Statement:
    """``statements`` (creating and attaching ``child``), skipped when ``child`` is already
    a partition of ``parent``, e.g. because ``roll`` made it since the migration was
    written. A table of that name that is not one (an archive, someone's table) is never
    taken: the period is skipped with a warning, as ``roll`` refuses it."""
    name = string_literal(qualified(child, schema))
    attached = (
        f"EXISTS (SELECT 1 FROM pg_inherits WHERE inhparent = {regclass(parent, schema)} "
        f"AND inhrelid = pg_catalog.to_regclass({name}))"
    )
    taken = f"pg_catalog.to_regclass({name}) IS NOT NULL"
    skip = (
        f"    RAISE WARNING 'sqla-partition: % exists and is not a partition of %: its period "
        "is left without a partition (an archive: sqla-partition reattach puts it back)', "
        f"{name}, {string_literal(qualified(parent, schema))};\n"
    )
    body = "".join(f"    {stmt.sql};\n" for stmt in statements)
    return Statement(
        do_block(
            f"  IF {attached} THEN\n    NULL;\n  ELSIF {taken} THEN\n{skip}  ELSE\n"
            f"{body}  END IF;\n"
        ),
        "; ".join(dict.fromkeys(stmt.lock for stmt in statements)),
        f"makes and attaches {child} as op.create_range_partition does (the parent held while "
        f"rows move out of a DEFAULT partition), unless {child} is a partition already",
    )


def detach_finalize(parent: str, child: str, schema: str | None = None) -> Statement:
    return Statement(
        f"ALTER TABLE {qualified(parent, schema)} DETACH PARTITION {qualified(child, schema)} "
        "FINALIZE",
        f"SHARE UPDATE EXCLUSIVE on {parent}, ACCESS EXCLUSIVE on {child}",
        "finishes a detach that was interrupted; reads and writes continue",
        transactional=False,
        squawk_ignore=("prefer-robust-stmts",),
    )


#: Why an old hash partition is dropped by a rebuild.
REBUILT = "its rows were copied into the rebuilt partitions just above, in this transaction"

#: Why a list partition whose rows went back to the DEFAULT partition is dropped.
EMPTIED_BACK_TO_DEFAULT = (
    "its rows went back to the DEFAULT partition just above: the table is empty and no "
    "longer a partition"
)


def drop_table(
    name: str, schema: str | None = None, *, cascade: bool = False, why: str | None = None
) -> Statement:
    return Statement(
        f"DROP TABLE IF EXISTS {qualified(name, schema)}{' CASCADE' if cascade else ''}",
        f"ACCESS EXCLUSIVE on {name}",
        why
        or "the table is no longer a partition and the policy (on_expire='drop') or the "
        "migration asks for its rows to go",
        squawk_ignore=("ban-drop-table",),
    )


def drop_partitioned_table(name: str, schema: str | None = None) -> Statement:
    return Statement(
        f"DROP TABLE IF EXISTS {qualified(name, schema)}",
        f"ACCESS EXCLUSIVE on {name} and every partition",
        "removes the table and all its partitions with their data, as the migration asks",
        squawk_ignore=("ban-drop-table",),
    )


#: Where rows wait, within one transaction, for a partition partitioned in turn to be
#: attached before its own partitions are made (see :func:`hold_rows`).
HOLDING = "sqlp_moving"


def hold_rows(
    parent: str,
    default: str,
    where: str,
    schema: str | None,
    columns: tuple[str, ...] | None = None,
) -> list[Statement]:
    """Rows of a new partition that is partitioned in turn, taken out of the DEFAULT into a
    temporary table of this transaction. PostgreSQL 17 and later give an identity column to
    the partitions of a partition only when they are made after it is attached (made
    before, a later DETACH fails: "is not an identity column"); attached first, the new
    partition must be empty of them, so they wait here, under the parent's lock."""
    head = f"WITH moved AS (DELETE FROM {qualified(default, schema)} WHERE {where} RETURNING *)"
    return [
        Statement(
            f"CREATE TEMP TABLE {HOLDING} (LIKE {qualified(parent, schema)}) ON COMMIT DROP",
            f"ACCESS SHARE on {parent}",
            "this transaction's own table; it goes at COMMIT",
            squawk_ignore=("prefer-robust-stmts",),
        ),
        Statement(
            (
                f"{head} {insert_moved(HOLDING, 'pg_temp', columns)}"
                if columns
                else insert_by_name(head, HOLDING, "pg_temp")
            ),
            f"ROW EXCLUSIVE on {default}",
            "under the parent's lock: the rows are out of nobody's sight before COMMIT",
            moves_rows=True,
        ),
    ]


def release_rows(child: str, schema: str | None) -> list[Statement]:
    """The held rows into the new partition, now attached and partitioned."""
    return [
        Statement(
            insert_by_name("", child, schema, f"pg_temp.{HOLDING}"),
            f"ROW EXCLUSIVE on {child}",
            "the rows taken out of the DEFAULT above, in the same transaction",
        ),
        Statement(
            f"DROP TABLE pg_temp.{HOLDING}",
            "no table lock",
            "this transaction's own table",
            squawk_ignore=("ban-drop-table",),
        ),
    ]
