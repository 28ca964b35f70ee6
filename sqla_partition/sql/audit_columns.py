"""The audit columns: the trigger that keeps them, and what vouches for rows an update moves
between partitions."""

from __future__ import annotations

from .audit_actor import (
    ACTOR_CHECK,
    ACTOR_DECLARE,
    ACTOR_FUNCTION,
    check_audit_columns,
    columns_work,
    create_actor_function,
    create_actor_trigger,
    set_actor_defaults,
)
from .plpgsql import do_block, dollar_quote
from .policy import POLICY_SCHEMA, in_own_schema, tool_schema
from .quoting import ident, qualified, regclass, string_literal
from .statement import Statement

AUDIT_COLUMNS_FUNCTION = "sqla_partition_audit_columns"
AUDIT_TRIGGER = "sqla_partition_audit"
#: The second audit trigger of a partitioned table whose database owns the audit columns:
#: fired only by updates that change the partition key, it vouches for the moved rows.
MOVE_TRIGGER = "sqla_partition_audit_move"
#: Where the database owns the audit columns: fired after the columns trigger, by a WHEN
#: that lets through only rows whose values are not the database's own.
GUARD_TRIGGERS = ("sqla_partition_audit_guard_insert", "sqla_partition_audit_guard_update")
GUARD_FUNCTION = "sqla_partition_audit_guard"
MOVE_FUNCTION = "sqla_partition_audit_move"
MOVED_FUNCTION = "sqla_partition_audit_moved"
#: Fired after an update that changed a partition key: a digest its rows did not use (a
#: row that stayed in its partition) outlives no statement.
MOVE_END_TRIGGER = "sqla_partition_audit_move_end"
MOVE_END_FUNCTION = "sqla_partition_audit_move_end"
SECRET_TABLE = "sqla_partition_audit_secret"

#: Runs for every row an update writes, so it has no ``SET search_path``: that clause costs
#: a save and restore of the setting on each call, as much as the rest of the function.
#: Instead every function, operator and type is named with its schema, so that a session's
#: own search_path (a schema of its own before pg_catalog) can change no value it sets.
_AUDIT_COLUMNS_BODY = """@declare@@check@  IF TG_OP OPERATOR(pg_catalog.=) 'INSERT' THEN
    -- values the insert gives stay here: where the database owns the columns, the guard
    -- triggers after this one replace them (their WHEN finds them cheaply, in C)
    NEW.created_at := coalesce(NEW.created_at, pg_catalog.now());
    NEW.updated_at := coalesce(NEW.updated_at, NEW.created_at);
    IF TG_ARGV[2] OPERATOR(pg_catalog.=) 'who' THEN
      NEW.created_by := coalesce(NEW.created_by::pg_catalog.text, actor);
      NEW.updated_by := coalesce(NEW.updated_by::pg_catalog.text, actor,
                                 NEW.created_by::pg_catalog.text);
    END IF;
  ELSE
    NEW.updated_at := pg_catalog.now();
    IF TG_ARGV[2] OPERATOR(pg_catalog.=) 'who' THEN
      NEW.updated_by := actor;
    END IF;
  END IF;
  RETURN NEW;
END"""

#: Fired (after the columns trigger) only for rows whose audit values are not the
#: database's own: an insert that gave some, an update that changed a row's creation.
_GUARD_BODY = """DECLARE
  actor text := nullif(current_setting(TG_ARGV[0], true), '');
  giver text;
  row_key text;
BEGIN
  -- the table's owner, and its members, keep what they give: they could disable this
  IF pg_has_role((SELECT c.relowner FROM pg_class AS c WHERE c.oid = TG_RELID), 'MEMBER') THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'UPDATE' THEN  -- a row's creation is history
    NEW.created_at := OLD.created_at;
    IF TG_ARGV[2] = 'who' THEN
      NEW.created_by := OLD.created_by;
    END IF;
    RETURN NEW;
  END IF;
  IF TG_ARGV[2] = 'who' THEN
    giver := NEW.created_by::text;
  END IF;
@row_key@  IF @moved@(NEW.created_at::text, giver, row_key, pg_partition_root(TG_RELID)) THEN
    RETURN NEW;  -- a row an update moves here from another partition: its update vouched
  END IF;
  IF NEW.created_at IS DISTINCT FROM now() AND EXISTS (
      SELECT 1 FROM pg_partition_ancestors(TG_RELID) AS a
        JOIN pg_partitioned_table AS p ON p.partrelid = a.relid
        JOIN pg_attribute AS k ON k.attrelid = p.partrelid AND k.attname = 'created_at'
       WHERE k.attnum = ANY (p.partattrs::int2[])) THEN
    -- the row was routed by the value given: replacing it cannot move the row
    RAISE EXCEPTION 'sqla-partition: created_at of % is set by the database',
          pg_partition_root(TG_RELID)::regclass
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'leave created_at out of the INSERT (its default is now()); only the '
                   || 'table''s owner may give it, or the model may declare '
                   || 'Audit(trust_client=True)';
  END IF;
  NEW.created_at := now();
  NEW.updated_at := now();
  IF TG_ARGV[2] = 'who' THEN
    NEW.created_by := actor;
    NEW.updated_by := actor;
  END IF;
  RETURN NEW;
END"""

MOVE_SETTING = "sqla_partition.audit_moving"

#: What vouches for a row an update moves: a digest of its creation, its key and its table,
#: keyed by a secret only the functions' owner reads, in a setting of the transaction that
#: the end of the update clears (a client can set the setting, never to a digest that
#: matches).
_MOVE_DIGEST = (
    "md5((SELECT s.secret FROM @secret@ AS s LIMIT 1) || '|' || concat_ws('|', "
    "pg_current_xact_id(), pg_backend_pid(), statement_timestamp(), @rel@, @at@, @by@, "
    "@key@))"
)  # NULL without a secret: nothing is vouched for

#: Which row a digest is for: its primary key (the whole row but the audit columns, for a
#: table without one), so that an insert of another row cannot borrow it.
_ROW_KEY = """  SELECT string_agg(coalesce(to_jsonb(NEW) ->> a.attname, ''), '|' ORDER BY a.attnum)
    INTO row_key
    FROM pg_index AS i
    JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
   WHERE i.indrelid = TG_RELID AND i.indisprimary;
  IF row_key IS NULL THEN
    row_key := (to_jsonb(NEW) - 'created_at' - 'created_by' - 'updated_at' - 'updated_by')::text;
  END IF;
"""

_MOVE_PASS_BODY = (
    """DECLARE
  giver text;
  row_key text;
BEGIN
  IF TG_ARGV[0] = 'who' THEN
    giver := NEW.created_by::text;
  END IF;
"""
    + _ROW_KEY
    + """  PERFORM set_config('@setting@', @digest@, true);
  RETURN NEW;
END"""
).replace(
    "@digest@",
    _MOVE_DIGEST.replace("@at@", "NEW.created_at::text")
    .replace("@by@", "giver")
    .replace("@key@", "row_key")
    .replace("@rel@", "pg_partition_root(TG_RELID)::oid::text"),
)

_MOVE_END_BODY = """BEGIN
  PERFORM set_config('@setting@', '', true);
  RETURN NULL;
END"""

_MOVED_BODY = """DECLARE
  digest text := @digest@;
BEGIN
  IF digest IS NOT NULL AND current_setting('@setting@', true) = digest THEN
    PERFORM set_config('@setting@', '', true);  -- once
    RETURN true;
  END IF;
  RETURN false;
END""".replace(
    "@digest@",
    _MOVE_DIGEST.replace("@at@", "created")
    .replace("@by@", "giver")
    .replace("@key@", "row_key")
    .replace("@rel@", "root::oid::text"),
)


def function_text(name: str, body: str, extra: str = "", *, make_schema: bool = True) -> str:
    tag = dollar_quote(body, "fn")
    text = (
        f"CREATE OR REPLACE FUNCTION {qualified(name, tool_schema())}() "
        f"RETURNS trigger LANGUAGE plpgsql{extra} AS {tag}\n{body}\n{tag}"
    )
    return in_own_schema(text) if make_schema else text


def _filled(body: str) -> str:
    schema = tool_schema()
    return (
        body.replace("@row_key@", _ROW_KEY)
        .replace("@secret@", qualified(SECRET_TABLE, schema))
        .replace("@setting@", MOVE_SETTING)
        .replace("@check@", ACTOR_CHECK)
        .replace("@declare@", ACTOR_DECLARE)
        .replace("@moved@", qualified(MOVED_FUNCTION, schema))
    )


def create_audit_functions() -> list[Statement]:
    """The trigger functions every audited table shares (their arguments differ)."""
    schema = tool_schema()
    secret = qualified(SECRET_TABLE, schema)
    moved_body = _filled(_MOVED_BODY)
    tag = dollar_quote(moved_body, "fn")
    stmts = [
        Statement(
            in_own_schema(f"CREATE TABLE IF NOT EXISTS {secret} (secret text NOT NULL)"),
            f"ACCESS EXCLUSIVE on {SECRET_TABLE} (only when it is new)",
            "the key of the digests that vouch for rows an update moves between partitions",
        ),
        Statement(
            f"REVOKE ALL ON TABLE {secret} FROM PUBLIC",
            "no table lock",
            "only the functions' owner reads it",
        ),
        Statement(
            do_block(
                "  IF NOT (SELECT c.relrowsecurity FROM pg_catalog.pg_class AS c "
                f"WHERE c.oid = {regclass(SECRET_TABLE, schema)}) THEN\n"
                f"    ALTER TABLE {secret} ENABLE ROW LEVEL SECURITY;\n"
                "  END IF;\n"
            ),
            f"ACCESS EXCLUSIVE on {SECRET_TABLE} (only the first time)",
            "row-level security with no policy: roles that read every table "
            "(pg_read_all_data) read no row of it; its owner still does",
        ),
        Statement(
            f"INSERT INTO {secret} (secret) SELECT pg_catalog.gen_random_uuid()::text "
            "OPERATOR(pg_catalog.||) pg_catalog.gen_random_uuid()::text "
            f"WHERE NOT EXISTS (SELECT 1 FROM {secret})",
            f"ROW EXCLUSIVE on {SECRET_TABLE}",
            "once per database, from the server's strong random source",
        ),
        Statement(
            function_text(AUDIT_COLUMNS_FUNCTION, _filled(_AUDIT_COLUMNS_BODY)),
            "no table lock",
            "sets the audit columns of each written row, so writes that bypass the ORM are "
            "covered too",
        ),
        create_actor_function(),
        Statement(
            function_text(
                GUARD_FUNCTION,
                _filled(_GUARD_BODY),
                " SET search_path = pg_catalog, pg_temp",
            ),
            "no table lock",
            "replaces the audit values an application gives where the database owns them",
        ),
        Statement(
            function_text(
                MOVE_FUNCTION,
                _filled(_MOVE_PASS_BODY),
                " SECURITY DEFINER SET search_path = pg_catalog, pg_temp",
            ),
            "no table lock",
            "vouches for a row an update moves to another partition, whose insert there "
            "keeps its creation",
        ),
        Statement(
            f"REVOKE ALL ON FUNCTION {qualified(MOVE_FUNCTION, schema)}() FROM PUBLIC",
            "no table lock",
            "nobody may attach it to a table of theirs to vouch for rows they make up",
        ),
        Statement(
            f"CREATE OR REPLACE FUNCTION {qualified(MOVED_FUNCTION, schema)}"
            "(created text, giver text, row_key text, root regclass) RETURNS boolean "
            "LANGUAGE plpgsql "
            f"SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS {tag}\n"
            f"{moved_body}\n{tag}",
            "no table lock",
            "checks, as the owner of the key, that an insert is a moved row; answers only yes "
            "or no",
        ),
        Statement(
            function_text(
                MOVE_END_FUNCTION,
                _filled(_MOVE_END_BODY),
                " SET search_path = pg_catalog, pg_temp",
                make_schema=False,
            ),
            "no table lock",
            "clears, at the end of an update that changed a partition key, a digest no "
            "moved row used",
        ),
        Statement(
            f"DROP FUNCTION IF EXISTS {qualified(MOVED_FUNCTION, schema)}(text, text, text)",
            "no table lock",
            "the check of earlier versions, bound to no table; only this tool's guard "
            "function, replaced above, called it",
            squawk_ignore=("ban-drop-function",),
        ),
    ]
    if schema != POLICY_SCHEMA:
        stmts.append(
            Statement(
                f"GRANT USAGE ON SCHEMA {ident(schema)} TO PUBLIC",
                "no table lock",
                "audited writes call one function there; no table in it grants anything",
            )
        )
    return stmts


def create_audit_trigger(
    table: str, schema: str | None, audit_json: str, args: list[str]
) -> list[Statement]:
    target = qualified(table, schema)
    who = args[2:3] == ["who"]
    stmts = [check_audit_columns(table, schema, who)]
    if who:
        stmts.append(set_actor_defaults(table, schema, args[0], args[1]))
    stmts += [
        Statement(
            f"CREATE OR REPLACE TRIGGER {ident(AUDIT_TRIGGER)} BEFORE INSERT OR UPDATE ON {target} "
            f"FOR EACH ROW WHEN ({columns_work(args[0], who)}) EXECUTE FUNCTION "
            f"{qualified(AUDIT_COLUMNS_FUNCTION, tool_schema())}"
            f"({', '.join(string_literal(a) for a in args)})",
            f"SHARE ROW EXCLUSIVE on {table} and its partitions",
            "brief; writes wait for it, bounded by lock_timeout; a partitioned table's "
            "partitions, later ones included, get the trigger too; rows whose columns "
            "their defaults filled skip it",
        ),
        Statement(
            f"COMMENT ON TRIGGER {ident(AUDIT_TRIGGER)} ON {target} "
            f"IS {string_literal(audit_json)}",
            f"SHARE UPDATE EXCLUSIVE on {table}",
            "records the audit settings, for autogenerate to compare with the model",
        ),
    ]
    if who:
        stmts.append(create_actor_trigger(table, schema, args))
    if args[3:4] == ["database"]:
        stmts += _create_guard_triggers(table, schema, args)
        stmts.append(_create_move_trigger(table, schema, args[2]))
    return stmts


def _create_guard_triggers(table: str, schema: str | None, args: list[str]) -> list[Statement]:
    """The guard, behind WHEN conditions PostgreSQL evaluates without calling a function:
    rows whose audit values are the database's own (nearly all) pay nothing more."""
    actor = f"nullif(current_setting({string_literal(args[0])}, true), '')"
    on_insert = "NEW.created_at <> now() OR NEW.updated_at <> NEW.created_at"
    on_update = "NEW.created_at IS DISTINCT FROM OLD.created_at"
    if args[2] == "who":
        on_insert += (
            f" OR NEW.created_by::text IS DISTINCT FROM {actor}"
            " OR NEW.updated_by IS DISTINCT FROM NEW.created_by"
        )
        on_update += " OR NEW.created_by IS DISTINCT FROM OLD.created_by"
    target = qualified(table, schema)
    call = (
        f"{qualified(GUARD_FUNCTION, tool_schema())}({', '.join(string_literal(a) for a in args)})"
    )
    return [
        Statement(
            f"CREATE OR REPLACE TRIGGER {ident(name)} BEFORE {event} ON {target} FOR EACH ROW "
            f"WHEN ({when}) EXECUTE FUNCTION {call}",
            f"SHARE ROW EXCLUSIVE on {table} and its partitions",
            "brief; writes wait for it, bounded by lock_timeout",
        )
        for name, event, when in (
            (GUARD_TRIGGERS[0], "INSERT", on_insert),
            (GUARD_TRIGGERS[1], "UPDATE", on_update),
        )
    ]


def _create_move_trigger(table: str, schema: str | None, who: str) -> Statement:
    """On a partitioned table, fired only when an update changes a partition key column
    (of any level): the condition is read from the catalog when the migration runs."""
    function = qualified(MOVE_FUNCTION, tool_schema())
    end = qualified(MOVE_END_FUNCTION, tool_schema())
    body = (
        "  SELECT string_agg(DISTINCT CASE WHEN k.n = 0 THEN 'OLD.* IS DISTINCT FROM NEW.*'\n"
        "         ELSE format('OLD.%1$I IS DISTINCT FROM NEW.%1$I', a.attname) END, ' OR ')\n"
        "    INTO changed\n"
        "    FROM pg_partition_tree(target) AS t\n"
        "    JOIN pg_partitioned_table AS p ON p.partrelid = t.relid\n"
        "   CROSS JOIN LATERAL unnest(p.partattrs::int2[]) AS k(n)\n"
        "    LEFT JOIN pg_attribute AS a ON a.attrelid = p.partrelid AND a.attnum = k.n;\n"
        "  IF changed IS NOT NULL THEN\n"
        "    EXECUTE format('CREATE OR REPLACE TRIGGER %I BEFORE UPDATE ON %s FOR EACH ROW '\n"
        "                   'WHEN (%s) EXECUTE FUNCTION %s(%L)', "
        f"{string_literal(MOVE_TRIGGER)}, target, changed,\n"
        f"                   {string_literal(function)}, {string_literal(who)});\n"
        "    EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER UPDATE ON %s FOR EACH ROW '\n"
        "                   'WHEN (%s) EXECUTE FUNCTION %s()', "
        f"{string_literal(MOVE_END_TRIGGER)}, target, changed,\n"
        f"                   {string_literal(end)});\n"
        "  END IF;\n"
    )
    declare = f"  target regclass := {regclass(table, schema)};\n  changed text;\n"
    return Statement(
        do_block(body, declare),
        f"SHARE ROW EXCLUSIVE on {table} and its partitions (only when partitioned)",
        "brief; fires only for updates that change the partition key: the rows they move "
        "keep their creation",
    )


def drop_move_trigger(table: str, schema: str | None) -> list[Statement]:
    """The guard and move triggers, when the table's writers are trusted from now on."""
    return [
        Statement(
            f"DROP TRIGGER IF EXISTS {ident(name)} ON {qualified(table, schema)}",
            f"ACCESS EXCLUSIVE on {table} and its partitions",
            "brief, bounded by lock_timeout; values an insert gives are kept from now on",
        )
        for name in (*GUARD_TRIGGERS, MOVE_TRIGGER, MOVE_END_TRIGGER)
    ]


def drop_audit_functions_if_unused() -> Statement:
    """The shared audit functions go with the last trigger that calls them."""
    schema = tool_schema()
    function = qualified(AUDIT_COLUMNS_FUNCTION, schema)
    signature = string_literal(f"{function}()")
    body = (
        f"  IF to_regprocedure({signature}) IS NOT NULL AND NOT EXISTS (\n"
        f"      SELECT 1 FROM pg_trigger WHERE tgfoid = to_regprocedure({signature})) THEN\n"
        f"    DROP FUNCTION {function}();\n"
        f"    DROP FUNCTION IF EXISTS {qualified(MOVE_FUNCTION, schema)}();\n"
        f"    DROP FUNCTION IF EXISTS {qualified(GUARD_FUNCTION, schema)}();\n"
        f"    DROP FUNCTION IF EXISTS {qualified(MOVED_FUNCTION, schema)}(text, text, text);\n"
        f"    DROP FUNCTION IF EXISTS {qualified(MOVED_FUNCTION, schema)}"
        "(text, text, text, regclass);\n"
        f"    DROP FUNCTION IF EXISTS {qualified(MOVE_END_FUNCTION, schema)}();\n"
        f"    DROP FUNCTION IF EXISTS {qualified(ACTOR_FUNCTION, schema)}();\n"
        f"    DROP FUNCTION IF EXISTS {qualified(MOVED_FUNCTION, schema)}(timestamptz, text);\n"
        f"    DROP TABLE IF EXISTS {qualified(SECRET_TABLE, schema)};\n"
        "  END IF;\n"
    )
    return Statement(
        do_block(body),
        "no table lock",
        "nothing of sqla-partition stays behind once no table is audited",
        squawk_ignore=("ban-drop-table",),
    )
