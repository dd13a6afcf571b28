"""
Exceptions shared across the package.

L{DialerError} is the root: the CLI prints its message on one line and exits non-zero,
so every message must say what went wrong and where (file, row, key, connection).
"""


class DialerError(Exception):
    """Something the user can fix: bad input, bad config, stale schema."""


class ConfigError(DialerError):
    """Configuration is missing or invalid; the message names the file and key."""


class StaleSchemaError(DialerError):
    """The database schema is older than this code; run `dialer db upgrade`."""


class InputError(DialerError):
    """An input file or value cannot be used; the message names the file and row."""
