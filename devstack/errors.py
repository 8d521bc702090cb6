"""The one exception root of the local stack."""

from __future__ import annotations


class StackError(Exception):
    """A local service could not be installed, started, reached or stopped.

    The message names the service, the reason and, when there is one, the log to read.
    """
