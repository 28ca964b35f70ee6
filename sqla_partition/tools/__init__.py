"""Commands beside the main flow: ``init``, ``demo`` (with an embedded server), ``lint``,
``advise``, ``adopt`` and ``split-legacy``."""
