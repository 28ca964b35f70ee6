"""Database URLs for the cron path: psycopg 3 directly, passwords never printed."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from ..errors import SqlaPartitionError

if TYPE_CHECKING:
    import psycopg

_SCHEME = re.compile(r"^(postgres|postgresql)(\+[a-z0-9_]+)?://", re.IGNORECASE)


#: The query keys libpq knows (PostgreSQL 18's list); others are a driver's own.
_LIBPQ_KEYS = frozenset(
    [
        "host",
        "hostaddr",
        "port",
        "dbname",
        "user",
        "password",
        "passfile",
        "require_auth",
        "channel_binding",
        "connect_timeout",
        "client_encoding",
        "options",
        "application_name",
        "fallback_application_name",
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "tcp_user_timeout",
        "replication",
        "gssencmode",
        "sslmode",
        "requiressl",
        "sslnegotiation",
        "sslcompression",
        "sslcert",
        "sslkey",
        "sslkeylogfile",
        "sslpassword",
        "sslcertmode",
        "sslrootcert",
        "sslcrl",
        "sslcrldir",
        "sslsni",
        "requirepeer",
        "ssl_min_protocol_version",
        "ssl_max_protocol_version",
        "min_protocol_version",
        "max_protocol_version",
        "krbsrvname",
        "gsslib",
        "gssdelegation",
        "service",
        "target_session_attrs",
        "load_balance_hosts",
        "scram_client_key",
        "scram_server_key",
        "oauth_issuer",
        "oauth_client_id",
        "oauth_client_secret",
        "oauth_scope",
    ]
)
#: asyncpg's ``ssl=`` values, as libpq's ``sslmode``.
_SSL_MODES = {"true": "require", "false": "disable", "1": "require", "0": "disable"}


def libpq_url(url: str, dropped: list[str] | None = None) -> str:
    """Accept SQLAlchemy URLs (``postgresql+psycopg://``, ``+asyncpg``, …) and libpq ones:
    the query keys a driver adds are mapped to libpq's (asyncpg's ``ssl=`` is ``sslmode``)
    or left out, their names appended to ``dropped``."""
    if not url:
        raise SqlaPartitionError("no database URL: pass --database-url or set DATABASE_URL")
    m = _SCHEME.match(url.strip())
    if not m:
        raise SqlaPartitionError(
            f"not a PostgreSQL URL: {redact(url)!r}; expected postgresql://user@host/db"
        )
    rest = url.strip()[m.end() :]
    if "?" not in rest:
        return "postgresql://" + rest
    base, query = rest.split("?", 1)
    kept = []
    for pair in query.split("&"):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        name = unquote(key).strip().lower()
        if name == "ssl":  # asyncpg's
            kept.append(f"sslmode={_SSL_MODES.get(unquote(value).lower(), value)}")
        elif name in _LIBPQ_KEYS:  # by its plain name: libpq reads no encoded key
            kept.append(f"{name}={value}")
        elif dropped is not None:
            dropped.append(unquote(key))
    return "postgresql://" + base + ("?" + "&".join(kept) if kept else "")


def secrets_of(url: str) -> list[str]:
    """Every form of the URL's password (as written and percent-decoded, in the user part
    or as ``password=``), longest first, so messages can be scrubbed of them."""
    found: list[str] = []
    rest = url.split("://", 1)[1] if "://" in url else url
    if "@" in rest:  # the user part runs to the last "@": a password may hold "@" or "/"
        userinfo = rest.rsplit("@", 1)[0]
        if ":" in userinfo:
            password = userinfo.split(":", 1)[1]
            found.append(password)
            # libpq ends the user part at the first "@": the rest shows up as the host
            found += [piece for piece in password.split("@") if len(piece) >= 3]
    found += re.findall(r"(?:^|[?&\s])password=([^&\s]*)", rest, re.IGNORECASE)
    # a query key libpq decodes too: ?%70assword=…
    query = rest.split("?", 1)[1] if "?" in rest else ""
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if unquote(key).strip().lower() == "password":
            found.append(value)
    # a key=value connection string: password='correct horse battery'
    for quoted, bare in re.findall(
        r"(?:^|\s)password\s*=\s*(?:'((?:[^'\\]|\\.)*)'|(\S+))", url, re.IGNORECASE
    ):
        found.append(quoted or bare)
    out = set()
    for secret in found:
        if secret:
            out.add(secret)
            out.add(unquote(secret))
    return sorted((s for s in out if s), key=len, reverse=True)


def redact(url: str) -> str:
    """The URL with its password replaced, for messages and logs."""
    text = scrub(url, url)  # every form first, a quoted one whole
    if "://" in text and "@" in text.split("://", 1)[1]:
        head, rest = text.split("://", 1)
        userinfo, host = rest.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        text = f"{head}://{userinfo}@{host}"
    text = re.sub(r"((?:^|[?&\s])password=)[^&\s]*", r"\1***", text, flags=re.IGNORECASE)
    return scrub(text, url)


def scrub(text: str, url: str) -> str:
    """``text`` (a driver's message, say) with the URL's password in no form left in it."""
    for secret in secrets_of(url):
        text = text.replace(secret, "***")
    return text


def connect(url: str, *, application_name: str = "sqla-partition") -> psycopg.Connection:
    """An autocommit connection; a failure is one line naming the server, not the password."""
    import sys

    import psycopg

    dropped: list[str] = []
    target = libpq_url(url, dropped)
    if dropped:  # a driver's own settings (asyncpg's statement cache, say): not libpq's
        sys.stderr.write(
            f"note: URL parameters only {_driver(url)} knows are left out: {', '.join(dropped)}\n"
        )
    try:
        return psycopg.connect(
            target, autocommit=True, application_name=application_name, connect_timeout=10
        )
    except psycopg.Error as exc:
        lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
        reason = " ".join(lines) or type(exc).__name__
        reason = scrub(reason.replace(target, redact(target)).replace(url, redact(url)), url)
        raise SqlaPartitionError(f"cannot connect to {redact(url)}: {reason}") from None


@contextlib.contextmanager
def relayed_notices(raw: Any, log: Callable[[str], None]) -> Iterator[None]:
    """Pass the progress notices long statements raise (``sqla-partition: …``) to ``log``;
    a connection that cannot report notices (not psycopg 3) just runs without them."""
    if raw is None or not hasattr(raw, "add_notice_handler"):
        yield
        return

    def handler(diag: Any) -> None:
        text = diag.message_primary or ""
        if text.startswith("sqla-partition: "):
            log(text[len("sqla-partition: ") :])

    raw.add_notice_handler(handler)
    try:
        yield
    finally:
        raw.remove_notice_handler(handler)


def _driver(url: str) -> str:
    m = _SCHEME.match(url.strip())
    scheme = m.group(0) if m else ""
    return scheme.split("+", 1)[1].rstrip(":/") if "+" in scheme else "the driver"
