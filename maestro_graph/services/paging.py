"""Page sizes: one rule for every paged read a service answers.

The largest page comes from the settings (MAESTRO_MAX_PAGE_SIZE, read once in app.create_app),
which hands the same number to the GraphQL limits and to the services; DEFAULT_MAX_PAGE is what a
service built without settings (tests, embedding) uses.
"""

from __future__ import annotations

from maestro_graph.domain.errors import BadInput, LimitExceeded

DEFAULT_MAX_PAGE = 100


def check_page_size(first: int, most: int, field: str = "first") -> None:
    """Refuse a negative page size (BAD_USER_INPUT) or one over `most` (LIMIT_EXCEEDED).

    >>> check_page_size(100, 100)
    >>> check_page_size(101, 100)
    Traceback (most recent call last):
    ...
    maestro_graph.domain.errors.LimitExceeded: first may be at most 100, got 101
    """
    if first < 0:
        raise BadInput(f"{field} must not be negative", field=field)
    if first > most:
        raise LimitExceeded(f"{field} may be at most {most}, got {first}", field=field, limit=most)
