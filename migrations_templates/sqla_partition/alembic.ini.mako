# Alembic configuration made by `sqla-partition init`.

[alembic]
script_location = ${script_location}
prepend_sys_path = .
path_separator = os

# Your models' MetaData, as module:attribute (e.g. myapp.models:Base.metadata).
target_metadata = myapp.models:Base.metadata

# Used when DATABASE_URL is not set (empty: every command says to set one, rather than
# work on a database nobody chose). postgresql://, postgresql+psycopg://,
# postgresql+asyncpg:// and postgresql+psycopg_async:// are accepted.
sqlalchemy.url =

# Longest wait for a lock by any statement of a migration, in milliseconds: one that
# waits longer gives up (run the migration again) instead of blocking every query queued
# behind it.
sqla_partition.lock_timeout = 5000
# Longest any statement of a migration may run, in milliseconds (0: no limit).
sqla_partition.statement_timeout = 0

[loggers]
keys = root,sqlalchemy,alembic,sqla_partition

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console
qualname =

[logger_sqlalchemy]
level = WARNING
handlers =
qualname = sqlalchemy.engine

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[logger_sqla_partition]
level = INFO
handlers =
qualname = sqla_partition

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
datefmt = %H:%M:%S
