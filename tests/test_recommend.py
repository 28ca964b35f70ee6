"""Index recommendations in autogenerate: each rule fires on a fixture schema, stays silent
where it should, and is switched off on its own."""

from __future__ import annotations

import re
import textwrap

import pytest
from alembic.util import CommandError

from .alembic_project import models_project

MODELS = textwrap.dedent(
    """
    import sqlalchemy as sa
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

    from sqla_partition import Range


    class Base(DeclarativeBase):
        pass


    class Account(Base):
        __tablename__ = "accounts"
        id: Mapped[int] = mapped_column(primary_key=True)


    class Order(Base):  # account_id: a foreign key no index leads with
        __tablename__ = "orders"
        id: Mapped[int] = mapped_column(primary_key=True)
        account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"))


    class OrderItem(Base):  # order_id leads the primary key: covered
        __tablename__ = "order_items"
        order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), primary_key=True)
        line: Mapped[int] = mapped_column(primary_key=True)


    class Event(Base):  # partitioned: its foreign key counts once, not per partition
        __tablename__ = "events"
        __partitioning__ = Range("created_at", premake=1, default=True)
        id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
        created_at = mapped_column(sa.DateTime(timezone=True), primary_key=True)
        account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"))


    class Note(Base):  # ix_notes_a is a prefix of ix_notes_a_b
        __tablename__ = "notes"
        __table_args__ = (sa.Index("ix_notes_a", "a"), sa.Index("ix_notes_a_b", "a", "b"))
        id: Mapped[int] = mapped_column(primary_key=True)
        a: Mapped[int]
        b: Mapped[int]
    """
)


@pytest.fixture
def project(tmp_path, db_url, monkeypatch):
    with models_project(tmp_path, db_url, monkeypatch, "rec_models", MODELS) as project:
        yield project


def configure(project, setting: str, skip: str = "[]") -> None:
    env = project.root / "migrations" / "env.py"
    text = re.sub(
        r'"sqla_partition_recommend": .*,',
        f'"sqla_partition_recommend": {setting},',
        env.read_text(),
    )
    text = re.sub(
        r'"sqla_partition_recommend_skip": .*,', f'"sqla_partition_recommend_skip": {skip},', text
    )
    env.write_text(text)


def drop_revision(project, message: str) -> None:
    for version in project.versions():
        if version.read_text().startswith(f'"""{message}\n'):
            version.unlink()


def upgrade_part(text: str) -> str:
    return text.split("def downgrade")[0]


def test_each_rule_fires_where_it_should_and_only_there(project, pg, capfd):
    first = upgrade_part(project.revision("tables"))
    assert first.count("recommends (fk_index)") == 2  # orders and events, once each
    assert "op.create_index('sqlp_fk_orders_account_id', 'orders', ['account_id']" in first
    assert "op.create_index('sqlp_fk_events_account_id', 'events', ['account_id']" in first
    assert "order_items" not in first.split("recommends")[-1]
    assert "sqlp_fk_order_items" not in first  # led by the primary key
    assert first.count("recommends (brin_time_key)") == 1
    assert "postgresql_using='brin'" in first
    assert "recommends (redundant_index)" not in first  # nothing in the database yet
    project.upgrade()

    # the recommended indexes now exist: not proposed again, not dropped as drift;
    # the redundant index is in the database now
    capfd.readouterr()
    second = upgrade_part(project.revision("second"))
    logged = capfd.readouterr()
    assert "Detected removed index 'sqlp_" not in logged.out + logged.err  # no false alarm
    assert "recommends (fk_index)" not in second and "brin_time_key" not in second
    assert "drop_index('sqlp_" not in second
    assert "recommends (redundant_index): ix_notes_a (a) is a prefix of ix_notes_a_b" in second
    assert "Remove Index('ix_notes_a') from the model too" in second
    assert "op.drop_index('ix_notes_a', table_name='notes')" in second
    drop_revision(project, "second")  # not applied: only its text was under test

    # an index an interrupted build left invalid
    pg.execute(
        "UPDATE pg_index SET indisvalid = false "
        "WHERE indexrelid = 'sqlp_fk_orders_account_id'::regclass"
    )
    third = upgrade_part(project.revision("third"))
    assert "recommends (invalid_index): sqlp_fk_orders_account_id on orders is invalid" in third
    assert "op.reindex_index('sqlp_fk_orders_account_id')" in third
    project.upgrade()
    assert pg.execute(
        "SELECT indisvalid FROM pg_index WHERE indexrelid = 'sqlp_fk_orders_account_id'::regclass"
    ).fetchone() == (True,)


def test_rules_are_switched_off_one_by_one_or_skipped_by_name(project):
    configure(project, '["fk_index"]', skip='["sqlp_fk_events_account_id"]')
    text = upgrade_part(project.revision("tables"))
    assert "recommends (fk_index)" in text and "sqlp_fk_orders_account_id" in text
    assert "sqlp_fk_events_account_id" not in text
    assert "brin_time_key" not in text
    drop_revision(project, "tables")
    configure(project, '["no_such_rule"]')
    with pytest.raises(CommandError, match="unknown rule"):
        project.revision("bad")
