"""What users write on a model: policies as plain, validated values, the period arithmetic
and schedules behind them (pure: no database, no clock), the audit trail's own table, and
their binding to SQLAlchemy tables (:mod:`.binding`; it and :mod:`.audit_trail` are the only
modules here that load SQLAlchemy)."""
