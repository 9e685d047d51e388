"""The executor: graphql-core's, with a shortcut for the fields that decide nothing.

Most of an answer is plain values: a node's name, an edge's distance, a node's global id, a
connection's edges. For each of them graphql-core builds a path and a resolve info, calls
strawberry's resolver wrapper, checks for an awaitable and completes the value through the
non-null, list and object steps; that, not the store, was most of a large answer's time
(docs/performance.md, issue #28).

A field is *plain* when it takes no arguments and its value is an attribute of its parent
(strawberry's basic field: no resolver, no permission class, no extension) or a relay node's
global id. A plain field of a scalar or enum type is read and coerced in place; one of an object
type, or a list of one, has its sub-selection executed directly. When everything below such a
field is plain too (an impact report's items, a page of edges with their nodes' names), the
selection is answered from a *plan* worked out once per execution: plain reads into dicts, with
no per-object step through graphql-core at all.

Anything else takes graphql-core's own path, and so does any plain value that would be an error
(null where null is not allowed, an exception, a value its scalar refuses, an object of another
type), so errors read exactly as graphql-core words them. tests/unit/test_executor.py holds this
executor to graphql-core's answers.

Resolvers marked `direct` (the relationship pages) are called by graphql-core itself, without
strawberry's wrapper; and each field's arguments are coerced once per execution, not once per
object.
"""

from __future__ import annotations

import weakref
from base64 import b64encode
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from graphql import (GraphQLBoolean, GraphQLEnumType, GraphQLID, GraphQLInt, GraphQLList, GraphQLNonNull,
                     GraphQLObjectType, GraphQLOutputType, GraphQLSchema, GraphQLString, Undefined, is_leaf_type)
from graphql.execution.executor import gather_with_cancel
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path
from graphql.type.definition import GraphQLResolveInfoHelpers
from strawberry import relay
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.base import StrawberryObjectDefinition

LEAF, OBJECT, LIST, TYPENAME = 0, 1, 2, 3


class Plain(NamedTuple):
    read: Callable[[Any], Any]
    kind: int  # LEAF, OBJECT or LIST (of objects)
    type: GraphQLOutputType  # the field's type as declared (non-null or not)
    inner: Any  # LEAF: the scalar or enum; OBJECT: the object type; LIST: the item type as declared
    nullable: bool
    item: GraphQLObjectType | None = None  # LIST: the object type of its items
    item_nullable: bool = True
    coerce: Callable[[Any], Any] | None = None  # LEAF: inner.coerce_output_value, or a shortcut to it


MAX_INT, MIN_INT = 2**31 - 1, -(2**31)


def _coercer(leaf: Any) -> Callable[[Any], Any]:
    """The leaf type's coerce_output_value, with the common case taken first: a str for String or
    ID, a bool for Boolean, an int in range for Int are what graphql-core returns them as."""
    coerce = leaf.coerce_output_value
    if leaf is GraphQLString or leaf is GraphQLID:
        return lambda v: v if type(v) is str else coerce(v)
    if leaf is GraphQLBoolean:
        return lambda v: v if type(v) is bool else coerce(v)
    if leaf is GraphQLInt:
        return lambda v: v if type(v) is int and MIN_INT <= v <= MAX_INT else coerce(v)
    return coerce


_PLAIN: dict[GraphQLObjectType, dict[str, Plain]] = {}
_BACKREF = GraphQLCoreConverter.DEFINITION_BACKREF


def _global_id(type_name: str, attr: str) -> Callable[[Any], Any]:
    """relay's global id, as the string its GlobalID serialises to (base64 of "Type:id")."""
    prefix = f"{type_name}:"

    def read(source: Any) -> str | None:
        node_id = getattr(source, attr)
        return None if node_id is None else b64encode(f"{prefix}{node_id}".encode()).decode()
    return read


def _reader(parent: GraphQLObjectType, name: str, field: Any) -> Callable[[Any], Any] | None:
    """How to read a plain field's value without its resolver, or None when it is not plain."""
    definition = field.extensions.get(_BACKREF)
    if getattr(field.resolve, "__name__", "") == "_get_basic_result":  # strawberry's own: getattr, nothing else
        if definition is None or not definition.is_basic_field:
            return None
        attr = definition.python_name
        return lambda source: getattr(source, attr)
    owner = parent.extensions.get(_BACKREF)
    resolver = getattr(getattr(definition, "base_resolver", None), "wrapped_func", None)
    if name == "id" and isinstance(owner, StrawberryObjectDefinition) and isinstance(owner.origin, type) \
            and issubclass(owner.origin, relay.Node) and not definition.extensions \
            and getattr(resolver, "__func__", None) is relay.Node._id.__func__:  # type: ignore[attr-defined]
        node = owner.origin
        # relay's own `id` resolver reads resolve_typename and resolve_id; a type that overrides
        # either keeps it.
        if node.resolve_id.__func__ is relay.Node.resolve_id.__func__ \
                and node.resolve_typename.__func__ is relay.Node.resolve_typename.__func__:  # type: ignore[attr-defined]
            return _global_id(parent.name, node.resolve_id_attr())
    return None


def _unwrap(kind: Any) -> tuple[Any, bool]:
    return (kind.of_type, False) if isinstance(kind, GraphQLNonNull) else (kind, True)


def _checkable(object_type: GraphQLObjectType) -> bool:
    """Whether values of this type can be taken without graphql-core's `is_type_of` check with
    its resolve info: strawberry's own check reads only the value."""
    check = object_type.is_type_of
    return check is None or "_get_is_type_of" in getattr(check, "__qualname__", "")


def _plain(parent: GraphQLObjectType, name: str, field: Any) -> Plain | None:
    if field.args:
        return None
    inner, nullable = _unwrap(field.type)
    if is_leaf_type(inner):
        read = _reader(parent, name, field)
        return None if read is None else Plain(read, LEAF, field.type, inner, nullable, coerce=_coercer(inner))
    if isinstance(inner, GraphQLObjectType) and _checkable(inner):
        read = _reader(parent, name, field)
        return None if read is None else Plain(read, OBJECT, field.type, inner, nullable)
    if isinstance(inner, GraphQLList):
        item, item_nullable = _unwrap(inner.of_type)
        if isinstance(item, GraphQLObjectType) and _checkable(item):
            read = _reader(parent, name, field)
            return None if read is None else Plain(read, LIST, field.type, inner.of_type, nullable, item, item_nullable)
    return None


def plain_fields(parent: GraphQLObjectType) -> dict[str, Plain]:
    """The plain fields of a type (by field name), worked out once per type."""
    found = _PLAIN.get(parent)
    if found is None:
        found = {}
        for name, field in parent.fields.items():
            plain = _plain(parent, name, field)
            if plain is not None:
                found[name] = plain
        _PLAIN[parent] = found
    return found


def _takes(object_type: GraphQLObjectType, value: Any) -> bool:
    """Whether graphql-core would complete this value as an object of this type without error."""
    if value is None or isinstance(value, Exception):
        return False
    check = object_type.is_type_of
    return check is None or bool(check(value, None))


def direct(resolver: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a resolver that graphql-core may call as it is, without strawberry's wrapper around
    it (an Info object, argument conversion, the extension chain): `resolver(parent, info,
    **arguments)`, arguments by their GraphQL names. Its `info` is then graphql-core's resolve info:
    the resolver may read only `info.context` from it. `use_direct_resolvers` checks that nothing
    is lost: no permission class or extension on the field, and arguments that are scalars named
    alike in Python and GraphQL, so there is nothing to convert."""
    resolver.__maestro_direct__ = True  # type: ignore[attr-defined]
    return resolver


def use_direct_resolvers(schema: GraphQLSchema) -> int:
    """Let graphql-core call each `direct` resolver itself; returns how many fields do."""
    count = 0
    for graphql_type in schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType):
            continue
        for name, field in graphql_type.fields.items():
            definition = field.extensions.get(_BACKREF)
            func = getattr(getattr(definition, "base_resolver", None), "wrapped_func", None)
            if not getattr(func, "__maestro_direct__", False):
                continue
            where = f"{graphql_type.name}.{name}"
            assert not definition.extensions, f"{where}: a direct resolver cannot have a permission class or extension"
            python_names = {a.python_name for a in definition.arguments}
            for arg_name, arg in field.args.items():
                assert arg_name in python_names and is_leaf_type(_unwrap(arg.type)[0]) and not isinstance(
                    _unwrap(arg.type)[0], GraphQLEnumType), f"{where}({arg_name}): a direct resolver takes scalars named alike"
            field.resolve = func
            count += 1
    return count


# A plan: how to answer a selection made only of plain fields (and __typename), as steps of
# (response name, kind, read, a leaf's coercer or (object type, its class) or the typename, nullable,
#  sub-plan, (item type, its class), item nullable).
Step = tuple[str, int, Any, Any, bool, Any, Any, bool]


def _answer(plan: tuple[Step, ...], source: Any) -> dict[str, Any]:
    """The answer to a plan's selection on one value. Raises on anything graphql-core would report
    (a null where null is not allowed, a value a scalar refuses, an object of another type): the
    caller then lets graphql-core's path take the value and word the error. Only reads, so
    nothing is done twice."""
    out: dict[str, Any] = {}
    for name, kind, read, inner, nullable, sub, item_type, item_nullable in plan:
        if kind == TYPENAME:
            out[name] = inner
            continue
        value = read(source)
        if value is None:
            if not nullable:
                raise _NotPlain
            out[name] = None
        elif kind == LEAF:
            coerced = inner(value)
            if coerced is None or coerced is Undefined:
                raise _NotPlain
            out[name] = coerced
        elif kind == OBJECT:
            if not _is(inner, value):
                raise _NotPlain
            out[name] = _answer(sub, value)
        else:
            if not isinstance(value, (list, tuple)):
                raise _NotPlain
            items: list[Any] = []
            for item in value:
                if item is None and item_nullable:
                    items.append(None)
                elif _is(item_type, item):
                    items.append(_answer(sub, item))
                else:
                    raise _NotPlain
            out[name] = items
    return out


_CAST = "__as_strawberry_type__"  # strawberry.cast's mark: such a value needs strawberry's own check


def _is(kind: tuple[GraphQLObjectType, type | None], value: Any) -> bool:
    """_takes, with the common case first: a value of the type's own class, not cast."""
    return (type(value) is kind[1] and _CAST not in value.__dict__) or _takes(kind[0], value)


def _origin(object_type: Any) -> type | None:
    definition = object_type.extensions.get(_BACKREF)
    return getattr(definition, "origin", None)


class _NotPlain(Exception):
    """A value a plan does not take."""


class Executor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's `execute_fields`, taking plain fields in place (see the module's doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # graphql-core's helpers are bound methods of the executor it holds: a reference cycle,
        # so every request's executor, and all it reaches (its context, the loaders, every node
        # read), would live until the cyclic collector's next pass, which then walks all those
        # requests' objects at once while the event loop waits. Through a weak reference the
        # executor is freed when its request ends; while it runs, its coroutines hold it.
        me = weakref.ref(self)
        self.async_helpers = GraphQLResolveInfoHelpers(gather=lambda values: me().gather_async_work(values),  # type: ignore[union-attr]
                                                       track=lambda values: me().track_async_work(values))  # type: ignore[union-attr]

    def _plan(self, object_type: GraphQLObjectType, field_details_list: Any) -> tuple[Step, ...] | None:
        """The plan for this selection on this type, or None when some field below is not plain;
        worked out once per execution, as graphql-core collects a selection's fields once."""
        plans = self.__dict__.setdefault("_plans", {})
        key = (object_type, id(field_details_list))
        held = plans.get(key)
        if held is None:  # kept alive with its plan, so that the id stays the selection's
            held = plans[key] = (field_details_list, self._build_plan(object_type, field_details_list))
        return held[1]

    def _build_plan(self, object_type: GraphQLObjectType, field_details_list: Any) -> tuple[Step, ...] | None:
        grouped, new_defer_usages, _ = self.collect_subfields(object_type, field_details_list)
        if new_defer_usages:
            return None
        plain = plain_fields(object_type)
        steps: list[Step] = []
        for name, details in grouped.items():
            node = details[0].node
            if node.name.value == "__typename":
                steps.append((name, TYPENAME, None, object_type.name, False, None, None, False))
                continue
            entry = plain.get(node.name.value)
            if entry is None or node.arguments:
                return None
            sub = None
            if entry.kind != LEAF:
                sub = self._plan(entry.inner if entry.kind == OBJECT else entry.item, details)  # type: ignore[arg-type]
                if sub is None:
                    return None
            # A leaf step holds its coercer; an object step its type and the class its values are
            # when nothing needs checking (strawberry's is_type_of accepts that class).
            inner = entry.coerce if entry.kind == LEAF else (entry.inner, _origin(entry.inner)) if entry.kind == OBJECT else None
            item = (entry.item, _origin(entry.item)) if entry.kind == LIST else None
            steps.append((name, entry.kind, entry.read, inner, entry.nullable, sub, item, entry.item_nullable))
        return tuple(steps)

    def execute_fields(self, parent_type: GraphQLObjectType, source_value: Any, path: Path | None,
                       grouped_field_set: Any, position_context: Any) -> Any:
        plain = plain_fields(parent_type)
        # Middleware (a schema extension with a `resolve` hook) must see every field: none then.
        if not plain or (self.middleware_manager is not None and self.middleware_manager.middlewares):
            return super().execute_fields(parent_type, source_value, path, grouped_field_set, position_context)
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for response_name, field_details_list in grouped_field_set.items():
                node = field_details_list[0].node
                entry = plain.get(node.name.value)
                result: Any = Undefined
                if entry is not None and not node.arguments:
                    if entry.kind == LEAF:  # most fields of an answer: taken here, without a call
                        try:
                            value = entry.read(source_value)
                            if value is None:
                                if entry.nullable:
                                    results[response_name] = None
                                    continue
                            else:
                                value = entry.coerce(value)  # type: ignore[misc]
                                if value is not None and value is not Undefined:
                                    results[response_name] = value
                                    continue
                        except Exception:  # noqa: BLE001  # graphql-core's path below reports it
                            pass
                    else:
                        result = self._take(entry, source_value, field_details_list, path, response_name, parent_type,
                                            position_context)
                if result is Undefined:
                    result = self.execute_field(parent_type, source_value, field_details_list,
                                                Path(path, response_name, parent_type.name), position_context)
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise
        if not awaitable_fields:
            return results
        return self._awaited(results, awaitable_fields)

    def execute_field(self, parent_type: GraphQLObjectType, source: Any, field_details_list: Any, path: Path,
                      position_context: Any) -> Any:
        """graphql-core's execute_field, with each field's arguments coerced once per execution:
        they depend only on the field in the document and the operation's variables, and a list
        of a thousand items would otherwise coerce `first: 10` a thousand times."""
        first = field_details_list[0]
        node = first.node
        field_def = self.schema.get_field(parent_type, node.name.value)
        if not field_def:
            return Undefined
        return_type = field_def.type
        resolve_fn = field_def.resolve or self.field_resolver
        if self.middleware_manager:
            resolve_fn = self.middleware_manager.get_field_resolver(resolve_fn)
        info = self.build_resolve_info(field_def, [d.node for d in field_details_list], parent_type, path)
        try:
            if field_def.args or node.arguments:
                cache = self.__dict__.setdefault("_arguments", {})
                held = cache.get(id(first))
                if held is None:  # the field's details are kept alive with its values, so the id stays theirs
                    held = cache[id(first)] = (first, get_argument_values(
                        field_def, node, self.variable_values, first.fragment_variable_values, self.hide_suggestions))
                args = held[1]
            else:
                args = {}
            result = resolve_fn(source, info, **args)
            if self.is_awaitable(result):
                return self.complete_awaitable_value(return_type, field_details_list, info, path, result,
                                                     position_context)
            completed = self.complete_value(return_type, field_details_list, info, path, result, position_context)
            if self.is_awaitable(completed):
                return self._guarded(completed, return_type, field_details_list, path)
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
        return completed

    def _take(self, entry: Plain, source: Any, field_details_list: Any, path: Path | None, response_name: str,
              parent_type: GraphQLObjectType, position_context: Any) -> Any:
        """A plain object or list field's completed value, or Undefined to leave it to graphql-core's path."""
        try:
            value = entry.read(source)
        except Exception:  # noqa: BLE001  # graphql-core's path reads it again and reports it
            return Undefined
        if value is None:
            return None if entry.nullable else Undefined
        field_path = Path(path, response_name, parent_type.name)
        if entry.kind == OBJECT:
            if not _takes(entry.inner, value):
                return Undefined
            plan = self._plan(entry.inner, field_details_list)
            answer = lambda: _answer(plan, value)  # noqa: E731
            complete = lambda: self.collect_and_execute_subfields(  # noqa: E731
                entry.inner, field_details_list, field_path, value, position_context)
        else:
            if not isinstance(value, (list, tuple)) or not all(_takes(entry.item, item) for item in value):  # type: ignore[arg-type]
                return Undefined
            plan = self._plan(entry.item, field_details_list)  # type: ignore[arg-type]
            answer = lambda: [_answer(plan, item) for item in value]  # noqa: E731
            complete = lambda: self._objects(entry, field_details_list, field_path, value, position_context)  # noqa: E731
        if plan is not None:
            try:
                return answer()
            except Exception:  # noqa: BLE001  # graphql-core's path below takes the value and words the error
                pass
        # What execute_field does around complete_value: an error nulls this field, or its parent
        # when the field is non-null.
        try:
            completed = complete()
        except Exception as raw_error:
            self.handle_field_error(raw_error, entry.type, field_details_list, field_path)
            return None
        if self.is_awaitable(completed):
            return self._guarded(completed, entry.type, field_details_list, field_path)
        return completed

    def _objects(self, entry: Plain, field_details_list: Any, path: Path, items: Any, position_context: Any) -> Any:
        """complete_iterable_value for a list of objects already known to be of the item type."""
        item_type = entry.item
        is_awaitable = self.is_awaitable
        completed: list[Any] = []
        awaitable_indices: list[int] = []
        try:
            for index, item in enumerate(items):
                item_path = path.add_key(index, None)
                try:
                    value = self.collect_and_execute_subfields(item_type, field_details_list, item_path, item,  # type: ignore[arg-type]
                                                               position_context)
                    if is_awaitable(value):
                        value = self._guarded(value, entry.inner, field_details_list, item_path)
                        awaitable_indices.append(index)
                except Exception as raw_error:
                    self.handle_field_error(raw_error, entry.inner, field_details_list, item_path)
                    value = None
                completed.append(value)
        except Exception:
            if awaitable_indices:
                self.settle_in_background([completed[i] for i in awaitable_indices])
            raise
        if not awaitable_indices:
            return completed
        return self._awaited(completed, awaitable_indices)

    async def _guarded(self, completed: Awaitable[Any], return_type: GraphQLOutputType, field_details_list: Any,
                       path: Path) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None

    @staticmethod
    async def _awaited(values: Any, keys: list[Any]) -> Any:
        """`values` (a field dict or a list) with the awaitables at `keys` replaced by their results,
        awaited together."""
        if len(keys) == 1:
            values[keys[0]] = await values[keys[0]]
        else:
            for key, value in zip(keys, await gather_with_cancel(*(values[key] for key in keys)), strict=True):
                values[key] = value
        return values
