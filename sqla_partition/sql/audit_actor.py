"""The actor of audited writes: its check, the defaults that fill ``created_by``/``updated_by``
from it, and the condition under which the columns trigger has nothing to do.

An insert whose audit columns are filled by their defaults (``now()`` and the actor) needs
no row trigger: the trigger's ``WHEN`` lets PostgreSQL skip it, in C, for such rows. The
actor's check, which the skipped trigger would have made, runs once per statement instead.
"""

from __future__ import annotations

from .plpgsql import do_block, dollar_quote
from .policy import tool_schema
from .quoting import ident, qualified, regclass, string_literal
from .statement import Statement

ACTOR_TRIGGER = "sqla_partition_audit_actor"
ACTOR_FUNCTION = "sqla_partition_audit_actor"
#: The actor a transaction's writes already checked, per actor type (the setting's suffix).
CHECKED_SETTING = "sqla_partition.audit_actor_"

#: Checks the actor once per transaction, not per row (the match cost more than the rest
#: of the columns trigger); later rows compare it with the one checked. Whoever sets the
#: setting by hand skips only the message: the column's type still refuses what is not one.
#: Every function, operator and type is named with its schema: the columns function runs
#: it for each row without a ``SET search_path`` of its own (see ``audit_columns``).
ACTOR_CHECK = """  IF TG_ARGV[2] OPERATOR(pg_catalog.=) 'who' AND actor IS NOT NULL
     AND TG_ARGV[1] OPERATOR(pg_catalog.<>) 'text'
     AND (actor OPERATOR(pg_catalog.=) pg_catalog.current_setting(
          pg_catalog.concat('@checked@', TG_ARGV[1]), true)) IS NOT TRUE THEN
    IF TG_ARGV[1] OPERATOR(pg_catalog.=) 'bigint'
       AND (actor OPERATOR(pg_catalog.!~) '^[+-]?[0-9]{1,19}$'
            OR pg_catalog.length(actor) OPERATOR(pg_catalog.>) 18
               AND (actor::pg_catalog.numeric OPERATOR(pg_catalog.<)
                    '-9223372036854775808'::pg_catalog.numeric
                    OR actor::pg_catalog.numeric OPERATOR(pg_catalog.>)
                    '9223372036854775807'::pg_catalog.numeric)) THEN
      RAISE EXCEPTION 'sqla-partition: % must be an integer user id, got %', TG_ARGV[0], actor
        USING ERRCODE = 'invalid_parameter_value',
              HINT = pg_catalog.concat('set it per transaction: SELECT set_config(''',
                                       TG_ARGV[0], ''', ''42'', true)');
    END IF;
    IF TG_ARGV[1] OPERATOR(pg_catalog.=) 'uuid'
       AND actor OPERATOR(pg_catalog.!~*)
           '^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$' THEN
      RAISE EXCEPTION 'sqla-partition: % must be a uuid, got %', TG_ARGV[0], actor
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pg_catalog.set_config(pg_catalog.concat('@checked@', TG_ARGV[1]), actor, true);
  END IF;
""".replace("@checked@", CHECKED_SETTING)

#: The transaction's actor in a trigger function, NULL when unset or empty.
ACTOR_DECLARE = """DECLARE
  actor pg_catalog.text := pg_catalog.current_setting(TG_ARGV[0], true);
BEGIN
  IF actor OPERATOR(pg_catalog.=) '' THEN
    actor := NULL;
  END IF;
"""

_ACTOR_BODY = f"""{ACTOR_DECLARE}{ACTOR_CHECK}  RETURN NULL;
END"""

#: The columns' defaults, written as PostgreSQL prints them back, so that autogenerate's
#: comparison of server defaults finds the model and the database equal.
_DEFAULT = {
    "bigint": "(NULLIF(current_setting({}::text, true), ''::text))::bigint",
    "uuid": "(NULLIF(current_setting({}::text, true), ''::text))::uuid",
    "text": "NULLIF(current_setting({}::text, true), ''::text)",
}
_BY_COLUMNS = ("created_by", "updated_by")
_DECLARE = "  col pg_catalog.name;\n"


def actor_expression(setting: str) -> str:
    """The transaction's actor, ``NULL`` when unset or empty."""
    return f"nullif(pg_catalog.current_setting({string_literal(setting)}, true), '')"


def actor_default(setting: str, actor_type: str) -> str:
    """The default of ``created_by``/``updated_by``: the actor, as the column's type."""
    return _DEFAULT[actor_type].format(string_literal(setting))


def columns_work(setting: str, who: bool) -> str:
    """When the columns trigger changes something; false for a row it would leave as it is.

    An insert whose columns were filled by their defaults, and an update already stamped
    with this transaction's time and actor, are left alone. Where in doubt (a timestamp
    without time zone in an hour that occurs twice) the trigger fires and changes nothing.
    """
    when = "NEW.created_at IS NULL OR NEW.updated_at IS DISTINCT FROM pg_catalog.now()"
    if who:
        actor = actor_expression(setting)
        when += (
            f" OR NEW.updated_by::text IS DISTINCT FROM {actor}"
            f" OR NEW.created_by IS NULL AND {actor} IS NOT NULL"
            " OR NEW.updated_by IS NULL AND NEW.created_by IS NOT NULL"
        )
    return when


def create_actor_function() -> Statement:
    tag = dollar_quote(_ACTOR_BODY, "fn")
    return Statement(
        f"CREATE OR REPLACE FUNCTION {qualified(ACTOR_FUNCTION, tool_schema())}() "
        f"RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS {tag}\n"
        f"{_ACTOR_BODY}\n{tag}",
        "no table lock",
        "checks the actor once per insert statement, where the row trigger is skipped",
    )


def create_actor_trigger(table: str, schema: str | None, args: list[str]) -> Statement:
    arguments = ", ".join(string_literal(a) for a in args)
    return Statement(
        f"CREATE OR REPLACE TRIGGER {ident(ACTOR_TRIGGER)} BEFORE INSERT ON "
        f"{qualified(table, schema)} FOR EACH STATEMENT EXECUTE FUNCTION "
        f"{qualified(ACTOR_FUNCTION, tool_schema())}({arguments})",
        f"SHARE ROW EXCLUSIVE on {table}",
        "brief; an actor that is not a user id stops the insert with a message, before "
        "the column's default would refuse it",
    )


def drop_actor_trigger(table: str, schema: str | None) -> Statement:
    return Statement(
        f"DROP TRIGGER IF EXISTS {ident(ACTOR_TRIGGER)} ON {qualified(table, schema)}",
        f"ACCESS EXCLUSIVE on {table}",
        "brief, bounded by lock_timeout",
    )


def check_audit_columns(table: str, schema: str | None, who: bool) -> Statement:
    """The columns the trigger keeps exist: a hand-written ``enable_audit`` on a table
    without them is refused in one line, not by the trigger's condition."""
    names = ["created_at", "updated_at", *(_BY_COLUMNS if who else ())]
    wanted = ", ".join(string_literal(c) for c in names)
    body = (
        "  SELECT pg_catalog.string_agg(w.c, ', ' ORDER BY w.n) INTO missing\n"
        f"    FROM pg_catalog.unnest(ARRAY[{wanted}]::pg_catalog.name[]) WITH ORDINALITY "
        "AS w (c, n)\n"
        "   WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a\n"
        f"          WHERE a.attrelid OPERATOR(pg_catalog.=) {regclass(table, schema)}\n"
        "            AND a.attname OPERATOR(pg_catalog.=) w.c AND NOT a.attisdropped);\n"
        "  IF missing IS NOT NULL THEN\n"
        "    RAISE EXCEPTION 'sqla-partition: % has no column %', "
        f"{string_literal(qualified(table, schema))}, missing\n"
        "      USING HINT = 'the audit keeps created_at and updated_at (created_by and "
        "updated_by too, unless who=False): add them before enable_audit (autogenerate adds "
        "them from the model)';\n"
        "  END IF;\n"
    )
    return Statement(
        do_block(body, "  missing text;\n"),
        "no table lock",
        "the audit columns exist, or the migration stops here with their names",
    )


def _by_columns_loop(table: str, schema: str | None, action: str, condition: str) -> str:
    names = ", ".join(string_literal(c) for c in _BY_COLUMNS)
    return (
        "  FOR col IN SELECT a.attname FROM pg_catalog.pg_attribute AS a\n"
        "      LEFT JOIN pg_catalog.pg_attrdef AS d\n"
        "        ON d.adrelid OPERATOR(pg_catalog.=) a.attrelid\n"
        "       AND d.adnum OPERATOR(pg_catalog.=) a.attnum\n"
        f"     WHERE a.attrelid OPERATOR(pg_catalog.=) {regclass(table, schema)}\n"
        f"       AND a.attname OPERATOR(pg_catalog.=) ANY (ARRAY[{names}]::pg_catalog.name[])\n"
        f"       AND NOT a.attisdropped AND {condition}\n"
        "     ORDER BY a.attnum LOOP\n"
        "    EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I %s', "
        f"{string_literal(qualified(table, schema))}, col, {string_literal(action)});\n"
        "  END LOOP;\n"
    )


def set_actor_defaults(table: str, schema: str | None, setting: str, actor_type: str) -> Statement:
    """``created_by``/``updated_by`` default to the actor where they have no default."""
    default = actor_default(setting, actor_type).replace(
        "(current_setting(", "(pg_catalog.current_setting("
    )
    action = f"SET DEFAULT {default}"
    return Statement(
        do_block(_by_columns_loop(table, schema, action, "d.oid IS NULL"), _DECLARE),
        f"ACCESS EXCLUSIVE on {table} and its partitions (only for a column without default)",
        "brief, bounded by lock_timeout, no rewrite: an insert that leaves the columns out "
        "gets the actor from the default, and the row trigger is skipped",
    )


def drop_actor_defaults(table: str, schema: str | None, setting: str) -> Statement:
    """The defaults ``set_actor_defaults`` gave, and only those, go with the audit."""
    mark = string_literal(f"current_setting({string_literal(setting)}::text, true)")
    condition = (
        "pg_catalog.strpos(pg_catalog.pg_get_expr(d.adbin, d.adrelid), "
        f"{mark}) OPERATOR(pg_catalog.>) 0"
    )
    return Statement(
        do_block(_by_columns_loop(table, schema, "DROP DEFAULT", condition), _DECLARE),
        f"ACCESS EXCLUSIVE on {table} and its partitions (only for a column with that default)",
        "brief, bounded by lock_timeout; the actor's defaults go with the trigger that "
        "relied on them",
    )
