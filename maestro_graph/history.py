"""A history generator: a tenant of N past projects (and some still active) made by a documented
generative process, for the meta-model to learn from and be judged on (docs/history-generator.md
states the process with its coefficients; keep the two in step).

Each person has a hidden skill and each artifact a hidden quality. Neither is ever stored: the
graph shows only what a real tenant would show (who worked on what, in which role, which
artifacts each project reused and how its users rated them, process metrics, lineage, and the
outcomes of finished projects). A model that reads the graph can recover much of what the hidden
variables do (members' experience and past success, artifacts' past ratings and the success of
projects that reused them); one that sees only team size, complexity and problem class cannot.

Deterministic: the same number of projects and seed give the same graph (names and values; node
ids of unkeyed labels are fresh, as everywhere). Loaded through the store's bulk write path in
ChangeSets of a few thousand nodes, into an empty tenant; loading the same history again changes
nothing, and any other graph in the tenant is refused."""

from __future__ import annotations

import bisect
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

from maestro_graph.domain.errors import BadInput, Conflict
from maestro_graph.domain.graph import ChangeSet, Edge, Label, Node, Rel
from maestro_graph.domain.keys import natural_key
from maestro_graph.domain.props import validate_props
from maestro_graph.domain.vocabulary import ARTIFACT_TYPES
from maestro_graph.services import Services
from maestro_graph.services.graph import GraphService
from maestro_graph.types import Tenant

MAX_PROJECTS = 50_000  # a history bigger than this is a benchmark, not a demo
BATCH_NODES = 4_000  # nodes per ChangeSet: one transaction each, a progress step each

# -- time -------------------------------------------------------------------------------------------
START = datetime(2022, 1, 3, tzinfo=timezone.utc)  # the first project may start on this day
SPAN_DAYS = 1461  # projects start over four years; the history is "as of" START + SPAN_DAYS
JOINED_BEFORE = 0.4  # the share of people already there at START; the rest join over the span

# -- the generative process (docs/history-generator.md) -------------------------------------------
ROLES = ("lead", "data_scientist", "ml_engineer", "data_engineer", "analyst")
OTHER_ROLES, OTHER_ROLE_WEIGHTS = ROLES[1:], (0.35, 0.25, 0.25, 0.15)
P_LEAD = 0.8  # a team's first member is its lead this often; otherwise the team has no lead
P_HOME_TEAM = 0.75  # each member comes from the project's home team this often
PROBLEM_OFFSET = {  # how hard a problem class is, in success points
    "classification": 5.0, "regression": 4.0, "forecasting": 0.0, "ranking": -2.0, "recommendation": -3.0,
    "nlp": -4.0, "computer_vision": -5.0, "anomaly_detection": -1.0, "clustering": 2.0, "other": 0.0,
}
PROBLEM_WEIGHTS = (0.2, 0.14, 0.14, 0.08, 0.1, 0.1, 0.07, 0.09, 0.05, 0.03)  # in PROBLEM_OFFSET's order
ARTIFACTS_PER_PROJECT = (0, 1, 2, 3, 4, 5, 6)
ARTIFACTS_PER_PROJECT_WEIGHTS = (0.05, 0.15, 0.25, 0.25, 0.15, 0.1, 0.05)
ZIPF = 1.1  # artifact popularity: weight 1 / rank ** ZIPF

SUCCESS_BASE = 63.0
SUCCESS_COMPLEXITY = -2.0  # per complexity point above 5.5
SUCCESS_SIZE = -1.2  # times (team size - optimum) squared ...
SUCCESS_SIZE_CAP = 25.0  # ... at most this many points
SUCCESS_SKILL = 9.0  # times the members' mean effective skill
EXPERIENCE = 0.8  # effective skill = skill + EXPERIENCE * (ln(1 + finished projects) - EXPERIENCE_CENTRE)
EXPERIENCE_CENTRE = 1.9
SUCCESS_LEAD = 5.0
SUCCESS_DATA_ENGINEER = 4.0
SUCCESS_ROLES_CENTRE = 4.5  # subtracted, so a team with a lead and a data engineer is +4.5
SUCCESS_ARTIFACT = 3.5  # times the sum of the reused artifacts' qualities
SUCCESS_NOISE = 8.0
RATING_QUALITY, RATING_NOISE = 1.8, 1.5  # a user's rating = 5 + 1.8 q + N(0, 1.5), in 0..10

DURATION_BASE, DURATION_COMPLEXITY = 40.0, 15.0
DURATION_SIZE = 0.06  # per member away from the optimum
DURATION_SKILL, DURATION_ARTIFACT, DURATION_NOISE = -0.12, -0.05, 0.2
COST_PER_PERSON_DAY, COST_COMPLEXITY, COST_NOISE = 600.0, 0.04, 0.15

# -- names ------------------------------------------------------------------------------------------
FIRST = ["Ada", "Alan", "Amara", "Ana", "Arjun", "Ben", "Bo", "Carla", "Chen", "Dara", "David", "Elena", "Emeka", "Eva",
         "Farah", "Felix", "Grace", "Hana", "Hugo", "Ines", "Ivan", "Jon", "Julia", "Kai", "Kenji", "Lara", "Leo", "Lina",
         "Marco", "Maya", "Mei", "Nadia", "Noah", "Omar", "Priya", "Rosa", "Sam", "Sofia", "Tariq", "Yara"]
LAST = ["Abara", "Berg", "Castro", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito", "Jensen", "Kowalski",
        "Larsen", "Moreau", "Nakamura", "Okafor", "Petrov", "Quinn", "Rossi", "Sato", "Silva", "Tanaka", "Umar",
        "Varga", "Weber", "Xu", "Yilmaz", "Zhang", "Novak", "Ahmed", "Brown", "Costa", "Diaz", "Evans", "Fontaine",
        "Gupta", "Horvat", "Iyer", "Kim", "Lopez", "Murphy"]
TEAM_NAMES = ["Aurora", "Borealis", "Cobalt", "Delta", "Ember", "Fjord", "Granite", "Harbor", "Indigo", "Juniper",
              "Kestrel", "Lumen", "Meridian", "Nimbus", "Onyx", "Polaris", "Quartz", "Redwood", "Sierra", "Tundra",
              "Umber", "Vertex", "Willow", "Zenith"]
ARTIFACT_STEMS = {
    "feature_pipeline": ["customer", "orders", "sessions", "payments", "geo", "text", "images", "calendar", "prices",
                         "devices", "clicks", "inventory", "tickets", "returns", "weather", "catalog"],
    "model_template": ["xgboost", "lightgbm", "prophet", "bert", "resnet", "two-tower", "isolation-forest", "kmeans",
                       "quantile", "tft", "logistic", "arima", "catboost", "vit"],
    "schema": ["customer", "order", "event", "ticket", "payment", "product", "label", "prediction-log", "invoice"],
    "notebook": ["eda", "feature-importance", "drift", "ab-test", "error-analysis", "calibration", "fairness",
                 "backtest", "cohort"],
    "other": ["model-card", "serving-config", "dashboard", "runbook", "alerting"],
}
ARTIFACT_SUFFIX = {"feature_pipeline": "features", "model_template": "template", "schema": "schema",
                   "notebook": "notebook", "other": "kit"}
ARTIFACT_TYPE_WEIGHTS = (0.3, 0.25, 0.15, 0.2, 0.1)  # in ARTIFACT_TYPES' order
TAGS = ["tabular", "streaming", "text", "images", "batch", "gpu", "finance", "marketing", "core", "realtime"]
TOPICS = ["churn", "fraud", "demand", "pricing", "search", "recsys", "support", "invoices", "credit", "segments",
          "delivery", "sentiment", "traffic", "payments", "clicks", "inventory", "autocomplete", "defects", "ltv",
          "offers", "returns", "forecast", "routing", "leads", "claims", "energy", "staffing", "quotes"]
STAGES = ["raw", "clean", "features", "training"]  # a project's datasets, in lineage order
COLUMNS = ["id", "customer_id", "amount", "created_at", "country", "label", "score", "category", "quantity", "channel",
           "device", "segment", "price", "event_type", "region", "status"]
METRICS = ("commits_per_week", "avg_pr_merge_hours", "ci_success_rate")
METRIC_EVERY_DAYS, METRIC_SAMPLES = 14, 6


def optimum_size(complexity: int) -> float:
    """The team size at which a project of this complexity does best.

    >>> optimum_size(1), optimum_size(10)
    (2.5, 7.0)
    """
    return 2.0 + 0.5 * complexity


def clamp(value: float, lo: float, hi: float) -> float:
    return lo if value < lo else hi if value > hi else value


def stamp(day: float) -> str:
    """The timestamp `day` days after START.

    >>> stamp(1.5)
    '2022-01-04T12:00:00Z'
    """
    return (START + timedelta(days=day)).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Person:
    node: Node
    team: int
    joined: float
    skill: float  # hidden: never stored
    finished: list[float] = field(default_factory=list)  # days their projects finished, sorted

    def experience(self, day: float) -> int:
        """How many of this person's projects finished before `day`."""
        return bisect.bisect_left(self.finished, day)


@dataclass
class _Artifact:
    node: Node
    quality: float  # hidden: never stored
    weight: float  # popularity
    ratings: list[float] = field(default_factory=list)


@dataclass
class History:
    """A generated history: ChangeSets to apply in order, and what they hold."""

    batches: list[ChangeSet]
    projects: int
    finished: int
    nodes: int
    relationships: int
    last_project: Node  # written by the last ChangeSet: if it is stored, the whole history is


def generate(graph: GraphService, tenant: Tenant, projects: int, seed: int) -> History:
    """The history of `projects` projects made with `seed`, as ChangeSets for `tenant`."""
    if not 1 <= projects <= MAX_PROJECTS:
        raise BadInput(f"projects: from 1 to {MAX_PROJECTS:,}, got {projects}", field="projects")
    rnd = random.Random(f"maestro-history/{projects}/{seed}")
    build = lambda label, **p: graph.build(tenant, label, p)  # noqa: E731

    # Teams, people (each with a hidden skill) and artifacts (each with a hidden quality).
    n_people = max(20, round(projects / 4))
    n_teams = max(4, min(len(TEAM_NAMES), round(n_people / 12)))
    teams = [build(Label.TEAM, name=f"Team {TEAM_NAMES[t]}") for t in range(n_teams)]
    names = [(f, l) for f in FIRST for l in LAST]
    rnd.shuffle(names)
    people: list[_Person] = []
    for j in range(n_people):
        first, last = names[j % len(names)]
        again = j // len(names)
        name = f"{first} {last}" + (f" {again + 1}" if again else "")
        email = f"{first}.{last}{again + 1 if again else ''}@history.example.com".lower()
        since = -rnd.uniform(0, 365) if j < JOINED_BEFORE * n_people else rnd.uniform(0, SPAN_DAYS - 120)
        people.append(_Person(build(Label.PERSON, name=name, email=email), rnd.randrange(n_teams), since, rnd.gauss(0, 1)))
    people.sort(key=lambda p: p.joined)
    joined = [p.joined for p in people]
    founders = [p for p in people if p.joined <= 0]

    n_artifacts = min(120, 60 + projects // 40)
    artifacts: list[_Artifact] = []
    taken: set[str] = set()
    ranks = list(range(1, n_artifacts + 1))
    rnd.shuffle(ranks)
    for a in range(n_artifacts):
        kind = ARTIFACT_TYPES[a] if a < len(ARTIFACT_TYPES) else rnd.choices(ARTIFACT_TYPES, ARTIFACT_TYPE_WEIGHTS)[0]
        base = f"{rnd.choice(ARTIFACT_STEMS[kind])}-{ARTIFACT_SUFFIX[kind]}"
        name, k = base, 2
        while name in taken:
            name, k = f"{base}-{k}", k + 1
        taken.add(name)
        node = build(Label.ARTIFACT, name=name, type=kind, version=f"{rnd.randint(1, 4)}.{rnd.randint(0, 9)}.0",
                     tags=rnd.sample(TAGS, rnd.randint(1, 3)), storage_path=f"s3://artifacts/{kind}/{name}",
                     description=f"Reusable {kind.replace('_', ' ')}: {name}")
        artifacts.append(_Artifact(node, rnd.gauss(0, 1), 1.0 / ranks[a] ** ZIPF))
    creators = [Edge(Rel.CREATED_BY, a.node.id, rnd.choice(founders).node.id) for a in artifacts]

    # Projects, in the order they start.
    starts = sorted(rnd.uniform(0, SPAN_DAYS) for _ in range(projects))
    classes = list(PROBLEM_OFFSET)
    weights = [a.weight for a in artifacts]
    batches: list[ChangeSet] = []
    current = ChangeSet()
    last_stage: list[Node] = []  # each earlier project's most downstream dataset
    finished_count = 0
    project = None
    for i, day in enumerate(starts):
        problem = rnd.choices(classes, PROBLEM_WEIGHTS)[0]
        complexity = int(clamp(round(rnd.gauss(5.5, 2.2)), 1, 10))
        home = rnd.randrange(n_teams)
        wanted = int(clamp(round(optimum_size(complexity) + rnd.gauss(0, 1.8)), 1, 10))
        pool = people[:bisect.bisect_right(joined, day)]
        home_pool = [p for p in pool if p.team == home]
        members: list[_Person] = []
        while len(members) < min(wanted, len(pool)):
            choose_from = home_pool if home_pool and rnd.random() < P_HOME_TEAM else pool
            pick = rnd.choice(choose_from)
            if pick not in members:
                members.append(pick)
            elif choose_from is home_pool and all(p in members for p in home_pool):
                home_pool = []
        size = len(members)
        if size == 1:
            roles = ["lead" if rnd.random() < 0.5 else "data_scientist"]
        else:
            roles = ["lead" if rnd.random() < P_LEAD else rnd.choices(OTHER_ROLES, OTHER_ROLE_WEIGHTS)[0]]
            roles += rnd.choices(OTHER_ROLES, OTHER_ROLE_WEIGHTS, k=size - 1)
        used: list[_Artifact] = []
        for _ in range(rnd.choices(ARTIFACTS_PER_PROJECT, ARTIFACTS_PER_PROJECT_WEIGHTS)[0]):
            while (pick := rnd.choices(artifacts, weights)[0]) in used:
                pass
            used.append(pick)

        # The outcome (docs/history-generator.md, "Outcomes").
        effective = [p.skill + EXPERIENCE * (math.log1p(p.experience(day)) - EXPERIENCE_CENTRE) for p in members]
        skill = sum(effective) / size
        quality = sum(a.quality for a in used)
        away = abs(size - optimum_size(complexity))
        success = (SUCCESS_BASE + PROBLEM_OFFSET[problem] + SUCCESS_COMPLEXITY * (complexity - 5.5)
                   - min(SUCCESS_SIZE_CAP, -SUCCESS_SIZE * away ** 2) + SUCCESS_SKILL * skill
                   + SUCCESS_LEAD * ("lead" in roles) + SUCCESS_DATA_ENGINEER * ("data_engineer" in roles)
                   - SUCCESS_ROLES_CENTRE + SUCCESS_ARTIFACT * quality + rnd.gauss(0, SUCCESS_NOISE))
        duration = ((DURATION_BASE + DURATION_COMPLEXITY * complexity) * (1 + DURATION_SIZE * away)
                    * math.exp(DURATION_SKILL * skill + DURATION_ARTIFACT * quality + rnd.gauss(0, DURATION_NOISE)))
        duration = round(clamp(duration, 7, 900), 1)
        cost = round(duration * size * COST_PER_PERSON_DAY * (1 + COST_COMPLEXITY * complexity) * math.exp(rnd.gauss(0, COST_NOISE)))
        end = day + duration
        finished = end <= SPAN_DAYS

        topic = rnd.choice(TOPICS)
        slug = f"p{i + 1:05d}_{topic}"
        props: dict[str, object] = dict(
            name=f"{topic.capitalize()} {problem.replace('_', ' ')} #{i + 1}", problem_class=problem,
            complexity_score=complexity, team_size=size, status="finished" if finished else "active",
            started_at=stamp(day), description=f"A {problem.replace('_', ' ')} project on {topic}.")
        if finished:
            finished_count += 1
            props |= dict(finished_at=stamp(end), duration_days=duration, success_score=round(clamp(success, 0, 100), 1),
                          cost=float(cost))
            for p in members:
                bisect.insort(p.finished, end)
        project = build(Label.PROJECT, **props)
        current.create.append(project)
        current.link += [Edge(Rel.MEMBER_OF, p.node.id, project.id, {"role": r}) for p, r in zip(members, roles)]
        current.link.append(Edge(Rel.OWNS, members[0].node.id, project.id))
        for a in used:  # a user's rating, noisy, follows the artifact's hidden quality
            rating = round(clamp(5 + RATING_QUALITY * a.quality + rnd.gauss(0, RATING_NOISE), 0, 10), 1)
            a.ratings.append(rating)
            at = stamp(day + min(rnd.uniform(0, 21), duration / 2))
            current.link.append(Edge(Rel.USES, project.id, a.node.id, {"impact_score": rating, "at": at}))

        # Process metrics every two weeks while it runs (at least one).
        last_day = min(end, SPAN_DAYS)
        days = [day + METRIC_EVERY_DAYS * (k + 1) for k in range(METRIC_SAMPLES)]
        days = [d for d in days if d < last_day] or [(day + last_day) / 2]
        for d in days:
            values = {
                "commits_per_week": round(max(0.0, size * (6 + 1.5 * skill) + rnd.gauss(0, 3)), 1),
                "avg_pr_merge_hours": round(max(0.5, 20 * math.exp(-0.25 * skill + rnd.gauss(0, 0.3))), 1),
                "ci_success_rate": round(clamp(0.86 + 0.04 * skill + 0.01 * quality + rnd.gauss(0, 0.04), 0, 1), 3),
            }
            for kind in METRICS:
                metric = build(Label.METRIC, type=kind, value=values[kind], at=stamp(d))
                current.create.append(metric)
                current.link.append(Edge(Rel.HAS_METRIC, project.id, metric.id))

        # Its datasets (1-4, more for complex projects), their columns and lineage.
        n_datasets = int(clamp(1 + round(complexity / 4 + rnd.gauss(0, 0.7)), 1, len(STAGES)))
        team_slug = TEAM_NAMES[home].lower()
        datasets = [build(Label.DATASET, namespace=f"warehouse://{team_slug}", name=f"{slug}.{stage}",
                          description=f"{stage} data of {props['name']}") for stage in STAGES[:n_datasets]]
        for ds in datasets:
            current.merge.append(ds)
            current.link.append(Edge(Rel.OWNS, project.id, ds.id))
            for column in rnd.sample(COLUMNS, rnd.randint(2, 6)):
                f = build(Label.FIELD, dataset_id=ds.id, path=column,
                          type="string" if column in ("country", "category", "channel", "device", "segment", "event_type",
                                                      "region", "status") else "number")
                current.merge.append(f)
                current.link.append(Edge(Rel.HAS_FIELD, ds.id, f.id))
        for up, down in zip(datasets, datasets[1:]):
            current.link.append(Edge(Rel.FEEDS, up.id, down.id, {"job": f"build_{down.props['name']}"}))
        if last_stage and rnd.random() < 0.3:  # reuses an earlier project's data
            upstream = rnd.choice(last_stage)
            current.link.append(Edge(Rel.FEEDS, upstream.id, datasets[0].id, {"job": f"import_{slug}"}))
        last_stage.append(datasets[-1])

        if len(current.create) + len(current.merge) >= BATCH_NODES:
            batches.append(current)
            current = ChangeSet()
    if current:
        batches.append(current)

    # Artifacts carry their usage count and mean rating, as logArtifactUsage keeps them.
    for a in artifacts:
        if a.ratings:
            usage = {"usage_count": len(a.ratings), "impact_score": round(sum(a.ratings) / len(a.ratings), 4)}
            a.node = replace(a.node, props=validate_props(Label.ARTIFACT, {**a.node.props, **usage}))
    team_links = [Edge(Rel.IN_TEAM, p.node.id, teams[p.team].id) for p in people]
    first = ChangeSet(create=[*teams, *(p.node for p in people), *(a.node for a in artifacts)], link=[*team_links, *creators])
    batches.insert(0, first)
    assert project is not None
    return History(batches, projects, finished_count, sum(len(b.create) + len(b.merge) for b in batches),
                   sum(len(b.link) for b in batches), project)


async def load_history(services: Services, tenant: Tenant, projects: int, seed: int,
                       progress: Callable[[str], None] = print) -> bool:
    """Load the history of `projects` projects made with `seed` into `tenant`. Returns False (and
    changes nothing) if that history is already there; refuses (Conflict) a tenant holding
    anything else, since a history mixed with other nodes would not be the documented process."""
    began = time.perf_counter()
    history = generate(services.graph, tenant, projects, seed)
    progress(f"history: generated {projects:,} projects ({history.finished:,} finished), {history.nodes:,} nodes and "
             f"{history.relationships:,} relationships in {time.perf_counter() - began:.1f} s")
    counts = await services.store.count_by_label(tenant)
    if counts:
        last = history.last_project
        found = await services.store.get_by_keys(tenant, Label.PROJECT, [natural_key(Label.PROJECT, last.props)])
        stored = next(iter(found.values()), None)
        if stored is not None and stored.props == last.props:
            progress(f"history: tenant {tenant} already holds this history; nothing to do")
            return False
        raise Conflict(f"tenant {tenant} already holds {sum(counts.values()):,} nodes that are not this history "
                       "(another seed or size, other data, or a load that stopped part way); "
                       "load a history into an empty tenant (--tenant)", field="tenant")
    written = relationships = 0
    shown = time.perf_counter()
    for n, batch in enumerate(history.batches, 1):
        await services.store.apply(tenant, batch)
        written += len(batch.create) + len(batch.merge)
        relationships += len(batch.link)
        if time.perf_counter() - shown >= 1 or n in (1, len(history.batches)):
            shown = time.perf_counter()
            progress(f"history: {written:,}/{history.nodes:,} nodes, {relationships:,}/{history.relationships:,} "
                     f"relationships written ({n}/{len(history.batches)} transactions, {shown - began:.1f} s)")
    progress(f"history loaded into tenant {tenant}: {projects:,} projects ({history.finished:,} finished) "
             f"in {time.perf_counter() - began:.1f} s")
    return True
