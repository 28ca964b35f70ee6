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
