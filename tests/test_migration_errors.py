"""What a migration tells its user: one line naming the cause for what a user can fix,
a traceback for bugs."""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa


def test_every_refusal_and_timeout_is_one_line_in_words_that_fit(db_url, pg):
    """A downgrade the tool refuses (archives exist), a lock that was not granted, an
    unreachable server: each one line naming its cause; a bug keeps its traceback."""
    from alembic.util import CommandError

    from sqla_partition import one_line_errors

    engine = sa.create_engine(db_url)
    try:
        refusal = (
            "DO $$ BEGIN RAISE EXCEPTION 'sqla-partition: events has 1 archived partition(s): "
            "public.events_p2026_01' USING HINT = 'archives=''drop'' drops them too'; END $$"
        )
        with pytest.raises(CommandError) as caught, one_line_errors(), engine.connect() as conn:
            conn.exec_driver_sql(refusal)
        assert str(caught.value) == (
            "events has 1 archived partition(s): public.events_p2026_01 "
            "(archives='drop' drops them too)"
        )
        pg.execute("CREATE TABLE busy (id int)")
        with psycopg.connect(pg.info.dsn) as holder:
            holder.execute("LOCK TABLE busy IN ACCESS EXCLUSIVE MODE")
            with pytest.raises(CommandError) as caught, one_line_errors(), engine.connect() as conn:
                conn.exec_driver_sql("SET lock_timeout = '100ms'")
                conn.exec_driver_sql("LOCK TABLE busy IN SHARE MODE")
        text = str(caught.value)
        assert text.startswith("a lock was not granted within lock_timeout")
        assert "run the migration again" in text and "cannot reach" not in text
        with pytest.raises(sa.exc.ProgrammingError), one_line_errors(), engine.connect() as conn:
            conn.exec_driver_sql("SELEC 1")  # a mistake in a migration of one's own
    finally:
        engine.dispose()
    away = sa.create_engine("postgresql+psycopg://u:hunter2@127.0.0.1:1/none")
    with pytest.raises(CommandError) as caught, one_line_errors(), away.connect():
        pass
    assert str(caught.value).startswith("cannot reach the database")
    assert "hunter2" not in str(caught.value)


def test_a_declaration_refused_in_a_class_body_names_its_table(tmp_path, monkeypatch):
    """Range(...) is refused before its table is known: the line says which model."""
    import importlib

    from alembic.util import CommandError

    from sqla_partition import one_line_errors

    (tmp_path / "bad_models.py").write_text(
        "import sqlalchemy as sa\n"
        "from sqlalchemy.orm import DeclarativeBase, mapped_column\n"
        "from sqla_partition import Range\n\n\n"
        "class Base(DeclarativeBase):\n    pass\n\n\n"
        "class Event(Base):\n"
        '    __tablename__ = "events"\n'
        '    __partitioning__ = Range("created_at", interval="1 fortnight")\n'
        "    id = mapped_column(sa.Integer, primary_key=True)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(CommandError) as caught, one_line_errors():
        importlib.import_module("bad_models")
    text = str(caught.value)
    assert text.startswith("events (") and "bad_models.py:12): unknown interval" in text


def _import_refused(tmp_path, monkeypatch, module: str, body: str) -> str:
    import importlib

    from alembic.util import CommandError

    from sqla_partition import one_line_errors

    (tmp_path / f"{module}.py").write_text(
        "import sqlalchemy as sa\n"
        "from sqlalchemy.orm import DeclarativeBase, mapped_column\n"
        "from sqla_partition import Audit, Hash, List, Range\n\n\n"
        "class Base(DeclarativeBase):\n    pass\n\n\n" + body
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(CommandError) as caught, one_line_errors():
        importlib.import_module(module)
    return str(caught.value)


def test_every_mistake_of_one_policy_is_named_at_once(tmp_path, monkeypatch):
    """A Range with four wrong arguments is refused once, naming all four, so one run
    shows everything to fix; an argument the others do not depend on is still checked."""
    text = _import_refused(
        tmp_path,
        monkeypatch,
        "many_mistakes",
        "class Event(Base):\n"
        '    __tablename__ = "events"\n'
        '    __partitioning__ = Range("created_at", interval="1 fortnight", premake=0,\n'
        '                             timezone="Mars/Olympus", on_expire="burn")\n'
        "    id = mapped_column(sa.Integer, primary_key=True)\n",
    )
    head, *items = text.splitlines()
    assert head.startswith("events (") and "many_mistakes.py:12): Range('created_at')" in head
    assert head.endswith(": 4 problems"), head
    assert len(items) == 4 and all(item.startswith("  - ") for item in items)
    for said in ("premake=0", "'1 fortnight'", "'Mars/Olympus'", "on_expire='burn'"):
        assert sum(said in item for item in items) == 1, (said, items)


def test_every_mistake_of_one_model_is_named_at_once(tmp_path, monkeypatch):
    """A model whose key is misspelt, whose audit column has the wrong type and whose
    primary key and unique column lack the key: one error, each named once."""
    text = _import_refused(
        tmp_path,
        monkeypatch,
        "model_mistakes",
        "class Event(Base):\n"
        '    __tablename__ = "events"\n'
        '    __partitioning__ = Range("created", interval="1 month")\n'
        '    __audit__ = Audit(actor_type="uuid")\n'
        "    id = mapped_column(sa.Integer, primary_key=True)\n"
        "    email = mapped_column(sa.Text, unique=True)\n"
        "    created_by = mapped_column(sa.SmallInteger)\n"
        "    created = mapped_column(sa.Text)\n",
    )
    head, *items = text.splitlines()
    assert head == "events: 4 problems", text
    assert [item.split(" ")[3] for item in items] == ["column", "PRIMARY", "UNIQUE", "range"]
    assert "'created_by' exists as SMALLINT" in items[0]
    assert "PRIMARY KEY (id) must include the partition key" in items[1]
    assert "UNIQUE (email) must include" in items[2]
    assert "range key 'created' has type text" in items[3]


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (
            lambda: __import__("sqla_partition").Hash("", partitions=1, distributed="yes"),
            ["column name", "partitions=1", "distributed must be"],
        ),
        (
            lambda: __import__("sqla_partition").List(
                "region", {"eu": ["de", 1.5], "default": ["x"], "us": "us"}, default=2
            ),
            ["1.5 cannot be listed", "'default' names", "'us': list its values", "default must"],
        ),
        (
            lambda: __import__("sqla_partition").Audit(
                actor_setting="user", actor_type="int", trail="yes", trail_retention="forever"
            ),
            ["actor_setting='user'", "actor_type='int'", "trail must be", "'forever'"],
        ),
    ],
    ids=["hash", "list", "audit"],
)
def test_every_mistake_of_hash_list_and_audit_is_named(make, said):
    from sqla_partition.errors import PolicyError

    with pytest.raises(PolicyError) as caught:
        make()
    assert str(caught.value).splitlines()[0].endswith(f": {len(said)} problems")
    assert len(caught.value.problems) == len(said), caught.value.problems
    for words, problem in zip(said, caught.value.problems, strict=True):
        assert words in problem, (words, problem)
