"""Configuration from MAESTRO_* environment variables (CLI flags override them)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

# Events a bulk load (`maestro-graph ingest`, the benchmark) sends per request, each stored in a
# transaction of its own. A bigger transaction writes the pages every transaction dirties (the
# ends of the indexes, the audit log) fewer times; past about a thousand events that gain is gone
# and a transaction only holds more memory (docs/performance.md has the runs).
BULK_BATCH = 1000


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "maestro-graph"


def sql_async_url(url: str) -> str:
    """Map the URLs people write to SQLAlchemy's async drivers.

    >>> sql_async_url("sqlite:///tmp/x.db")
    'sqlite+aiosqlite:///tmp/x.db'
    >>> sql_async_url("postgresql://u:p@h/db")
    'postgresql+asyncpg://u:p@h/db'
    """
    for plain, driver in (("sqlite://", "sqlite+aiosqlite://"), ("postgresql://", "postgresql+asyncpg://"),
                          ("postgres://", "postgresql+asyncpg://")):
        if url.startswith(plain):
            return driver + url[len(plain):]
    return url


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=default_data_dir)
    store_url: str = ""  # empty: the embedded SQLite file under data_dir
    host: str = "127.0.0.1"
    port: int = 8000
    neo4j_user: str = "neo4j"
    neo4j_password: str = ""
    neo4j_database: str = "neo4j"
    max_page_size: int = 100
    max_depth: int = 12
    graphiql: bool = True
    log_level: str = "INFO"
    log_format: str = "json"  # json | text
    introspection: bool = True
    tenant: str = "default"  # the tenant of --no-auth requests and of the printed local admin token
    # Authentication: one of jwt_secret (HS256), jwt_public_key (PEM or a path) or jwt_jwks_url.
    # None of them: serve keeps a generated secret in <data_dir>/jwt-secret.
    jwt_secret: str = field(default="", repr=False)
    jwt_public_key: str = ""
    jwt_jwks_url: str = ""
    jwt_algorithms: str = ""  # comma-separated; default HS256 for a secret, RS256,ES256 for keys
    jwt_issuer: str = ""  # checked against `iss` when set
    jwt_audience: str = ""  # checked against `aud` when set
    no_auth: bool = False  # every request is an admin of `tenant`; loopback hosts only
    # Browser origins (scheme://host[:port]) allowed to call the API from their pages, comma-separated;
    # none by default: no Access-Control-Allow-Origin is ever sent.
    cors_origins: str = ""
    # Limits, all refused with LIMIT_EXCEEDED before any work.
    max_cost: int = 50_000
    max_body_bytes: int = 1024 * 1024
    rate_limit_per_minute: int = 1000
    # Impact analysis from an in-memory copy of each tenant's topology (services/topology_cache.py):
    # background | inline | off, and the most nodes kept in memory over all tenants (about 170 bytes each).
    lineage_index: str = "background"
    lineage_index_max_nodes: int = 2_000_000
    # Seconds a replica may take to see topology changes another process committed (its own: at once).
    lineage_index_max_lag: float = 1.0
    # The change feed's retention per tenant (docs/change-feed.md): entries older than this many
    # seconds, and beyond the newest this many, may be trimmed.
    feed_retention_seconds: int = 7 * 24 * 3600
    feed_retention_entries: int = 1_000_000
    # Seconds between two trims of every tenant's feed by that retention (0: never trim here).
    feed_trim_interval: float = 600.0
    # Seconds between two reads of the feed's heads, to learn of other processes' commits when no
    # wake-up came (PostgreSQL's NOTIFY and the event bus wake followers at once).
    feed_poll_seconds: float = 0.5
    # redis://host:port/db: wake-ups between server processes right after each commit ("": none).
    event_bus: str = field(default="", repr=False)
    # Subscriptions (GraphQL over WebSocket): the most open on one connection, the most
    # connections one token may hold open, and the events one subscriber may fall behind by
    # before it is told (SUBSCRIBER_TOO_SLOW) and ended.
    # Training jobs (services/training.py): the runners enabled (comma-separated: local,
    # kubernetes), whether editors may run a free command instead of a model template's
    # entrypoint (off: a metadata server must not hand every editor token a shell), how many local
    # jobs run at once (the rest wait PENDING), the seconds between SIGTERM and SIGKILL on cancel,
    # and a job's default timeout.
    runners: str = "local"
    runner_allow_commands: bool = False
    runner_max_parallel: int = 2
    runner_grace_seconds: float = 10.0
    runner_timeout_seconds: float = 24 * 3600.0
    # An MLflow tracking server: training jobs get it as MLFLOW_TRACKING_URI, and `serve` syncs
    # it into `tenant` every mlflow_sync_interval seconds (0: never; `maestro-graph mlflow sync`
    # still does). Dataset rules map MLflow dataset sources to OpenLineage datasets (a JSON list, or
    # @path to a JSON file: integrations/mlflow.py); projects maps experiments to projects
    # ("experiment=project,...").
    mlflow_tracking_uri: str = ""
    mlflow_sync_interval: float = 300.0
    mlflow_dataset_rules: str = ""
    mlflow_projects: str = ""
    ws_max_subscriptions: int = 100
    ws_max_connections_per_token: int = 20
    subscription_queue: int = 1000
    # The namespace the Kubernetes training-job runner creates its Jobs, Pods and Secrets in.
    kubernetes_namespace: str = "default"
    # A kubeconfig file for that runner; empty: the in-cluster service account, else ~/.kube/config.
    kubeconfig: str = ""

    @property
    def store(self) -> str:
        return self.store_url or f"sqlite:///{self.data_dir / 'maestro.db'}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        env = os.environ if env is None else env
        s = cls()
        conv: dict[str, Any] = {}
        for name, f in cls.__dataclass_fields__.items():
            raw = env.get("MAESTRO_" + ("STORE" if name == "store_url" else name.upper()))
            if raw is None:
                continue
            kind = type(getattr(s, name))
            if kind is bool:
                conv[name] = raw.strip().lower() in ("1", "true", "yes", "on")
            elif kind is Path or name == "data_dir":
                conv[name] = Path(raw).expanduser()
            else:
                conv[name] = kind(raw)
        conv.update({k: v for k, v in overrides.items() if v is not None})
        return replace(s, **conv)
