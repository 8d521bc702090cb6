"""The exception root of the project. Retriable-ness is data, not a subclass guess."""

from __future__ import annotations


class ScoreboardError(Exception):
    """Root of every error this project raises on purpose."""

    retriable: bool = False


class ConfigurationError(ScoreboardError):
    """Settings are missing or invalid; the process must not start."""


class DependencyUnavailable(ScoreboardError):
    """Kafka, Postgres or Redis did not answer; trying again later may work."""

    retriable = True


class DecodeError(ScoreboardError):
    """Bytes on a topic are not an event this build understands."""
