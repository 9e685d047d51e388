"""Every error a client sees carries extensions.code, names fields as the API spells them, names
nodes by the ids the client sent, and echoes at most a short piece of what the client sent."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from graphql import (
    ArgumentNode, DocumentNode, GraphQLError, Node as AstNode, ObjectFieldNode, VariableDefinitionNode,
)
from strawberry.extensions import SchemaExtension

from maestro_graph.domain.errors import MaestroError
from resolvers.relay import SENT_IDS

# The codes of errors the client caused and can fix: logged without a traceback (resolvers/schema.py).
CLIENT_ERRORS = frozenset({"BAD_USER_INPUT", "CONFLICT", "FORBIDDEN", "NOT_FOUND", "UNAUTHENTICATED", "LIMIT_EXCEEDED",
                           "GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED", "SUBSCRIBER_TOO_SLOW", "CURSOR_EXPIRED"})
VALUE_ERRORS = re.compile(r"cannot represent|invalid value|of required type|was not provided|Expected value of type|does not exist in")
REQUIRED_FIELD = re.compile(r"required field '(\w+)'")
VARIABLE = re.compile(r"^Variable '\$(\w+)'(?: has invalid value at [\w.\[\]]*\.(\w+)(?:\[\d+\])*:)?")
# A long echoed value: our messages quote short names, never 200 characters of prose.
QUOTED = re.compile(r"""'[^'\n]{200,}'|"[^"\n]{200,}"|\{[^{}]{200,}\}""")
MAX_MESSAGE = 500
KEEP = 40  # characters of a long echoed value kept in a message


def camel(name: str) -> str:
    """A snake_case name as the API spells it.

    >>> camel("complexity_score")
    'complexityScore'
    """
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def shorten(message: str) -> str:
    """A message with long echoed values cut: a client that sent 900 KB gets 40 characters back.

    >>> shorten("id: '" + "x" * 900 + "' is not an id")  # doctest: +ELLIPSIS
    "id: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' (902 characters) is not an id"
    """
    def cut(m: re.Match[str]) -> str:
        text = m.group(0)
        return f"{text[:KEEP + 1]}...{text[-1]} ({len(text)} characters)"

    message = QUOTED.sub(cut, message)
    return message if len(message) <= MAX_MESSAGE else message[:MAX_MESSAGE] + "..."


def field_of(node: AstNode | None, document: DocumentNode | None) -> str | None:
    """The argument, input field or variable a value error points at, as the client wrote it."""
    if node is None:
        return None
    if isinstance(node, VariableDefinitionNode):
        return node.variable.name.value
    if document is None:
        return None
    found: list[str] = []

    def visit(ast: Any, names: tuple[str, ...]) -> bool:
        if ast is node:
            found.extend(names)
            return True
        if isinstance(ast, (ArgumentNode, ObjectFieldNode)):
            names = (*names, ast.name.value)
        for key in getattr(ast, "keys", ()):
            child = getattr(ast, key, None)
            children = child if isinstance(child, (list, tuple)) else (child,)
            if any(isinstance(c, AstNode) and visit(c, names) for c in children):
                return True
        return False

    visit(document, ())
    return found[-1] if found else None


def add_code(error: GraphQLError, document: DocumentNode | None = None) -> None:
    """Give an error its extensions.code (and field), in place; cut echoed input short."""
    original = error.original_error
    ext = error.extensions if error.extensions is not None else {}
    if isinstance(original, MaestroError):
        field = original.field
        if field is None and error.nodes:  # a scalar's own check (JSON, DateTime): the argument it was in
            field = field_of(error.nodes[0], document)
            if field:
                ext["field"] = field
        if field and "_" in field:
            ext["field"] = camel(field)
            error.message = error.message.replace(field, camel(field))
        sent = SENT_IDS.get()
        for node_id, global_id in (sent or {}).items():  # the id the client sent, not our store's
            if node_id in error.message:
                error.message = re.sub(rf"(?<![\w-]){re.escape(node_id)}(?![\w-])", global_id, error.message)
    elif "code" not in ext:
        if error.message.startswith("Syntax Error: Document contains more than"):
            ext["code"] = "LIMIT_EXCEEDED"  # the parser's token limit (resolvers/limits.py)
        elif error.message.startswith("Syntax Error"):
            ext["code"] = "GRAPHQL_PARSE_FAILED"
        elif isinstance(original, (GraphQLError, type(None))) and VALUE_ERRORS.search(error.message):
            ext["code"] = "BAD_USER_INPUT"  # a value of the wrong type, in the document or a variable
            required, variable = REQUIRED_FIELD.search(error.message), VARIABLE.search(error.message)
            field = (required.group(1) if required else (variable.group(2) or variable.group(1)) if variable
                     else field_of((error.nodes or [None])[0], document))
            if field:
                ext.setdefault("field", field)
        elif original is None:
            ext["code"] = "GRAPHQL_VALIDATION_FAILED"
        else:
            ext["code"] = "INTERNAL_SERVER_ERROR"
    error.message = shorten(error.message)
    error.extensions = ext


class SentIds(SchemaExtension):
    """Collects the ids this operation's client sent (resolvers/relay.py), for its error messages."""

    def on_operation(self) -> Iterator[None]:
        token = SENT_IDS.set({})
        try:
            yield
        finally:
            SENT_IDS.reset(token)
