# Alembic configuration made by `sqla-partition init`.

[alembic]
script_location = ${script_location}
prepend_sys_path = .
path_separator = os

# Your models' MetaData, as module:attribute (e.g. myapp.models:Base.metadata).
target_metadata = myapp.models:Base.metadata

# Used when DATABASE_URL is not set. postgresql://, postgresql+psycopg://,
# postgresql+asyncpg:// and postgresql+psycopg_async:// are accepted.
sqlalchemy.url = postgresql+psycopg://postgres@127.0.0.1:5432/postgres

# Longest wait for a lock by partition DDL in migrations, in milliseconds.
sqla_partition.lock_timeout = 5000

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
