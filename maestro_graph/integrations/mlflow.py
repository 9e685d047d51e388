"""MLflow, read through its client (`mlflow.tracking.MlflowClient`, never its web pages), into
plain values the sync (services/mlflow_sync.py) turns into graph changes.

An MLflow dataset input names where its data came from (`source`); the sync matches it to an
OpenLineage dataset by namespace and name. The mapping, first match wins:

1. operator rules (MAESTRO_MLFLOW_DATASET_RULES: a JSON list, or @path to a file holding one):
   `{"match": regex, "namespace": template, "name": template}`; the regex must match the whole
   source, the templates take its groups as `re` does (`\\1`, `\\g<table>`);
2. a URI, by the OpenLineage naming spec: `s3://bucket/key` -> (`s3://bucket`, `key`), the same
   for gs://, gcs://, wasbs://, abfss://; `hdfs://host:port/path` -> (`hdfs://host:port`, `/path`);
   `file:///path` and an absolute path `/path` -> (`file`, `/path`); any other
   `scheme://authority/rest` -> (`scheme://authority`, `rest`);
3. anything else (a table name such as `warehouse.orders`) names a dataset by its name alone: it
   matches when exactly one dataset of the tenant has that name (or an alias of that name).

A dataset's schema (MLflow's `mlflow_colspec`, or a tensor spec's names) names its columns: the
fields of the matched dataset at those paths are the features a model version uses.

A model version's framework comes from the flavors of the model it was registered from: the
client resolves where the version's files are (`get_model_version_download_uri`) and downloads its
MLmodel file (`mlflow.artifacts.download_artifacts`, the artifact store's own client). Neither
the registry nor MLflow 3's logged-model entity carry the flavors themselves. A version's files
never change, so what was read is kept (per source) and not read again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from maestro_graph.domain.errors import BadInput, IntegrationUnavailable

log = logging.getLogger("maestro_graph.mlflow")

ATTEMPTS = 4  # reads of the tracking server before it counts as down
BACKOFF = 0.5  # seconds before the second attempt, doubled before each next one
REQUEST_TIMEOUT = "10"  # seconds for one HTTP request of the client
PAGE = 1000  # items per MLflow search page
PROJECT_TAG = "maestro.project"  # run, experiment or registered model tag: a project's name or id
TRAINING_JOB_TAG = "maestro.training_job"  # run tag: the TrainingJob id (MAESTRO_TRAINING_JOB_ID) that ran it


# -- what MLflow holds ---------------------------------------------------------------------------
@dataclass(frozen=True)
class DatasetInput:
    name: str
    digest: str
    source_type: str
    source: str  # the source's URI, path or table name
    columns: tuple[str, ...]
    context: str | None  # training, eval, ... (the mlflow.data.context tag)


@dataclass(frozen=True)
class MlflowRun:
    run_id: str
    experiment_id: str
    name: str
    status: str  # RUNNING, SCHEDULED, FINISHED, FAILED, KILLED
    start_time: int | None  # ms since the epoch
    end_time: int | None
    user: str
    params: dict[str, str]
    tags: dict[str, str]
    metrics: dict[str, dict[str, float]]  # key -> {last, min, max, steps}
    inputs: tuple[DatasetInput, ...]
    fingerprint: str  # changes when anything above does (but the metric history itself)


@dataclass(frozen=True)
class MlflowVersion:
    model: str
    version: str
    run_id: str | None
    source: str
    model_id: str | None
    stage: str  # None, Staging, Production, Archived
    aliases: tuple[str, ...]
    tags: dict[str, str]
    description: str
    user: str
    created: int | None  # ms since the epoch
    framework: str | None = None  # from the MLmodel's flavors: "sklearn 1.5.2"; None if unreadable


@dataclass(frozen=True)
class MlflowModel:
    name: str
    description: str
    tags: dict[str, str]
    versions: tuple[MlflowVersion, ...]


@dataclass(frozen=True)
class Experiment:
    id: str
    name: str
    tags: dict[str, str]


@dataclass
class Snapshot:
    """Everything active in a tracking server: deleted runs, experiments and versions are absent."""

    experiments: list[Experiment] = field(default_factory=list)
    runs: list[MlflowRun] = field(default_factory=list)
    models: list[MlflowModel] = field(default_factory=list)


# -- dataset sources -> OpenLineage identities ---------------------------------------------------
@dataclass(frozen=True)
class DatasetRule:
    pattern: re.Pattern[str]
    namespace: str
    name: str


def parse_rules(text: str) -> list[DatasetRule]:
    """Operator rules from MAESTRO_MLFLOW_DATASET_RULES: JSON, or @path to a JSON file.

    >>> [r.namespace for r in parse_rules('[{"match": "warehouse\\\\\\\\.(.+)", "namespace": "postgres://db:5432", "name": "shop.\\\\\\\\1"}]')]
    ['postgres://db:5432']
    """
    text = text.strip()
    if not text:
        return []
    where = "MAESTRO_MLFLOW_DATASET_RULES"
    if text.startswith("@"):
        where = text[1:]
        try:
            text = Path(where).expanduser().read_text()
        except OSError as err:
            raise BadInput(f"MLflow dataset rules: cannot read {where}: {err.strerror}", field="mlflow_dataset_rules") from None
    try:
        raw = json.loads(text)
        assert isinstance(raw, list)
        rules = [DatasetRule(re.compile(r["match"]), str(r["namespace"]), str(r["name"])) for r in raw]
    except (ValueError, AssertionError, KeyError, TypeError, re.error) as err:
        raise BadInput(f"MLflow dataset rules in {where}: a JSON list of {{\"match\": regex, \"namespace\": template, "
                       f"\"name\": template}} is expected ({type(err).__name__}: {err})", field="mlflow_dataset_rules") from None
    return rules


BUCKETS = ("s3", "s3a", "s3n", "gs", "gcs", "wasbs", "abfss")  # OpenLineage: the name is the key, no leading slash
PATHS = ("hdfs", "dbfs")  # the name is the absolute path


def ol_identity(source: str, rules: list[DatasetRule] = ()) -> tuple[str | None, str]:  # type: ignore[assignment]
    """(namespace, name) of the OpenLineage dataset an MLflow dataset source names; namespace
    None: a name to find in any namespace.

    >>> ol_identity("s3://lake/orders/2024.parquet")
    ('s3://lake', 'orders/2024.parquet')
    >>> ol_identity("/data/orders.csv"), ol_identity("file:///data/orders.csv")
    (('file', '/data/orders.csv'), ('file', '/data/orders.csv'))
    >>> ol_identity("warehouse.orders")
    (None, 'warehouse.orders')
    >>> ol_identity("warehouse.orders", [DatasetRule(re.compile(r"warehouse\\.(.+)"), "postgres://db:5432", r"shop.\\1")])
    ('postgres://db:5432', 'shop.orders')
    """
    source = source.strip()
    for rule in rules:
        m = rule.pattern.fullmatch(source)
        if m:
            return m.expand(rule.namespace), m.expand(rule.name)
    if source.startswith("/"):
        return "file", source
    parts = urlsplit(source)
    if parts.scheme == "file":
        return "file", parts.path
    if parts.scheme and parts.netloc:
        path = parts.path if parts.scheme in PATHS else parts.path.lstrip("/")
        return f"{parts.scheme}://{parts.netloc}", path
    return None, source


def source_of(raw: str) -> str:
    """The URI, path or table name in an MLflow dataset's `source` (a JSON document).

    >>> source_of('{"uri": "warehouse.orders"}'), source_of('{"table_name": "main.sales.orders"}')
    ('warehouse.orders', 'main.sales.orders')
    """
    try:
        doc = json.loads(raw)
    except ValueError:
        return raw
    if isinstance(doc, dict):
        for key in ("uri", "url", "path", "table_name", "delta_table_name", "path_or_uri"):
            if isinstance(doc.get(key), str) and doc[key]:
                return doc[key]
    return raw


def columns_of(raw: str | None) -> tuple[str, ...]:
    """The column names an MLflow dataset schema holds.

    >>> columns_of('{"mlflow_colspec": [{"type": "double", "name": "amount"}, {"type": "string", "name": "country"}]}')
    ('amount', 'country')
    """
    if not raw:
        return ()
    try:
        doc = json.loads(raw)
    except ValueError:
        return ()
    specs = doc.get("mlflow_colspec") or doc.get("mlflow_tensorspec", {}).get("features") if isinstance(doc, dict) else None
    if isinstance(specs, str):
        try:
            specs = json.loads(specs)
        except ValueError:
            return ()
    if not isinstance(specs, list):
        return ()
    return tuple(s["name"] for s in specs if isinstance(s, dict) and isinstance(s.get("name"), str) and s["name"])


# -- reading -------------------------------------------------------------------------------------
T = TypeVar("T")


def with_retries(what: str, uri: str, read: Callable[[], T], *, attempts: int = ATTEMPTS, backoff: float = BACKOFF,
                 sleep: Callable[[float], None] = time.sleep) -> T:
    """`read()`, tried again after backoff while the tracking server is unreachable or answers an
    error; IntegrationUnavailable once `attempts` have failed."""
    from mlflow.exceptions import MlflowException
    from requests.exceptions import RequestException

    delay = backoff
    for attempt in range(1, attempts + 1):
        try:
            return read()
        except (MlflowException, RequestException, OSError) as err:
            if attempt == attempts:
                reason = str(getattr(err, "message", None) or err).splitlines()[0][:300]
                raise IntegrationUnavailable(f"the MLflow tracking server at {uri} could not be read ({what}) after "
                                             f"{attempts} attempts: {reason}") from None
            log.info("MLflow read failed; trying again", extra={"what": what, "attempt": attempt, "error": str(err)[:300]})
            sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


def client(uri: str) -> Any:
    """An MlflowClient for `uri` that fails fast: the retries are with_retries', bounded."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", REQUEST_TIMEOUT)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # a metadata server does not report its use
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _pages(search: Callable[[str | None], Any]) -> list[Any]:
    out: list[Any] = []
    token: str | None = None
    while True:
        page = search(token)
        out.extend(page)
        token = getattr(page, "token", None)
        if not token:
            return out


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def read(uri: str, known: dict[str, dict[str, Any]], progress: Callable[[str, int, int], None] = lambda *_: None,
         frameworks: dict[str, str] | None = None, **retry: Any) -> Snapshot:
    """Everything active in the tracking server at `uri` (blocking: run it in a thread). `known`
    is what the last sync kept per run id ({"fingerprint", "metrics"}): an unchanged run's metric
    summaries are taken from it instead of reading every metric's history again. `frameworks`:
    what the last sync read per version source (its framework), not read again."""
    frameworks = frameworks or {}
    from mlflow.entities import ViewType

    c = client(uri)
    snap = Snapshot()
    progress("reading experiments", 0, 1)
    experiments = with_retries("experiments", uri, lambda: _pages(
        lambda t: c.search_experiments(view_type=ViewType.ACTIVE_ONLY, max_results=PAGE, page_token=t)), **retry)
    snap.experiments = [Experiment(e.experiment_id, e.name, dict(e.tags)) for e in experiments]
    ids = [e.id for e in snap.experiments]
    runs = with_retries("runs", uri, lambda: _pages(
        lambda t: c.search_runs(ids, run_view_type=ViewType.ACTIVE_ONLY, max_results=PAGE, page_token=t,
                                order_by=["attributes.start_time ASC"])), **retry) if ids else []
    for n, r in enumerate(runs, 1):
        progress("reading runs", n - 1, len(runs))
        inputs = tuple(sorted((
            DatasetInput(d.dataset.name, d.dataset.digest, d.dataset.source_type, source_of(d.dataset.source),
                         columns_of(d.dataset.schema), next((t.value for t in d.tags if t.key == "mlflow.data.context"), None))
            for d in (r.inputs.dataset_inputs if r.inputs else ())), key=lambda d: (d.source, d.name, d.digest)))
        params, tags, latest = dict(r.data.params), dict(r.data.tags), dict(r.data.metrics)
        fp = _fingerprint(r.info.status, r.info.start_time, r.info.end_time, r.info.run_name, params, tags, latest, inputs)
        before = known.get(r.info.run_id) or {}
        if before.get("fingerprint") == fp:
            metrics = before["metrics"]
        else:
            metrics = {}
            for key in sorted(latest):
                history = with_retries(f"metric {key} of run {r.info.run_id}", uri,
                                       lambda key=key: c.get_metric_history(r.info.run_id, key), **retry)
                values = [m.value for m in sorted(history, key=lambda m: (m.step, m.timestamp))] or [latest[key]]
                metrics[key] = {"last": values[-1], "min": min(values), "max": max(values), "steps": len(values)}
        snap.runs.append(MlflowRun(r.info.run_id, r.info.experiment_id, r.info.run_name or "", r.info.status,
                                   r.info.start_time, r.info.end_time, r.info.user_id or "", params, tags, metrics,
                                   inputs, fp))
    progress("reading registered models", 0, 1)
    models = with_retries("registered models", uri, lambda: _pages(
        lambda t: c.search_registered_models(max_results=PAGE, page_token=t)), **retry)
    for m in models:
        by_version: dict[str, list[str]] = {}
        for alias, version in (m.aliases or {}).items():
            by_version.setdefault(str(version), []).append(alias)
        found = with_retries(f"versions of {m.name}", uri, lambda m=m: _pages(
            lambda t: c.search_model_versions(f"name='{_quoted(m.name)}'", max_results=PAGE, page_token=t)), **retry)
        versions = tuple(MlflowVersion(
            m.name, str(v.version), v.run_id or None, v.source or "", getattr(v, "model_id", None) or None,
            v.current_stage or "None", tuple(sorted(by_version.get(str(v.version), ()))), dict(v.tags or {}),
            v.description or "", v.user_id or "", v.creation_timestamp,
            frameworks.get(v.source) or _framework(c, uri, m.name, str(v.version), retry)) for v in found)
        snap.models.append(MlflowModel(m.name, m.description or "", dict(m.tags or {}),
                                       tuple(sorted(versions, key=lambda v: int(v.version) if v.version.isdigit() else 0))))
    return snap


FRAMEWORK_MAX = 100  # characters: ModelVersionProps.framework's limit


def framework_of(flavors: Any) -> str | None:
    """What an MLmodel's flavors say the model was made with: each flavor but the generic
    python_function, with its library's version where the flavor records one.

    >>> framework_of({"python_function": {"loader_module": "mlflow.sklearn", "python_version": "3.11.7"},
    ...               "sklearn": {"pickled_model": "model.pkl", "sklearn_version": "1.5.2"}})
    'sklearn 1.5.2'
    >>> framework_of({"python_function": {"loader_module": "my_model"}}), framework_of({}), framework_of(None)
    ('python_function', None, None)
    """
    if not isinstance(flavors, dict) or not flavors:
        return None
    named = [(k, v) for k, v in flavors.items() if k != "python_function"] or list(flavors.items())
    parts = []
    for name, conf in named:
        version = next((str(v) for k, v in (conf.items() if isinstance(conf, dict) else ())
                        if k.endswith("_version") and k != "python_version" and isinstance(v, (str, int, float))), None)
        parts.append(f"{name} {version}" if version else str(name))
    return ", ".join(parts)[:FRAMEWORK_MAX]


def _framework(c: Any, uri: str, name: str, version: str, retry: dict[str, Any]) -> str | None:
    """A registered version's framework, from its MLmodel file. Where its files are is read with retries like
    every registry read; the MLmodel file is the artifact store's: one that cannot be read leaves
    the framework unknown (None, tried again at the next sync) and the sync goes on."""
    import tempfile

    import yaml
    from mlflow.artifacts import download_artifacts

    location = with_retries(f"where version {version} of {name} is", uri,
                            lambda: c.get_model_version_download_uri(name, version), **retry)
    try:
        with tempfile.TemporaryDirectory(prefix="maestro-mlmodel-") as tmp:
            path = download_artifacts(artifact_uri=location.rstrip("/") + "/MLmodel", dst_path=tmp, tracking_uri=uri)
            doc = yaml.safe_load(Path(path).read_text())
        return framework_of(doc.get("flavors") if isinstance(doc, dict) else None)
    except Exception as err:  # noqa: BLE001 - any artifact store's failure: the framework stays unknown
        log.warning("MLflow: the MLmodel of version %s of %s could not be read (%s): its framework stays unknown",
                    version, name, str(err).splitlines()[0][:300] if str(err) else type(err).__name__)
        return None


def _quoted(name: str) -> str:
    """A registered model's name inside a search filter's single quotes."""
    return name.replace("\\", "\\\\").replace("'", "\\'")
