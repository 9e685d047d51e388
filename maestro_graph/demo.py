"""A realistic demo graph: teams and people, ~20 projects with outcomes and process metrics,
~40 artifacts of every type with usage, datasets with columns and column lineage, models,
versions, training jobs and deployments. Deterministic (seeded), and loaded through the
services so it obeys the same rules as any client. Loading it twice changes nothing."""

from __future__ import annotations

import random
import sys
from datetime import datetime, timedelta, timezone
from typing import Callable

from maestro_graph.auth.principal import system
from maestro_graph.domain.graph import ChangeSet, Edge, Label, Node, Rel
from maestro_graph.services import Services
from maestro_graph.types import Tenant

TEAMS = ["ML Platform", "Growth Analytics", "Risk & Fraud", "Search & Recommendations"]
PEOPLE = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Katherine Johnson", "Edsger Dijkstra",
          "Barbara Liskov", "Donald Knuth", "Margaret Hamilton", "John McCarthy", "Frances Allen",
          "Geoffrey Hinton", "Fei-Fei Li", "Yann LeCun", "Daphne Koller", "Judea Pearl", "Cynthia Dwork"]
ROLES = ["lead", "ml_engineer", "data_engineer", "data_scientist", "analyst"]
PROJECTS = [
    ("Churn prediction", "classification"), ("Fraud detection v2", "anomaly_detection"),
    ("Demand forecasting", "forecasting"), ("Search ranking", "ranking"),
    ("Product recommendations", "recommendation"), ("Support ticket triage", "nlp"),
    ("Invoice OCR", "computer_vision"), ("Credit risk scoring", "classification"),
    ("Price elasticity", "regression"), ("Customer segmentation", "clustering"),
    ("Delivery ETA", "regression"), ("Sentiment monitor", "nlp"), ("Store traffic forecast", "forecasting"),
    ("Payment anomaly alerts", "anomaly_detection"), ("Ad click-through", "classification"),
    ("Inventory optimisation", "forecasting"), ("Query autocomplete", "ranking"),
    ("Defect detection", "computer_vision"), ("Lifetime value", "regression"), ("Next best offer", "recommendation"),
]
ARTIFACT_KINDS = {
    "feature_pipeline": ["customer-360", "transactions-rollup", "session-events", "geo-enrichment", "text-embeddings",
                         "image-preprocess", "calendar-features", "price-history", "device-fingerprint",
                         "clickstream-agg", "inventory-snapshot", "support-tickets-clean"],
    "model_template": ["xgboost-classifier", "lightgbm-ranker", "prophet-forecaster", "bert-finetune", "resnet-finetune",
                       "two-tower-recsys", "isolation-forest", "kmeans-segmenter", "quantile-regressor", "tft-forecaster"],
    "schema": ["customer-schema", "order-schema", "event-schema", "ticket-schema", "payment-schema",
               "product-schema", "image-label-schema", "prediction-log-schema"],
    "notebook": ["eda-starter", "feature-importance-report", "drift-analysis", "ab-test-readout", "error-analysis",
                 "calibration-check", "fairness-audit"],
    "other": ["model-card-template", "serving-config", "monitoring-dashboard"],
}
TAGS = ["tabular", "pii", "streaming", "text", "images", "batch", "gpu", "finance", "marketing", "core"]
DATASETS = {
    ("postgres://prod-db:5432", "shop.customers"): ["customer_id", "email", "signup_date", "country", "segment", "lifetime_orders"],
    ("postgres://prod-db:5432", "shop.orders"): ["order_id", "customer_id", "amount", "currency", "created_at", "status", "discount"],
    ("postgres://prod-db:5432", "shop.payments"): ["payment_id", "order_id", "amount", "method", "card_country", "created_at"],
    ("s3://lake", "events.sessions"): ["session_id", "customer_id", "started_at", "pages", "device", "referrer"],
    ("s3://lake", "support.tickets"): ["ticket_id", "customer_id", "subject", "body", "priority", "created_at"],
    ("snowflake://analytics", "marts.customer_features"): ["customer_id", "orders_90d", "amount_90d", "avg_basket",
                                                           "sessions_30d", "days_since_last_order", "country", "segment"],
    ("snowflake://analytics", "marts.order_features"): ["order_id", "customer_id", "amount", "amount_usd", "hour_of_day", "is_weekend"],
    ("snowflake://analytics", "marts.payment_risk"): ["payment_id", "amount_usd", "card_country_mismatch", "velocity_1h", "label"],
    ("snowflake://analytics", "ml.churn_training"): ["customer_id", "orders_90d", "amount_90d", "sessions_30d",
                                                     "days_since_last_order", "churned"],
    ("snowflake://analytics", "ml.fraud_training"): ["payment_id", "amount_usd", "card_country_mismatch", "velocity_1h", "label"],
}
# (job, inputs, output, column lineage: output column <- [(input dataset, column, subtype)])
PIPELINES = [
    ("build_customer_features", ["shop.customers", "shop.orders", "events.sessions"], "marts.customer_features", {
        "customer_id": [("shop.customers", "customer_id", "IDENTITY")],
        "orders_90d": [("shop.orders", "order_id", "AGGREGATION")],
        "amount_90d": [("shop.orders", "amount", "AGGREGATION")],
        "avg_basket": [("shop.orders", "amount", "AGGREGATION")],
        "sessions_30d": [("events.sessions", "session_id", "AGGREGATION")],
        "days_since_last_order": [("shop.orders", "created_at", "TRANSFORMATION")],
        "country": [("shop.customers", "country", "IDENTITY")],
        "segment": [("shop.customers", "segment", "IDENTITY")]}),
    ("build_order_features", ["shop.orders"], "marts.order_features", {
        "order_id": [("shop.orders", "order_id", "IDENTITY")], "customer_id": [("shop.orders", "customer_id", "IDENTITY")],
        "amount": [("shop.orders", "amount", "IDENTITY")],
        "amount_usd": [("shop.orders", "amount", "TRANSFORMATION"), ("shop.orders", "currency", "TRANSFORMATION")],
        "hour_of_day": [("shop.orders", "created_at", "TRANSFORMATION")],
        "is_weekend": [("shop.orders", "created_at", "TRANSFORMATION")]}),
    ("build_payment_risk", ["shop.payments", "marts.order_features"], "marts.payment_risk", {
        "payment_id": [("shop.payments", "payment_id", "IDENTITY")],
        "amount_usd": [("marts.order_features", "amount_usd", "IDENTITY")],
        "card_country_mismatch": [("shop.payments", "card_country", "TRANSFORMATION")],
        "velocity_1h": [("shop.payments", "created_at", "AGGREGATION")]}),
    ("build_churn_training", ["marts.customer_features"], "ml.churn_training", {
        c: [("marts.customer_features", c, "IDENTITY")] for c in
        ("customer_id", "orders_90d", "amount_90d", "sessions_30d", "days_since_last_order")}),
    ("build_fraud_training", ["marts.payment_risk"], "ml.fraud_training", {
        c: [("marts.payment_risk", c, "IDENTITY")] for c in
        ("payment_id", "amount_usd", "card_country_mismatch", "velocity_1h", "label")}),
]
MODELS = [("churn-classifier", "ml.churn_training", "Churn prediction"),
          ("fraud-scorer", "ml.fraud_training", "Fraud detection v2")]


async def load_demo(services: Services, tenant: Tenant, progress: Callable[[str], None] = print) -> bool:
    """Load the demo graph into `tenant`. Returns False (and changes nothing) if it is already there."""
    graph = services.graph
    if (await services.store.get_by_keys(tenant, Label.TEAM, ['["ML Platform"]'])):
        progress("demo data is already loaded; nothing to do")
        return False
    rnd = random.Random(7)
    base = datetime(2025, 1, 6, tzinfo=timezone.utc)
    build = lambda label, **p: graph.build(tenant, label, p)  # noqa: E731

    progress("demo: teams, people and artifacts")
    teams = [build(Label.TEAM, name=t) for t in TEAMS]
    people = [build(Label.PERSON, name=n, email=n.lower().replace(" ", ".").replace("-", "") + "@example.com") for n in PEOPLE]
    team_of = {p.id: teams[i % len(teams)] for i, p in enumerate(people)}
    artifacts = []
    for kind, names in ARTIFACT_KINDS.items():
        for n in names:
            artifacts.append(build(Label.ARTIFACT, name=n, type=kind, version=f"{rnd.randint(1, 3)}.{rnd.randint(0, 9)}.{rnd.randint(0, 20)}",
                                   tags=rnd.sample(TAGS, rnd.randint(1, 3)), storage_path=f"s3://artifacts/{kind}/{n}",
                                   description=f"Reusable {kind.replace('_', ' ')}: {n}"))
    # One template training jobs can run as shipped: maestro_graph/training_example.py.
    artifacts.append(build(Label.ARTIFACT, name="logistic-baseline", type="model_template", version="1.0.0",
                           tags=["tabular"], description="Logistic regression baseline: a runnable training job.",
                           entrypoint={"command": [sys.executable, "-m", "maestro_graph.training_example"]}))
    links = [Edge(Rel.IN_TEAM, p.id, team_of[p.id].id) for p in people]
    links += [Edge(Rel.CREATED_BY, a.id, rnd.choice(people).id) for a in artifacts]
    await services.store.apply(tenant, ChangeSet(create=[*teams, *people, *artifacts], link=links))

    progress("demo: projects, members and process metrics")
    projects: list[Node] = []
    links, metrics = [], []
    for i, (name, problem) in enumerate(PROJECTS):
        members = rnd.sample(people, rnd.randint(2, 6))
        complexity = rnd.randint(2, 9)
        started = base + timedelta(days=14 * i)
        finished = i < 14
        duration = round(30 + complexity * rnd.uniform(8, 20) + 40 / len(members), 1)
        props = dict(name=name, problem_class=problem, complexity_score=complexity, team_size=len(members),
                     status="finished" if finished else "active", started_at=started.isoformat(),
                     description=f"{name}: a {problem.replace('_', ' ')} project.", metadata={"cost_center": f"CC-{100 + i}"})
        if finished:
            props |= dict(finished_at=(started + timedelta(days=duration)).isoformat(), duration_days=duration,
                          success_score=round(min(100, max(5, 95 - complexity * 6 + len(members) * 3 + rnd.gauss(0, 8))), 1),
                          cost=round(duration * len(members) * 650, 0))
        project = build(Label.PROJECT, **props)
        projects.append(project)
        links += [Edge(Rel.MEMBER_OF, m.id, project.id, {"role": ROLES[0] if j == 0 else rnd.choice(ROLES[1:])})
                  for j, m in enumerate(members)]
        links.append(Edge(Rel.OWNS, members[0].id, project.id))
        commits = rnd.uniform(10, 40)
        for week in range(8):
            at = (started + timedelta(weeks=week)).isoformat()
            commits = max(1.0, commits + rnd.gauss(0.8 if complexity < 6 else -0.5, 3))
            metrics += [build(Label.METRIC, type="commits_per_week", value=round(commits, 1), at=at),
                        build(Label.METRIC, type="avg_pr_merge_hours", value=round(rnd.uniform(2, 48), 1), at=at),
                        build(Label.METRIC, type="ci_success_rate", value=round(rnd.uniform(0.7, 0.99), 3), at=at)]
            links += [Edge(Rel.HAS_METRIC, project.id, m.id) for m in metrics[-3:]]
    await services.store.apply(tenant, ChangeSet(create=[*projects, *metrics], link=links))

    progress("demo: artifact usage")
    for project in projects:
        for artifact in rnd.sample(artifacts, rnd.randint(2, 6)):
            await services.artifacts.log_usage(system(tenant, "demo"), project.id, artifact.id, round(rnd.uniform(2, 10), 1),
                                               project.props["started_at"])  # type: ignore[arg-type]

    progress("demo: datasets, columns, jobs and column lineage")
    datasets = {name: build(Label.DATASET, namespace=ns, name=name, description=f"{name} table",
                            tags=["pii"] if "customer" in name or "payments" in name else [])
                for (ns, name) in DATASETS}
    fields = {(name, col): build(Label.FIELD, dataset_id=datasets[name].id, path=col, type="string" if col in ("email", "country", "segment", "currency", "status", "method", "device", "referrer", "subject", "body", "priority") else "number")
              for (ns, name), cols in DATASETS.items() for col in cols}
    links = [Edge(Rel.HAS_FIELD, datasets[ds].id, f.id) for (ds, _), f in fields.items()]
    jobs = []
    for job_name, inputs, output, columns in PIPELINES:
        job = build(Label.JOB, namespace="airflow://analytics", name=job_name)
        jobs.append(job)
        links += [Edge(Rel.READS, job.id, datasets[i].id) for i in inputs] + [Edge(Rel.WRITES, job.id, datasets[output].id)]
        links += [Edge(Rel.FEEDS, datasets[i].id, datasets[output].id, {"job": job_name}) for i in inputs]
        for out_col, sources in columns.items():
            for in_ds, in_col, subtype in sources:
                links.append(Edge(Rel.DERIVES, fields[(in_ds, in_col)].id, fields[(output, out_col)].id,
                                  {"type": "DIRECT", "subtype": subtype, "job": job_name}))
    owner = {p.props["name"]: p for p in projects}
    links += [Edge(Rel.OWNS, owner["Churn prediction"].id, datasets[d].id) for d in ("marts.customer_features", "ml.churn_training")]
    links += [Edge(Rel.OWNS, owner["Fraud detection v2"].id, datasets[d].id) for d in ("marts.payment_risk", "ml.fraud_training")]
    await services.store.apply(tenant, ChangeSet(merge=[*datasets.values(), *fields.values(), *jobs], link=links))

    progress("demo: models, versions, training jobs and deployments")
    nodes, links = [], []
    for model_name, training_set, project_name in MODELS:
        model = build(Label.MODEL, name=model_name, tags=["tabular"])
        nodes.append(model)
        links.append(Edge(Rel.OWNS, owner[project_name].id, model.id))
        cols = [c for c in DATASETS[next(k for k in DATASETS if k[1] == training_set)] if c not in ("customer_id", "payment_id", "churned", "label")]
        for v in (1, 2, 3):
            version = build(Label.MODEL_VERSION, model_id=model.id, version=f"{v}.0.0", stage="production" if v == 3 else "archived",
                            metrics={"auc": round(0.78 + 0.03 * v + rnd.uniform(0, 0.01), 4)})
            job = build(Label.TRAINING_JOB, name=f"train {model_name} v{v}", status="SUCCEEDED", progress=1.0,
                        spec={"template": "xgboost-classifier", "max_depth": 4 + v}, metrics={"auc": version.props["metrics"]["auc"]})  # type: ignore[index]
            nodes += [version, job]
            links += [Edge(Rel.VERSION_OF, version.id, model.id), Edge(Rel.PRODUCED, job.id, version.id),
                      Edge(Rel.TRAINED_ON, version.id, datasets[training_set].id),
                      Edge(Rel.OWNS, owner[project_name].id, job.id)]
            links += [Edge(Rel.USES_FEATURE, version.id, fields[(training_set, c)].id) for c in cols]
        deployment = build(Label.DEPLOYMENT, name=f"{model_name}-api", environment="production",
                           endpoint=f"https://models.internal/{model_name}", replicas=3, status="running")
        nodes.append(deployment)
        links += [Edge(Rel.SERVES, deployment.id, version.id), Edge(Rel.OWNS, owner[project_name].id, deployment.id)]
    await services.store.apply(tenant, ChangeSet(create=nodes, link=links))
    counts = await services.graph.counts(tenant)
    progress("demo loaded: " + ", ".join(f"{n} {label.value}" for label, n in sorted(counts.items(), key=lambda kv: kv[0].value)))
    return True
