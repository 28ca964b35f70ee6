"""Splitting a hash partition online: copy while a trigger logs written keys, verify,
swap in one short transaction."""

from __future__ import annotations

from dataclasses import dataclass

from .names import digest as name_digest
from .partitions import hash_bound
from .plpgsql import RETRY_VARS, do_block, retrying
from .quoting import ident, qualified, regclass, string_literal
from .record import RECORD_TABLE
from .statement import Statement

#: The CHECK that proves a split table's rows belong to its new remainder, so ATTACH
#: skips its scan, and the trigger that records the keys written to the old partition.
HASH_CHECK = "sqla_partition_hash"
SPLIT_TRIGGER = "sqla_partition_split"
#: Marks the old partition once the swap has detached it: only a table so marked is dropped.
RETIRED_MARK = "sqla-partition: split and verified"
#: Keys taken from the log per transaction while applying it.
APPLY_BATCH = 10_000


@dataclass(frozen=True)
class SplitTarget:
    remainder: int
    #: The table is built under this name; ``final`` differs only when the old partition
    #: still holds the final name, and the swap renames it.
    build: str
    final: str
    #: Range splits: the rows of this target (``{row}`` before each column name) and its
    #: ``FOR VALUES`` clause; hash splits derive both from the remainder.
    where: str | None = None
    bound: str | None = None


@dataclass(frozen=True)
class HashSplit:
    """Everything the statements splitting one hash partition need."""

    parent: str
    schema: str | None
    column: str
    columns: tuple[str, ...]
    primary_key: tuple[str, ...]
    child: str
    modulus: int
    remainder: int
    new_modulus: int
    targets: tuple[SplitTarget, ...]
    retired: str
    lock_timeout_ms: int = 5000
    retries: int = 5
    batch_blocks: int = 256
    #: ``h``: a hash partition split in its new remainders; ``r``: a range partition (the
    #: legacy partition of a converted table) split in periods.
    strategy: str = "h"
    #: The record's rows for the swap (see :mod:`sql.record`): the split tables are the
    #: tool's from the moment they are attached, in the swap's own transaction.
    records: tuple[str, ...] = ()

    def q(self, name: str) -> str:
        return qualified(name, self.schema)

    @property
    def log(self) -> str:
        """The trigger function and the key log share this name (different namespaces)."""
        digest = name_digest(self.q(self.child), 12)
        return f"{SPLIT_TRIGGER}_{digest}"

    def names(self) -> list[str]:
        return [self.retired, *(t.build for t in self.targets), *(t.final for t in self.targets)]


def _hash_bound_text(modulus: int, remainder: int) -> str:
    """The bound as ``pg_get_expr`` prints it."""
    return f"FOR VALUES WITH (modulus {int(modulus)}, remainder {int(remainder)})"


def _belongs(s: HashSplit, t: SplitTarget, row: str = "") -> str:
    if t.where is not None:
        return t.where.replace("{row}", row)
    return (
        f"satisfies_hash_partition({regclass(s.parent, s.schema)}, {int(s.new_modulus)}, "
        f"{int(t.remainder)}, {row}{ident(s.column)})"
    )


def _attached(s: HashSplit, bound: str | None, child: str | None = None) -> str:
    """SQL: the parent has a partition with ``bound`` (named ``child``, if given)."""
    named = f"AND c.oid = to_regclass({string_literal(s.q(child))}) " if child else ""
    bounded = f"AND pg_get_expr(c.relpartbound, c.oid) = {string_literal(bound)}" if bound else ""
    return (
        "EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        f"WHERE i.inhparent = {regclass(s.parent, s.schema)} {named}{bounded})"
    )


def _where_we_stand(s: HashSplit) -> str:
    """Go on while the old partition is attached; stop quietly once the split is done;
    refuse anything else (a renamed partition, a different layout)."""
    if s.strategy == "r":  # by name: range bounds print in the session's time zone
        todo = _attached(s, None, s.child)
        done = " AND ".join(_attached(s, None, t.final) for t in s.targets)
    else:
        todo = _attached(s, _hash_bound_text(s.modulus, s.remainder), s.child)
        done = " AND ".join(
            _attached(s, _hash_bound_text(s.new_modulus, t.remainder)) for t in s.targets
        )
    return (
        f"  IF NOT {todo} THEN\n"
        f"    IF {done} THEN\n      RETURN;  -- split already\n    END IF;\n"
        "    RAISE EXCEPTION 'sqla-partition: % has no partition % for remainder % of % and "
        "none for its split; the table is not as this migration expects, nothing was "
        f"changed', {string_literal(s.q(s.parent))}, {string_literal(s.child)}, "
        f"{int(s.remainder)}, {int(s.modulus)};\n"
        "  END IF;\n"
    )


def _cols(names: tuple[str, ...], prefix: str = "") -> str:
    return ", ".join(f"{prefix}{ident(c)}" for c in names)


def _same_key(s: HashSplit, left: str, right: str) -> str:
    return f"({_cols(s.primary_key, left + '.')}) = ({_cols(s.primary_key, right + '.')})"


def split_trigger_function(s: HashSplit) -> Statement:
    """Records the key of every row written to the old partition, whatever the writer's
    isolation level (an insert never conflicts); the log is applied by later steps.

    It runs as the table's owner in the writers' sessions, so it names the key log through
    a search_path pinned to the table's schema, then ``pg_catalog``, then ``pg_temp`` last:
    a writer's temporary table of the log's name is never the one written (searched first,
    as ``FROM CURRENT`` would leave it, it ran the writer's own triggers as the owner)."""
    body = (
        "BEGIN\n"
        "  IF TG_OP <> 'INSERT' THEN\n"
        f"    INSERT INTO {ident(s.log)} VALUES ({_cols(s.primary_key, 'OLD.')});\n"
        "  END IF;\n"
        "  IF TG_OP <> 'DELETE' THEN\n"
        f"    INSERT INTO {ident(s.log)} VALUES ({_cols(s.primary_key, 'NEW.')});\n"
        "  END IF;\n"
        "  RETURN NULL;\n"
        "END"
    )
    schema = string_literal(s.schema) if s.schema else "pg_catalog.current_schema()"
    name = string_literal(s.log)
    return Statement(
        do_block(
            f"  sch := {schema};\n"
            "  EXECUTE pg_catalog.format('CREATE OR REPLACE FUNCTION %I.%I() RETURNS trigger "
            "LANGUAGE plpgsql SECURITY DEFINER SET search_path = %I, pg_catalog, pg_temp "
            f"AS %L', sch, {name}, sch, {string_literal(body)});\n"
            "  EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %I.%I() FROM PUBLIC', sch, "
            f"{name});\n",
            "  sch text;\n",
        ),
        "no table lock",
        f"the trigger below calls it for every write to {s.child} until the swap, as the "
        "table's owner: writers need no right on the key log, and no other role has one; "
        "its search_path is the table's schema, pg_catalog and pg_temp last",
    )


def _refuse_drift(s: HashSplit) -> str:
    parent = regclass(s.parent, s.schema)
    expected = ", ".join(string_literal(c) for c in sorted(s.columns))
    key = ", ".join(string_literal(c) for c in sorted(s.primary_key))
    return (
        "  IF (SELECT array_agg(a.attname::text ORDER BY a.attname::text) FROM pg_attribute a "
        f"WHERE a.attrelid = {parent} AND a.attnum > 0 "
        "AND NOT a.attisdropped AND a.attgenerated = '') "
        f"IS DISTINCT FROM ARRAY[{expected}]::text[]\n"
        "     OR (SELECT array_agg(a.attname::text ORDER BY a.attname::text) FROM pg_index x "
        "JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = ANY (x.indkey) "
        f"WHERE x.indrelid = {parent} AND x.indisprimary) IS DISTINCT FROM ARRAY[{key}]::text[]\n"
        "     OR (SELECT a.attname::text FROM pg_partitioned_table p JOIN pg_attribute a "
        "ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0] "
        f"WHERE p.partrelid = {parent} AND p.partstrat = {string_literal(s.strategy)}) "
        f"IS DISTINCT FROM {string_literal(s.column)} THEN\n"
        "    RAISE EXCEPTION 'sqla-partition: the columns, primary key or hash key of % differ "
        "from the ones this migration expects (%; primary key %; hash key %); nothing was "
        f"changed, generate the migration again', {string_literal(s.q(s.parent))}, "
        f"{string_literal(', '.join(s.columns))}, {string_literal(', '.join(s.primary_key))}, "
        f"{string_literal(s.column)};\n"
        "  END IF;\n"
        "  IF EXISTS (SELECT 1 FROM pg_constraint WHERE contype = 'f' "
        f"AND confrelid = {parent}) THEN\n"
        "    RAISE EXCEPTION 'sqla-partition: % is referenced by a foreign key; a partition "
        "holding referenced rows cannot be detached, so it cannot be split online', "
        f"{string_literal(s.q(s.parent))};\n"
        "  END IF;\n"
    )


def _has_trigger(s: HashSplit) -> str:
    return (
        f"EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = {regclass(s.child, s.schema)} "
        f"AND tgname = {string_literal(SPLIT_TRIGGER)})"
    )


def split_prepare(s: HashSplit) -> Statement:
    """The split tables with their CHECKs and foreign keys, the key log, and the trigger.

    Foreign keys are added while the tables are empty, so ATTACH finds them valid instead
    of validating them under the parent's lock. Tables of the split's names that exist
    without its trigger are someone else's: refused rather than reused.
    """
    builds = [string_literal(s.q(t.build)) for t in s.targets] + [string_literal(s.q(s.log))]
    lines = [
        f"IF NOT {_has_trigger(s)} AND EXISTS (SELECT 1 FROM unnest(ARRAY[{', '.join(builds)}]) "
        "AS b(name) WHERE to_regclass(b.name) IS NOT NULL) THEN\n"
        "  RAISE EXCEPTION 'sqla-partition: a table named like a split table of % exists "
        f"(one of %) but no split is in progress; rename or drop it', "
        f"{string_literal(s.child)}, {string_literal(', '.join(t.build for t in s.targets))};\n"
        "END IF;\n",
        f"CREATE TABLE IF NOT EXISTS {s.q(s.log)} AS SELECT {_cols(s.primary_key)} "
        f"FROM ONLY {s.q(s.parent)} WITH NO DATA;\n",
    ]
    for t in s.targets:
        reg = regclass(t.build, s.schema)
        lines.append(
            f"CREATE TABLE IF NOT EXISTS {s.q(t.build)} (LIKE {s.q(s.parent)} "
            "INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES INCLUDING STORAGE "
            "INCLUDING COMMENTS INCLUDING GENERATED);\n"
            "IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = "
            f"{reg} AND conname = {string_literal(HASH_CHECK)}) THEN\n"
            f"  ALTER TABLE {s.q(t.build)} ADD CONSTRAINT {ident(HASH_CHECK)} "
            f"CHECK ({_belongs(s, t)});\n"
            "END IF;\n"
            "FOR fk IN SELECT c.conname, pg_get_constraintdef(c.oid) AS def FROM pg_constraint c "
            f"WHERE c.conrelid = {regclass(s.parent, s.schema)} AND c.contype = 'f' "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint x "
            f"WHERE x.conrelid = {reg} AND x.conname = c.conname) LOOP\n"
            f"  EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', "
            f"{string_literal(s.q(t.build))}, fk.conname, fk.def);\n"
            "END LOOP;\n"
        )
    lines.append(
        f"IF NOT {_has_trigger(s)} THEN\n"
        f"  CREATE TRIGGER {ident(SPLIT_TRIGGER)} AFTER INSERT OR UPDATE OR DELETE ON "
        f"{s.q(s.child)} FOR EACH ROW EXECUTE FUNCTION {s.q(s.log)}();\n"
        "  -- also for writers with session_replication_role = replica (replication, loaders)\n"
        f"  ALTER TABLE {s.q(s.child)} ENABLE ALWAYS TRIGGER {ident(SPLIT_TRIGGER)};\n"
        "END IF;"
    )
    body = _where_we_stand(s) + _refuse_drift(s) + retrying(s, "".join(lines))
    names = ", ".join(t.build for t in s.targets)
    return Statement(
        do_block(body, RETRY_VARS + "  fk record;\n"),
        f"SHARE ROW EXCLUSIVE on {s.child} (the trigger) and on tables its foreign keys "
        f"reference, ACCESS SHARE on {s.parent}",
        f"{names} are new and unused; creating the trigger waits for writes to {s.child} in "
        "flight and holds writers back for a moment, bounded by lock_timeout and retried",
    )


def split_copy(s: HashSplit) -> Statement:
    """Copy the old partition's rows in batches of blocks, one transaction each."""
    lo, hi = "('(' || lo || ',0)')::tid", f"('(' || (lo + {int(s.batch_blocks)}) || ',0)')::tid"
    inserts = "\n".join(
        f"INSERT INTO {s.q(t.build)} ({_cols(s.columns)}) SELECT {_cols(s.columns)} "
        f"FROM ONLY {s.q(s.child)} WHERE ctid >= {lo} AND ctid < {hi} "
        f"AND {_belongs(s, t)} ON CONFLICT DO NOTHING;"
        for t in s.targets
    )
    body = (
        _where_we_stand(s) + f"  last_block := pg_relation_size({regclass(s.child, s.schema)}) "
        "/ current_setting('block_size')::bigint;\n"
        "  WHILE lo <= last_block LOOP\n"
        + retrying(s, inserts, "    ")
        + f"    lo := lo + {int(s.batch_blocks)};\n"
        "    COMMIT;\n  END LOOP;\n"
        "  RAISE NOTICE 'sqla-partition: copied % into %', "
        f"{string_literal(s.child)}, {string_literal(', '.join(t.build for t in s.targets))};\n"
    )
    return Statement(
        do_block(body, "  lo bigint := 0;\n  last_block bigint;\n" + RETRY_VARS),
        f"ACCESS SHARE on {s.child}",
        "reads and writes continue; a row written meanwhile has its key in the log and is "
        "copied again from its latest version below; rows already copied are skipped, so a "
        "rerun resumes",
        transactional=False,
    )


def _apply_log(s: HashSplit, *, commit: bool) -> str:
    """Bring the keys in the log up to date from the old partition (latest committed rows).

    The keys of a pass are analyzed before they are joined: a temporary table the planner
    knows nothing of looks tiny, and a nested loop would scan the whole old partition once
    per key. With ``commit`` (outside the swap's lock, writers at work) a pass that finds
    less than a full batch ends the loop: waiting for an empty log could wait for ever
    behind a steady writer, and what was written meanwhile is applied by the next pass or
    under the swap's lock."""
    keys = "pg_temp.sqla_partition_keys"
    deletes = "".join(
        f"  DELETE FROM {s.q(t.build)} AS t USING {keys} AS k WHERE {_same_key(s, 't', 'k')};\n"
        for t in s.targets
    )
    inserts = "".join(
        f"  INSERT INTO {s.q(t.build)} ({_cols(s.columns)}) SELECT {_cols(s.columns, 'c.')} "
        f"FROM ONLY {s.q(s.child)} AS c JOIN {keys} AS k ON {_same_key(s, 'c', 'k')} "
        f"WHERE {_belongs(s, t, 'c.')};\n"
        for t in s.targets
    )
    return (
        f"CREATE TEMP TABLE IF NOT EXISTS sqla_partition_keys (LIKE {s.q(s.log)});\n"
        "LOOP\n"
        f"  TRUNCATE {keys};\n"
        f"  WITH taken AS (DELETE FROM {s.q(s.log)} WHERE ctid = ANY (ARRAY(SELECT ctid FROM "
        f"{s.q(s.log)} LIMIT {APPLY_BATCH})) RETURNING *),\n"
        f"       kept AS (INSERT INTO {keys} SELECT DISTINCT * FROM taken)\n"
        "  SELECT count(*) INTO n FROM taken;  -- log entries, not keys: a hot key repeats\n"
        "  EXIT WHEN n = 0;\n"
        "  applied := applied + n;\n"
        f"  ANALYZE {keys};\n"
        f"{deletes}{inserts}"
        + (f"  COMMIT;\n  EXIT WHEN n < {APPLY_BATCH};\n" if commit else "")
        + "END LOOP;\n"
    )


def split_catch_up(s: HashSplit) -> Statement:
    """Apply the log until a pass finds less than a batch, then verify the copy (one
    snapshot, no lock; keys still in the log are left out on both sides)."""
    olds = (
        f"FROM ONLY {s.q(s.child)} AS c WHERE NOT EXISTS "
        f"(SELECT 1 FROM {s.q(s.log)} AS k WHERE {_same_key(s, 'c', 'k')})"
    )
    news = [
        f"FROM {s.q(t.build)} AS c WHERE NOT EXISTS "
        f"(SELECT 1 FROM {s.q(s.log)} AS k WHERE {_same_key(s, 'c', 'k')})"
        for t in s.targets
    ]
    digest = f"coalesce(sum(hashtext(ROW({_cols(s.columns, 'c.')})::text)), 0)"
    body = (
        _where_we_stand(s)
        + "".join(f"  {line}\n" for line in _apply_log(s, commit=True).strip("\n").split("\n"))
        + "  -- keys still in the log are written again under the swap's lock; others must match\n"
        f"  SELECT (SELECT count(*) {olds}), "
        + " + ".join(f"(SELECT count(*) {n})" for n in news)
        + f",\n         (SELECT {digest} {olds}), "
        + " + ".join(f"(SELECT {digest} {n})" for n in news)
        + "\n    INTO old_rows, new_rows, old_sum, new_sum;\n"
        "  IF old_rows <> new_rows OR old_sum <> new_sum THEN\n"
        "    RAISE EXCEPTION 'sqla-partition: % holds % rows but its split tables % (or their "
        "contents differ); nothing was swapped. Run the migration again: it copies what is "
        f"missing', {string_literal(s.child)}, old_rows, new_rows;\n"
        "  END IF;\n"
        "  RAISE NOTICE 'sqla-partition: verified % rows of % in %', old_rows, "
        f"{string_literal(s.child)}, {string_literal(', '.join(t.build for t in s.targets))};\n"
    )
    declare = (
        "  n bigint;\n  applied bigint := 0;\n  old_rows bigint;\n  new_rows bigint;\n"
        "  old_sum bigint;\n  new_sum bigint;\n"
    )
    return Statement(
        do_block(body, declare),
        f"ROW EXCLUSIVE on {' and '.join([*(t.build for t in s.targets), s.log])}, "
        f"ACCESS SHARE on {s.child}",
        "reads and writes continue; the rows written since the copy are copied again from "
        "their latest version, in short transactions, then counts and a checksum are "
        "compared in one snapshot",
        transactional=False,
    )


def split_swap(s: HashSplit) -> Statement:
    """Detach the old partition, write the last logged keys, attach the split tables."""
    swap = [
        f"ALTER TABLE {s.q(s.parent)} DETACH PARTITION {s.q(s.child)};",
        *_apply_log(s, commit=False).strip("\n").split("\n"),
        f"DROP TRIGGER {ident(SPLIT_TRIGGER)} ON {s.q(s.child)};",
        f"ALTER TABLE {s.q(s.child)} RENAME TO {ident(s.retired)};",
        f"COMMENT ON TABLE {s.q(s.retired)} IS {string_literal(RETIRED_MARK)};",
    ]
    for t in s.targets:
        if t.build != t.final:
            swap.append(f"ALTER TABLE {s.q(t.build)} RENAME TO {ident(t.final)};")
        swap.append(
            f"ALTER TABLE {s.q(s.parent)} ATTACH PARTITION {s.q(t.final)} "
            f"{t.bound or hash_bound(s.new_modulus, t.remainder)};"
        )
        swap.append(f"ALTER TABLE {s.q(t.final)} DROP CONSTRAINT {ident(HASH_CHECK)};")
    swap += [f"{record};" for record in s.records]
    finals = ", ".join(t.final for t in s.targets)
    names = [n for t in s.targets for n in (t.build, t.final)]
    body = (
        _where_we_stand(s)
        + "  -- first catch up once more, outside the lock, so that little is left for it\n"
        + "".join(f"  {line}\n" for line in _apply_log(s, commit=True).strip("\n").split("\n"))
        + retrying(s, "\n".join(swap))
        + "  RAISE NOTICE 'sqla-partition: split % into %; the swap held writers back for at "
        "most % ms, lock waits included, after % lock timeouts', "
        f"{string_literal(s.child)}, {string_literal(finals)}, "
        "round(extract(epoch FROM worst) * 1000), attempt;\n"
    )
    declare = RETRY_VARS + "  n bigint;\n  applied bigint := 0;\n"
    return Statement(
        do_block(body, declare),
        f"ACCESS EXCLUSIVE on {' and '.join(dict.fromkeys([s.parent, s.child, *names]))} "
        f"and on the tables its foreign keys reference, ROW EXCLUSIVE on {s.log}"
        + (f", ROW EXCLUSIVE on {RECORD_TABLE}" if s.records else ""),
        "brief: the detach, the keys written since the last catch-up, and attaches the CHECKs "
        "make scan-free (ATTACH replaces the split tables' foreign-key triggers on the "
        "referenced tables, hence their lock); each wait is bounded by lock_timeout and half "
        "of deadlock_timeout, and retried",
        transactional=False,
        squawk_ignore=("require-concurrent-partition-detach",),
    )


def split_cleanup(s: HashSplit) -> list[Statement]:
    """Drop the old partition (detached and marked by the swap), the log and the function."""
    retired = s.q(s.retired)
    return [
        Statement(
            do_block(
                f"  IF obj_description(to_regclass({string_literal(retired)}), 'pg_class') = "
                f"{string_literal(RETIRED_MARK)} AND NOT EXISTS "
                "(SELECT 1 FROM pg_inherits WHERE inhrelid = "
                f"to_regclass({string_literal(retired)})) THEN\n"
                f"    DROP TABLE {retired};\n"
                "  END IF;\n"
            ),
            f"ACCESS EXCLUSIVE on {s.retired}",
            f"{s.retired} is the old partition: its rows were verified in the split tables, "
            "and only a detached table the swap marked is dropped",
        ),
        Statement(
            f"DROP TABLE IF EXISTS {s.q(s.log)}",
            f"ACCESS EXCLUSIVE on {s.log}",
            "the split's key log, empty since the swap",
            squawk_ignore=("ban-drop-table",),
        ),
        Statement(
            f"DROP FUNCTION IF EXISTS {s.q(s.log)}()",
            "no table lock",
            "the split's own trigger function; its trigger went with the swap",
            squawk_ignore=("ban-drop-function",),
        ),
    ]


def split_finished(parent: str, schema: str | None, modulus: int) -> Statement:
    """Before recording the new count: every partition has the new modulus."""
    return Statement(
        do_block(
            "  IF (SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            f"WHERE i.inhparent = {regclass(parent, schema)} "
            f"AND pg_get_expr(c.relpartbound, c.oid) LIKE "
            f"{string_literal(f'FOR VALUES WITH (modulus {int(modulus)}, %')}) <> {int(modulus)} "
            "THEN\n"
            "    RAISE EXCEPTION 'sqla-partition: % does not have its % hash partitions yet; "
            "its recorded policy is left as it was, run the migration again', "
            f"{string_literal(qualified(parent, schema))}, {int(modulus)};\n"
            "  END IF;\n"
        ),
        "no table lock",
        "the policy below is recorded only once the split is complete",
    )
