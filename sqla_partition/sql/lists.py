"""List partitions: bounds, attaching beside a DEFAULT, and re-attaching with more values."""

from __future__ import annotations

from collections.abc import Sequence

from .partitions import create_like, create_partition_of
from .plpgsql import do_block
from .quoting import ident, qualified, string_literal
from .record import RECORD_TABLE, record_table
from .roll import default_fact, insert_by_name
from .statement import Statement

#: Spares ATTACH the scan of a list partition whose values grow (dropped right after).
LIST_CHECK = "sqlp_list_bound"

ListValue = str | int | bool | None


def value_literal(value: ListValue) -> str:
    """A listed value as SQL: PostgreSQL casts it to the key column's type."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(int(value))
    return string_literal(value)


def list_bound(values: Sequence[ListValue]) -> str:
    return f"FOR VALUES IN ({', '.join(value_literal(v) for v in values)})"


def list_condition(column: str, values: Sequence[ListValue]) -> str:
    """Rows whose key is one of ``values`` (``IN`` never matches NULL: said apart)."""
    col = ident(column)
    known = [value_literal(v) for v in values if v is not None]
    parts = [f"{col} IN ({', '.join(known)})"] if known else []
    if any(v is None for v in values):
        parts.append(f"{col} IS NULL")
    return " OR ".join(parts) if len(parts) < 2 else f"({' OR '.join(parts)})"


def create_list_partition_of(
    parent: str,
    child: str,
    values: Sequence[ListValue],
    schema: str | None,
    sub: tuple[str, str] | None = None,
) -> Statement:
    """``sub``: ``(strategy, column)`` of a list partition partitioned in turn."""
    strategy, column = sub or ("hash", None)
    return create_partition_of(
        parent, child, list_bound(values), schema, hash_column=column, sub_strategy=strategy
    )


def move_list_rows(
    default: str, target: str, column: str, values: Sequence[ListValue], schema: str | None
) -> Statement:
    head = (
        f"WITH moved AS (DELETE FROM {qualified(default, schema)} "
        f"WHERE {list_condition(column, values)} RETURNING *)"
    )
    return Statement(
        insert_by_name(head, target, schema),
        f"ROW EXCLUSIVE on {default} and {target}",
        f"under the parent's lock above: the rows of these values leave {default} for their "
        "partition in this transaction, never seen in both or in neither",
    )


def attach_list_partition(
    parent: str,
    child: str,
    values: Sequence[ListValue],
    schema: str | None = None,
    default: str | None = None,
    *,
    shrunk: bool = False,
) -> Statement:
    lock = f"SHARE UPDATE EXCLUSIVE on {parent}, ACCESS EXCLUSIVE on {child}"
    why = f"{child} is not in use yet: its scan reads only rows just moved in, or a CHECK spares it"
    if shrunk:
        why = f"{child} is read once, under the lock above, to prove its rows fit the smaller bound"
    if default:
        lock += f" and {default}"
        why += f"; {default} is scanned for rows of these values, moved out just above"
    return Statement(
        f"ALTER TABLE {qualified(parent, schema)} ATTACH PARTITION {qualified(child, schema)} "
        f"{list_bound(values)}",
        lock,
        why,
        facts=(default_fact(parent, default),) if default else (),
    )


def list_child_or_archive(
    parent: str, child: str, schema: str | None, sub: tuple[str, str] | None = None
) -> Statement:
    """The new partition's table: its own archive, when the record says ``child`` is a
    partition of ``parent`` that a change took away (a downgrade puts it back, rows and
    all) and it is still the parent owner's; otherwise a new table. A table that merely has
    the name (another role's, made since) stops the step."""
    schema_expr = string_literal(schema) if schema else "current_schema()"
    name = string_literal(qualified(child, schema))
    owner = "(SELECT c.relowner FROM pg_class AS c WHERE c.oid = to_regclass({}))"
    sub_column, strategy = (sub[1], sub[0]) if sub else (None, "hash")
    body = (
        f"  IF to_regclass({name}) IS NULL OR NOT EXISTS (\n"
        f"      SELECT 1 FROM {record_table()} AS r\n"
        f"       WHERE r.partition_schema = {schema_expr} AND r.partition_name = "
        f"{string_literal(child)}\n"
        f"         AND r.schema_name = {schema_expr} AND r.table_name = {string_literal(parent)}\n"
        "         AND r.state = 'detached')\n"
        f"     OR {owner.format(name)}\n"
        f"        IS DISTINCT FROM {owner.format(string_literal(qualified(parent, schema)))} THEN\n"
        f"    {create_like(parent, child, schema, sub_column, strategy)};\n"
        "  END IF;\n"
    )
    return Statement(
        do_block(body),
        f"ACCESS SHARE on {parent} and {RECORD_TABLE}",
        "only reads the parent's definition; a recorded archive of this partition is taken "
        "back as it is (ATTACH then reads it once, under the lock below)",
    )


def _each_leaf(child: str, schema: str | None, command: str) -> str:
    """A DO block running ``command`` (a ``format`` template, ``%s`` the leaf) on every
    leaf of ``child``: the table itself, or the partitions of a partitioned one."""
    target = string_literal(qualified(child, schema))
    return do_block(
        f"  FOR leaf IN SELECT relid FROM pg_partition_tree({target}::regclass) "
        "WHERE isleaf LOOP\n"
        f"    EXECUTE format({string_literal(command)}, leaf);\n"
        "  END LOOP;\n",
        "  leaf regclass;\n",
    )


def add_list_check(
    child: str, column: str, values: Sequence[ListValue], schema: str | None
) -> list[Statement]:
    """A CHECK for the partition's coming bound on each of its leaves, added without a
    scan and validated while reads and writes go on: the re-attach below then skips its
    scan (for a partitioned list partition, PostgreSQL looks at each leaf's CHECKs)."""
    cond = list_condition(column, values)
    if not any(v is None for v in values):
        cond = f"{ident(column)} IS NOT NULL AND {cond}"
    name = ident(LIST_CHECK)
    add = f"ALTER TABLE %s ADD CONSTRAINT {name} CHECK ({cond}) NOT VALID".replace("%", "%%")
    add = add.replace("%%s ADD", "%s ADD", 1)
    return [
        drop_list_check(child, schema),  # one an interrupted run left
        Statement(
            _each_leaf(child, schema, add),
            f"ACCESS EXCLUSIVE on {child} (each of its leaves, when partitioned)",
            "brief: NOT VALID reads no row; a re-run drops it first (just above)",
        ),
        Statement(
            _each_leaf(child, schema, f"ALTER TABLE %s VALIDATE CONSTRAINT {name}"),
            f"SHARE UPDATE EXCLUSIVE on {child} (each of its leaves, when partitioned)",
            "scans the partition while its reads and writes go on",
        ),
    ]


def drop_list_check(child: str, schema: str | None) -> Statement:
    return Statement(
        _each_leaf(child, schema, f"ALTER TABLE %s DROP CONSTRAINT IF EXISTS {ident(LIST_CHECK)}"),
        f"ACCESS EXCLUSIVE on {child} (each of its leaves, when partitioned)",
        "brief; the partition's bound says the same, or it is not added yet",
    )


def default_values_query(default: str, column: str, schema: str | None, limit: int = 20) -> str:
    """The values found in a list table's DEFAULT partition, the most rows first."""
    col = ident(column)
    return (
        f"SELECT {col}::text, count(*) FROM {qualified(default, schema)} "
        f"GROUP BY {col} ORDER BY count(*) DESC, {col}::text LIMIT {int(limit)}"
    )
