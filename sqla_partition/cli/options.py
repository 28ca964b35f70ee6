"""What every command shares: user mistakes as one line and exit code 2, never a
traceback; how times, durations and databases are given."""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..errors import SqlaPartitionError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 3


def user_errors(fn: F) -> F:
    """A user's mistake, or a database that refuses or cannot be reached, as one line and
    exit code 2; as JSON (``{"error": …, "exit_code": 2}``) for a command given ``--json``,
    so that whatever parses its output parses this too."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SqlaPartitionError as exc:
            _refused(str(exc), bool(kwargs.get("as_json")))
        except Exception as exc:  # database and Alembic errors a user can act on
            message = known_error(exc)
            if message is None:
                raise
            _refused(message, bool(kwargs.get("as_json")))

    return wrapper  # type: ignore[return-value]


def _refused(message: str, as_json: bool) -> None:
    text = without_secrets(message)
    if as_json:
        import json

        click.echo(json.dumps({"error": text, "exit_code": EXIT_USAGE}))
    else:
        click.echo(f"error: {text}", err=True)
    sys.exit(EXIT_USAGE)


def without_secrets(text: str) -> str:
    """A message with no password of the URLs this command was given (``$DATABASE_URL``,
    any URL argument), in any form: drivers quote URLs and their parts in errors."""
    from ..catalog.connect import scrub

    for url in [os.environ.get("DATABASE_URL", ""), *sys.argv]:
        if "://" in url or "password=" in url.lower():
            text = scrub(text, url)
    return text


def known_error(exc: Exception) -> str | None:
    name = type(exc).__name__
    module = type(exc).__module__
    if module.startswith(("sqlalchemy", "psycopg", "alembic")) or name == "CommandError":
        text = str(exc).splitlines()[0] if str(exc) else name
        if "permission denied" in text or "must be owner" in text:
            text += " (Security and privileges, docs/security.md, says what each command needs)"
        return text
    return None


EXIT_CODES = """\b
Exit codes:
  0  all done (also on a read-only standby, where nothing is changed)
  1  some table failed (the others were still rolled)
  2  usage or configuration error: bad URL, unreachable server, unknown table,
     a policy the database disagrees with, a bad cron expression; nothing changed
  3  some table could not get a lock within lock_timeout after every retry,
     or another roll held it past --wait-for-other-run; the next run finishes
     the work
  4  some period's rows in a DEFAULT partition exceed --max-move-rows: they
     wait, visible, for a run with a larger --max-move-rows (the message says)
"""


def parse_now(value: str | None) -> dt.datetime:
    if value is None:
        return dt.datetime.now(dt.timezone.utc)
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO date or time", param_hint="--now"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    if not 1900 <= parsed.year <= 9000:  # periods ahead and behind must stay in range
        raise click.BadParameter(
            f"{value!r} is out of range: give a time between the years 1900 and 9000",
            param_hint="--now",
        )
    return parsed


def writable_file(_ctx: Any, param: Any, value: Any) -> Any:
    """A file to write: its directory must exist (checked before any work is done)."""
    if value is not None and not value.absolute().parent.is_dir():
        raise click.BadParameter(
            f"{value}: the directory {value.absolute().parent} does not exist",
            param_hint=f"--{param.name}",
        )
    return value


def parse_duration_ms(value: str, option: str) -> int:
    text = value.strip().lower()
    for suffix, factor in (("ms", 1), ("s", 1000), ("min", 60_000)):
        if text.endswith(suffix) and text[: -len(suffix)].strip().replace(".", "", 1).isdigit():
            return int(float(text[: -len(suffix)]) * factor)
    if text.isdigit():
        return int(text)
    raise click.BadParameter(
        f"{value!r}: use milliseconds or a unit, e.g. 3s or 500ms", param_hint=option
    )


def database_options(fn: F) -> F:
    fn = click.option(
        "--table",
        "tables",
        multiple=True,
        metavar="NAME",
        help="Only this table (schema.name or name); repeatable.",
    )(fn)
    fn = click.option(
        "--now",
        metavar="ISO",
        help="Pretend it is this time (tests, backfills); default: the clock, UTC if no offset.",
    )(fn)
    fn = click.option(
        "--database-url",
        envvar="DATABASE_URL",
        metavar="URL",
        help="PostgreSQL URL (postgresql://, or a SQLAlchemy postgresql+driver:// URL); "
        "default: $DATABASE_URL.",
    )(fn)
    return fn


def parse_age(value: str) -> dt.timedelta:
    text = value.strip().lower()
    for suffix, unit in (("min", "minutes"), ("h", "hours"), ("d", "days"), ("s", "seconds")):
        if text.endswith(suffix) and text[: -len(suffix)].replace(".", "", 1).isdigit():
            return dt.timedelta(**{unit: float(text[: -len(suffix)])})
    raise click.BadParameter(
        f"{value!r}: use a number and a unit, e.g. 25h or 90min", param_hint="--max-age"
    )


_PART = re.compile(r'"((?:[^"]|"")*)"|([^."]+)')


def split_table_name(text: str) -> tuple[str | None, str]:
    """``schema.name`` as SQL writes it: a part in double quotes may hold dots
    (``public."a.b"``); otherwise the last dot separates the schema."""
    parts: list[str] = []
    pos = 0
    while pos < len(text):
        m = _PART.match(text, pos)
        if not m:
            raise click.BadParameter(f"{text!r} is not a table name (schema.name)")
        parts.append(m.group(1).replace('""', '"') if m.group(1) is not None else m.group(2))
        pos = m.end()
        if pos < len(text):
            if text[pos] != ".":
                raise click.BadParameter(f"{text!r} is not a table name (schema.name)")
            pos += 1
    if '"' not in text and len(parts) > 2:  # unquoted: the last dot separates the schema
        parts = [".".join(parts[:-1]), parts[-1]]
    if not parts or len(parts) > 2 or not all(parts):
        raise click.BadParameter(f"{text!r} is not a table name (schema.name)")
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])
