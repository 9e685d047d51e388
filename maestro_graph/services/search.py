"""Search by name across the kinds of node people look for: one listing per kind, run at once."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from maestro_graph.domain.errors import BadInput
from maestro_graph.domain.graph import Label, Node, NodeQuery
from maestro_graph.services.graph import MAX_FILTER_TEXT, GraphService
from maestro_graph.services.paging import check_page_size
from maestro_graph.types import Tenant

# What a search box finds, in the order its results are grouped when the caller names no kinds.
SEARCHABLE: tuple[Label, ...] = (Label.DATASET, Label.FIELD, Label.JOB, Label.PROJECT, Label.ARTIFACT, Label.MODEL)


@dataclass(frozen=True, slots=True)
class SearchGroup:
    """The first nodes of one kind whose name holds the text (in name order), and how many do."""

    label: Label
    nodes: list[Node]
    total: int


class SearchService:
    def __init__(self, graph: GraphService) -> None:
        self.graph = graph

    async def search(self, tenant: Tenant, text: str, labels: Sequence[Label] | None = None,
                     first: int = 20) -> list[SearchGroup]:
        """Nodes of each of `labels` (every searchable kind when None) whose name holds `text`,
        case-insensitively: up to `first` of each kind, grouped in the order the kinds were asked.
        BadInput (field `text`) for blank or over-long text, (field `kinds`) for no kind or one
        that is not searched by name."""
        wanted = text.strip()
        if not wanted:
            raise BadInput("text: say what to search for (it is blank)", field="text")
        if len(wanted) > MAX_FILTER_TEXT:
            # a name is at most this long, so longer text cannot match anything
            raise BadInput(f"text: at most {MAX_FILTER_TEXT} characters, got {len(wanted)}", field="text")
        kinds = tuple(dict.fromkeys(labels)) if labels is not None else SEARCHABLE
        if not kinds:
            raise BadInput("kinds: name at least one kind, or leave kinds out to search them all", field="kinds")
        for label in kinds:
            if label not in SEARCHABLE:
                raise BadInput(f"kinds: {label.value} is not searched by name", field="kinds")
        check_page_size(first, self.graph.max_page)
        pages = await asyncio.gather(*(self.graph.find(tenant, NodeQuery(label, text=wanted, first=first)) for label in kinds))
        return [SearchGroup(label, page.nodes, page.total) for label, page in zip(kinds, pages)]
