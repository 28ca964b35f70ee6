"""Autogenerate on the schemas real applications have: a second autogenerate stays empty."""

from __future__ import annotations

import textwrap

import pytest
from click.testing import CliRunner

from sqla_partition.cli import main

from .alembic_project import models_project

MODELS = textwrap.dedent(
    """
    import sqlalchemy as sa
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

    from sqla_partition import Range


    class Base(DeclarativeBase):
        pass


    class Event(Base):
        __tablename__ = "events"
        __partitioning__ = Range("created_at", premake=2, default=True)
        id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
        created_at = mapped_column(sa.DateTime(timezone=True), primary_key=True)


    class Annotation(Base):
        __tablename__ = "event_annotations"
        id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
        event_id: Mapped[int] = mapped_column(sa.BigInteger)
        event_created_at = mapped_column(sa.DateTime(timezone=True))
        __table_args__ = (
            sa.ForeignKeyConstraint(
                ["event_id", "event_created_at"], ["events.id", "events.created_at"]
            ),
        )
    """
)


@pytest.fixture
def project(tmp_path, db_url, monkeypatch):
    with models_project(tmp_path, db_url, monkeypatch, "fk_models", MODELS) as p:
        yield p


def test_foreign_keys_to_a_partitioned_table_are_compared_once(project, db_url, pg):
    first = project.revision("first")
    assert "sa.ForeignKeyConstraint(['event_id', 'event_created_at']" in first
    project.upgrade()
    clones = pg.execute(
        "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conparentid <> 0 "
        "AND conrelid = 'event_annotations'::regclass"
    ).fetchone()[0]
    assert clones >= 4  # one per partition of events, DEFAULT included
    project.check()  # nothing to generate: the clones are PostgreSQL's, not the model's
    roll = CliRunner().invoke(
        main, ["roll", "--database-url", db_url, "--now", "2027-06-01T00:00:00Z"]
    )
    assert roll.exit_code == 0, roll.output
    project.check()  # more partitions, more clones: still nothing
