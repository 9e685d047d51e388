"""Business rules. Each service takes a GraphStore (through GraphService) and nothing from GraphQL.

Writes take the caller (auth.principal.Principal), check its role themselves and are audited,
all through one write path (services/commits.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from maestro_graph.auth.tokens import TokenMinter
from maestro_graph.runners.base import Runner
from maestro_graph.services.artifacts import ArtifactService
from maestro_graph.services.audit import AuditService
from maestro_graph.services.commits import Commits
from maestro_graph.services.feed import FeedFollower
from maestro_graph.services.graph import GraphService
from maestro_graph.services.lineage import LineageService
from maestro_graph.services.metamodel import MetaModels
from maestro_graph.services.model_cards import ModelCards
from maestro_graph.services.paging import DEFAULT_MAX_PAGE
from maestro_graph.services.projects import ProjectService
from maestro_graph.services.search import SearchService
from maestro_graph.services.subscriptions import SubscriptionHub
from maestro_graph.services.tokens import TokenService
from maestro_graph.services.topology_cache import TopologyCache
from maestro_graph.services.training import TrainingJobs
from maestro_graph.store.base import GraphStore


@dataclass(frozen=True)
class Services:
    store: GraphStore
    graph: GraphService
    projects: ProjectService
    artifacts: ArtifactService
    lineage: LineageService
    audit: AuditService
    tokens: TokenService
    commits: Commits  # the one write path they all share
    feed: FeedFollower  # the one post-commit path: every committed change, this process's and others'
    subscriptions: SubscriptionHub
    training: TrainingJobs
    metamodel: MetaModels
    cards: ModelCards  # model cards: views of the graph, read on each request
    search: SearchService  # one box over the kinds people look for by name

    @classmethod
    def build(cls, store: GraphStore, minter: TokenMinter | None = None, topology: TopologyCache | None = None,
              *, max_page: int = DEFAULT_MAX_PAGE, subscriptions: SubscriptionHub | None = None,
              runners: Mapping[str, Runner] | None = None, **training: Any) -> "Services":
        """Every service on one store; `max_page` is the largest page any of them serves. The feed
        follower is the lineage index's (a new one if none is given). Training jobs run on
        `runners` (none: submitting refuses), with `training` as TrainingJobs' options."""
        commits = Commits(store)
        topology = topology if topology is not None else TopologyCache(store, "off")
        feed = topology.feed
        subscriptions = subscriptions if subscriptions is not None else SubscriptionHub(feed)
        audit = AuditService(store, commits, max_page=max_page)
        graph = GraphService(store, audit, max_page=max_page)
        artifacts = ArtifactService(graph)
        return cls(store, graph, ProjectService(graph), artifacts, LineageService(store, graph, topology),
                   audit, TokenService(audit, minter), commits, feed, subscriptions,
                   TrainingJobs(graph, artifacts, feed, runners or {}, **training), MetaModels(graph, feed),
                   ModelCards(store), SearchService(graph))
