"""Every error a client sees carries extensions.code, and names fields as the API spells them."""

from __future__ import annotations

import re

from graphql import GraphQLError

from maestro_graph.domain.errors import MaestroError

# The codes of errors the client caused and can fix: logged without a traceback (resolvers/schema.py).
CLIENT_ERRORS = frozenset({"BAD_USER_INPUT", "CONFLICT", "FORBIDDEN", "NOT_FOUND", "UNAUTHENTICATED", "LIMIT_EXCEEDED",
                           "GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED"})
VALUE_ERRORS = re.compile(r"cannot represent|invalid value|of required type|was not provided|Expected value of type|does not exist in")


def camel(name: str) -> str:
    """A snake_case name as the API spells it.

    >>> camel("complexity_score")
    'complexityScore'
    """
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def add_code(error: GraphQLError) -> None:
    """Give an error its extensions.code (in place), and camelCase a domain field name."""
    original = error.original_error
    ext = error.extensions if error.extensions is not None else {}
    if isinstance(original, MaestroError):
        field = original.field
        if field and "_" in field:
            ext["field"] = camel(field)
            error.message = error.message.replace(field, camel(field))
    elif "code" not in ext:
        if error.message.startswith("Syntax Error"):
            ext["code"] = "GRAPHQL_PARSE_FAILED"
        elif isinstance(original, (GraphQLError, type(None))) and VALUE_ERRORS.search(error.message):
            ext["code"] = "BAD_USER_INPUT"  # a value of the wrong type, in the document or a variable
        elif original is None:
            ext["code"] = "GRAPHQL_VALIDATION_FAILED"
        else:
            ext["code"] = "INTERNAL_SERVER_ERROR"
    error.extensions = ext
