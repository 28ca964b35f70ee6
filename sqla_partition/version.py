"""The package's version, where every layer may read it (roll's saved states name it)."""

__version__ = "0.1.0"
