"""DB-API placeholders as PostgreSQL's own ``$n``: a log of what an application runs
holds ``%s``, ``%(name)s``, ``?``, ``:name`` or ``:1``, which the parser rejects.

Read from the lexer's tokens, so that a string, a comment, a ``::`` cast, a ``%`` operator
or jsonb's ``?`` operator is never taken for one.
"""

from __future__ import annotations

import re

import pglast
from pglast.parser import scan

#: token kinds after which a value, not an operator, is expected
_OPERAND_BEFORE = {
    *(f"ASCII_{ord(c)}" for c in "(,=<>[+-*/%^"),
    "Op",
    "LESS_EQUALS",
    "GREATER_EQUALS",
    "NOT_EQUALS",
}
_NAMED = re.compile(r"%\((\w+)\)s")


def to_dollar(text: str) -> str:
    """``text`` with every DB-API placeholder as ``$n`` (one number per distinct name);
    text that holds none, or that the lexer cannot read, as it is."""
    if not any(c in text for c in "%?:"):
        return text
    try:
        tokens = scan(text)
    except pglast.parser.ParseError:
        return text
    numbers: dict[str, int] = {}
    taken = {int(n) for n in re.findall(r"\$(\d+)", text)}

    def number(name: str | None) -> str:
        if name is None or name not in numbers:
            n = max([*taken, *numbers.values(), 0]) + 1
            numbers[name if name is not None else f"#{n}"] = n
            return f"${n}"
        return f"${numbers[name]}"

    out: list[str] = []
    percent = False
    last = 0
    i = 0
    previous = None
    brackets = 0
    while i < len(tokens):
        t = tokens[i]
        start, end = t.start, t.end + 1
        brackets += {"ASCII_91": 1, "ASCII_93": -1}.get(t.name, 0)
        piece = None
        if t.name in ("ASCII_37", "Op") and text[start:end] == "%":
            match = _NAMED.match(text, start)
            if match:
                piece, end = number(match.group(1)), match.end()
            elif text[end : end + 1] == "s" and not _word(text, end + 1):
                piece, end = number(None), end + 1
            percent = percent or piece is not None
        elif t.name == "Op" and text[start:end] == "?" and _value_expected(previous):
            piece = number(None)
        elif (
            t.name == "ASCII_58"
            and brackets == 0  # a[1:2] is a slice
            and _value_expected(previous)
            and i + 1 < len(tokens)
            and tokens[i + 1].start == end
        ):
            following = tokens[i + 1]
            value = text[following.start : following.end + 1]
            if following.name == "ICONST":
                piece, end = number(f":{value}"), following.end + 1
            elif following.name == "IDENT" or _any_keyword(following):
                piece, end = number(value), following.end + 1
        if piece is not None:
            out.append(text[last:start])
            out.append(piece)
            last = end
            while i + 1 < len(tokens) and tokens[i + 1].start < end:
                i += 1
        previous = tokens[i]
        i += 1
    out.append(text[last:])
    converted = "".join(out)
    # pyformat and format escape a literal % as %%
    return converted.replace("%%", "%") if percent else converted


def _word(text: str, at: int) -> bool:
    return at < len(text) and (text[at].isalnum() or text[at] == "_")


def _value_expected(previous: object) -> bool:
    """After an operator, a bracket, a comma or a keyword that cannot name a column on its
    own (``WHERE``, ``LIMIT``, ``BETWEEN``) comes a value; after a name (``data ? 'k'``:
    jsonb's operator, ``value`` being an unreserved keyword), not."""
    if previous is None:
        return True
    if getattr(previous, "name", None) in _OPERAND_BEFORE:
        return True
    kind = getattr(previous, "kind", None)
    return getattr(kind, "name", kind) not in (None, "NO_KEYWORD", "UNRESERVED_KEYWORD")


def _any_keyword(token: object) -> bool:
    kind = getattr(token, "kind", None)
    return kind is not None and getattr(kind, "name", kind) != "NO_KEYWORD"
