"""Strings the graph refuses, and how names are compared: one rule for every backend."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any

from pydantic import StringConstraints, TypeAdapter, ValidationError

from maestro_graph.domain.errors import BadInput
from maestro_graph.types import Props

# A tag as stored: stripped, lower case, 1-64 characters, no comma (tags are stored comma-joined).
Tag = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=64, pattern=r"^[^,]+$")]

# U+0000 is refused in every string the graph is given (props, relationship props, ids, filters,
# cursors): PostgreSQL cannot store it in text or JSONB, and one rule for every backend keeps
# their answers the same.
NUL = "\x00"


def _nul_at(value: Any) -> list[str] | None:
    """Where in a JSON-like value a string (or a dict key) holds U+0000: the path of keys and
    indexes to it ([] for the value itself), or None.

    >>> _nul_at({"a": ["x", "y" + NUL]})
    ['a', '1']
    """
    if type(value) is str:
        return [] if NUL in value else None
    if isinstance(value, dict):
        for k, v in value.items():
            if NUL in str(k):
                return []
            if (where := _nul_at(v)) is not None:
                return [str(k), *where]
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            if (where := _nul_at(v)) is not None:
                return [str(i), *where]
    return None


def refuse_nul(what: str, props: Props) -> None:
    """BadInput naming the first prop (path) that holds U+0000, if any."""
    if (where := _nul_at(props)) is not None:
        loc = ".".join(where) or what
        raise BadInput(f"{what}.{loc}: must not contain the character U+0000 (NUL)", field=loc)


def fold(text: str) -> str:
    """Text as name filters compare it, on every backend: Unicode case folding of its NFKC form,
    so a filter finds a name however either was cased or composed (ß and SS, É and é, Σ and ς).
    Stores keep fold(name) beside the name and compare fold(filter) against it.

    >>> fold("Straße") == fold("STRASSE"), fold("ÉCOLE") == fold("école"), fold("İ")
    (True, True, 'i̇')
    """
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def check_text(value: str, field: str, max_length: int) -> str:
    """A free-text argument (a filter, a cursor, an id): refused when longer than `max_length`
    characters or holding U+0000.

    >>> check_text("churn", "text", 300)
    'churn'
    """
    if len(value) > max_length:
        raise BadInput(f"{field}: at most {max_length} characters, got {len(value)}", field=field)
    if NUL in value:
        raise BadInput(f"{field}: must not contain the character U+0000 (NUL)", field=field)
    return value


_TAG = TypeAdapter(Tag)


def check_tag(value: str, field: str = "tags") -> str:
    """A tag to filter by, normalised as stored tags are (stripped, lower case); BadInput if no
    tag could be stored as it (empty, longer than 64 characters, a comma, U+0000).

    >>> check_tag(" PII ")
    'pii'
    """
    if NUL in value:
        raise BadInput(f"{field}: must not contain the character U+0000 (NUL)", field=field)
    try:
        return _TAG.validate_python(value)
    except ValidationError as err:
        raise BadInput(f"{field}: not a tag: {err.errors()[0]['msg']}", field=field) from None
