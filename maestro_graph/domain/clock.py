"""The graph's timestamps: UTC, as fixed-width ISO-8601 strings, so they sort the same in every
store and compare as text."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def utc_text(t: datetime) -> str:
    """A datetime as the graph stores it (a naive one is taken as UTC).

    >>> utc_text(datetime(2026, 1, 31, 12, 0))
    '2026-01-31T12:00:00.000000Z'
    """
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc).strftime(TIMESTAMP_FORMAT)


def now() -> str:
    """This moment, as the graph stores timestamps."""
    return datetime.now(timezone.utc).strftime(TIMESTAMP_FORMAT)


def at_seconds_ago(seconds: float) -> str:
    """The moment `seconds` before this one, as the graph stores timestamps."""
    return utc_text(datetime.now(timezone.utc) - timedelta(seconds=seconds))
