"""``python -m sqla_partition.cli``: the same command as ``sqla-partition``."""

from . import main

main()
