"""search: one box over datasets, columns, jobs, projects, artifacts and models; the rules are services/search.py's."""

from typing import Optional

import strawberry

from resolvers.context import Info
from resolvers.permissions import VIEWER
from resolvers.relay import DEFAULT_PAGE
from resolvers.search.types import SearchKind, SearchResult


@strawberry.type
class SearchQuery:
    @strawberry.field(description="Nodes whose name holds `text` (case-insensitive): up to `first` of each kind, "
                                  "grouped by kind (every searchable kind when `kinds` is null), with how many match.",
                      permission_classes=VIEWER)
    async def search(self, info: Info, text: str, kinds: Optional[list[SearchKind]] = None,
                     first: int = DEFAULT_PAGE) -> SearchResult:
        ctx = info.context
        labels = [k.label for k in kinds] if kinds is not None else None
        return SearchResult.of(await ctx.services.search.search(ctx.tenant, text, labels, first))
