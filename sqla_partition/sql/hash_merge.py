"""Rebuilding hash partitions in one transaction that holds the table.

Each new partition is built from the old ones whose rows it takes, then the old partitions
go and the new ones are attached. A merge (fewer partitions, the downgrade of a split)
has no online form in PostgreSQL (each old bound must be covered by one new bound before
the swap); a split inside a caller's transaction cannot commit between its steps. Either
way the table is held, ``ACCESS EXCLUSIVE``, while its rows are copied, and the lock
comment says so.
"""

from __future__ import annotations

from .partitions import create_like, hash_bound
from .plpgsql import do_block
from .quoting import ident, qualified, regclass, string_literal
from .roll import insertable_columns
from .statement import Statement


def refuse_referenced(parent: str, schema: str | None) -> Statement:
    """Rows other tables refer to cannot leave through a DETACH: say so before anything."""
    reg = regclass(parent, schema)
    return Statement(
        do_block(
            "  IF EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE contype = 'f' "
            f"AND confrelid = {reg}) THEN\n"
            "    RAISE EXCEPTION 'sqla-partition: % is referenced by a foreign key; its "
            "partitions cannot be detached to be rebuilt, so their number cannot change', "
            f"{string_literal(qualified(parent, schema))};\n"
            "  END IF;\n"
        ),
        "ACCESS SHARE on pg_constraint (a catalog read)",
        "the rebuild stops here, before anything changes, if another table refers to this one",
    )


def lock_for_merge(parent: str, schema: str | None) -> Statement:
    return Statement(
        f"LOCK TABLE {qualified(parent, schema)} IN ACCESS EXCLUSIVE MODE",
        f"ACCESS EXCLUSIVE on {parent}, until the rebuild commits",
        "the rebuild copies every row: readers and writers of the table wait for it (taken "
        "first, bounded by lock_timeout, so nothing else queues behind a half-done one)",
    )


def create_merge_table(parent: str, build: str, schema: str | None) -> Statement:
    return Statement(
        create_like(parent, build, schema),
        f"ACCESS EXCLUSIVE on {build} (new)",
        "the merged partition, built beside the table before it is attached",
    )


def copy_into(
    source: str,
    build: str,
    schema: str | None,
    only: tuple[str, str, int, int] | None = None,
) -> Statement:
    """The rows of ``source`` into ``build`` by the names of the columns an INSERT may give
    (stored generated ones are computed again), read when it runs; ``only``: ``(parent,
    key column, modulus, remainder)``, the rows of that hash bound alone."""
    target = string_literal(qualified(build, schema))
    origin = string_literal(qualified(source, schema))
    where = ""
    if only is not None:
        parent, column, modulus, remainder = only
        where = (
            f" WHERE pg_catalog.satisfies_hash_partition({regclass(parent, schema)}, "
            f"{int(modulus)}, {int(remainder)}, {ident(column)})"
        )
    body = insertable_columns(f"{target}::pg_catalog.regclass") + (
        "  EXECUTE pg_catalog.format('INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE "
        f"SELECT %s FROM %s%s', {target}::pg_catalog.regclass, cols, cols, "
        f"{origin}::pg_catalog.regclass, {string_literal(where)});\n"
    )
    return Statement(
        do_block(body, "  cols text;\n"),
        f"ACCESS SHARE on {source}, ROW EXCLUSIVE on {build}",
        "copies the partition's rows into the rebuilt one (the table is held meanwhile)",
    )


def rename_table(name: str, new_name: str, schema: str | None) -> Statement:
    return Statement(
        f"ALTER TABLE {qualified(name, schema)} RENAME TO {ident(new_name)}",
        f"ACCESS EXCLUSIVE on {name} (not a partition yet)",
        "the merged partition takes its final name, freed by the drops above",
    )


def attach_hash_partition(
    parent: str, child: str, modulus: int, remainder: int, schema: str | None
) -> Statement:
    return Statement(
        f"ALTER TABLE {qualified(parent, schema)} ATTACH PARTITION "
        f"{qualified(child, schema)} {hash_bound(modulus, remainder)}",
        f"ACCESS EXCLUSIVE on {parent} (held already) and on {child}",
        "attaches the merged partition; its scan reads the rows just copied, under the "
        "lock the merge holds anyway",
    )
