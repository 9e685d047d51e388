"""A newcomer finds a root field by grepping resolvers/ for its name: every Query and Mutation field
is a plain function of that name, written in a module under resolvers/ (not made by a factory)."""

import inspect
from pathlib import Path

import pytest

from resolvers.errors import camel
from resolvers.schema import Mutation, Query, build_schema

RESOLVERS = Path(__file__).resolve().parents[2] / "resolvers"
build_schema()  # resolves every type, as the server does


def root_fields() -> list[tuple[str, object]]:
    return [(f"{root.__name__}.{f.python_name}", f) for root in (Query, Mutation)
            for f in root.__strawberry_definition__.fields]


@pytest.mark.parametrize(("name", "field"), root_fields(), ids=[n for n, _ in root_fields()])
def test_every_root_field_is_written_out_where_a_grep_finds_it(name, field):
    assert field.base_resolver is not None, f"{name} has no resolver"
    func = inspect.unwrap(field.base_resolver.wrapped_func)
    path = Path(inspect.getsourcefile(func)).resolve()
    assert path.is_relative_to(RESOLVERS), f"{name} is defined in {path}, outside resolvers/"
    assert func.__name__ == field.python_name, (
        f"{name} is resolved by {func.__qualname__} in {path.relative_to(RESOLVERS)}: a generated field, "
        f"not one written out as `def {field.python_name}`")
    source = path.read_text()
    assert f"def {field.python_name}(" in source or camel(field.python_name) in source, (
        f"grep finds neither {field.python_name} nor {camel(field.python_name)} in {path.relative_to(RESOLVERS)}")



@pytest.mark.parametrize(("name", "field"), root_fields(), ids=[n for n, _ in root_fields()])
def test_every_root_field_tells_clients_what_it_does(name, field):
    # A resolver's docstring is not a GraphQL description: clients only see `description=`.
    assert field.description, f"{name} has no description in the schema"
