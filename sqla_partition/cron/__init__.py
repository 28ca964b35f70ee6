"""The cron path: ``roll``, ``status`` and ``check`` with nothing but a database URL.

Reads the recorded policies and a catalog snapshot, asks the planner for each table's plan
and runs it step by step under bounded waits. Imports neither SQLAlchemy nor Alembic.
"""
