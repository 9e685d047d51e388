"""The Kubernetes runner: each training job is a batch/v1 Job, watched through the API's watch
streams, its pod's log followed for progress lines.

The official client is synchronous. Short calls (create, patch, delete, list) run in
`asyncio.to_thread`; the long-lived streams (a Job watch, a Pod watch, one log follower a pod) run
in threads of their own, so they never hold the event loop nor the default executor's few
threads. Threads hand what they see to one dispatcher task through a bounded queue; the
dispatcher is the only caller of the Reporter's started() and line(), so a job's lines reach it in
the order the pod wrote them, and finished() is reported only once its pod's log has been read to
the end.

With several server replicas only the holder of a Lease watches; any replica can submit and
cancel. A cancel marks the Job (annotation `maestro.graph/cancelled`) before deleting it, so the
watching replica tells a cancel from any other deletion. After a restart, or when the lease moves,
the new watcher lists the Jobs and Pods again and carries on from what the listing shows: that is
the reconciliation.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import json
import logging
import math
import re
import threading
from dataclasses import dataclass, field
from itertools import count
from typing import Any, Callable, Iterator, Protocol

from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from maestro_graph.domain.errors import BadInput, MaestroError, RunnerUnavailable
from maestro_graph.runners.base import Finish, Launch, Reporter
from maestro_graph.types import NodeId, Tenant

log = logging.getLogger(__name__)

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "maestro-graph"
SELECTOR = f"{MANAGED_BY}={MANAGER}"
# Label values allow 63 characters of [A-Za-z0-9._-]; ids and tenants may hold anything, so the
# labels carry a hash (to select by) and the annotations the raw values (to report with).
LABEL_JOB = "maestro.graph/job"
LABEL_TENANT = "maestro.graph/tenant"
ANNOTATION_JOB = "maestro.graph/job-id"
ANNOTATION_TENANT = "maestro.graph/tenant"
ANNOTATION_NAME = "maestro.graph/name"
ANNOTATION_CANCELLED = "maestro.graph/cancelled"
CONTAINER = "train"
# What a Secret's data keys may be (the API refuses others).
SECRET_KEY = re.compile(r"[-._a-zA-Z0-9]+")


class Lease(Protocol):
    """Who watches, when several replicas run. The lead backs it with a lease in the store."""

    async def hold(self) -> bool:
        """Take the lease or renew it; whether this process holds it now."""

    async def release(self) -> None:
        """Give the lease up (on close), so another replica takes over at once."""


def label_hash(*parts: str) -> str:
    """A label-safe stand-in for values a label may not hold.

    >>> label_hash("acme", "TrainingJob:1")
    '56f1bd31a086249fc99d31f06ca829b1'
    """
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def job_name(tenant: Tenant, job_id: NodeId) -> str:
    """The Job's name: DNS-1123, at most 57 characters so the pods' generated names (six more)
    stay within 63; the hash keeps two tenants' equal ids apart.

    >>> job_name("acme", "TrainingJob:42")
    'train-trainingjob-42-dc1367c46a'
    """
    slug = re.sub(r"[^a-z0-9]+", "-", job_id.lower()).strip("-")[:40].strip("-")
    digest = label_hash(tenant, job_id)[:10]
    return f"train-{slug}-{digest}" if slug else f"train-{digest}"


@dataclass
class _JobState:
    tenant: Tenant
    job_id: NodeId
    last: Any = None  # the newest V1Job seen
    pods: set[str] = field(default_factory=set)  # pod uids
    finishing: bool = False  # a _finish task runs (or ran)
    reported: bool = False  # finished() was called


@dataclass
class _PodLog:
    uid: str
    name: str
    tenant: Tenant
    job_id: NodeId
    started: bool = False  # started() reported
    session: int = 0  # the watch session its follower thread belongs to
    sent: int = 0  # log lines already handed to the Reporter, so a new follower skips them
    thread: threading.Thread | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)  # the log was read to its end


@dataclass
class _Session:
    """One stretch of watching, from taking the lease to losing it."""

    id: int
    stop: threading.Event = field(default_factory=threading.Event)
    watches: set[watch.Watch] = field(default_factory=set)
    responses: set[Any] = field(default_factory=set)  # open log streams
    threads: list[threading.Thread] = field(default_factory=list)
    tasks: set[asyncio.Task] = field(default_factory=set)


class KubernetesRunner:
    name = "kubernetes"

    def __init__(self, namespace: str, kubeconfig: str = "", lease: Lease | None = None, *,
                 ttl_after_finished: int = 3600, backoff_limit: int = 0, watch_seconds: int = 60,
                 lease_seconds: float = 5.0, request_seconds: float = 30.0,
                 retry_seconds: float = 1.0, log_drain_seconds: float = 30.0) -> None:
        """`watch_seconds`: how long one watch request lasts before it is renewed (bounds how long a
        watch thread takes to notice close()); `lease_seconds`: how often the lease is renewed
        (give the store's lease a lifetime of about three times this); `log_drain_seconds`: how
        long an ended job waits for the rest of its pod's log before finished() is reported."""
        self.namespace = namespace
        self.kubeconfig = kubeconfig
        self.ttl_after_finished = ttl_after_finished
        self.backoff_limit = backoff_limit
        self.watch_seconds = int(watch_seconds)
        self.lease_seconds = lease_seconds
        self.request_seconds = request_seconds
        self.retry_seconds = retry_seconds
        self.log_drain_seconds = log_drain_seconds
        self._lease = lease
        self._reporter: Reporter | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._events: asyncio.Queue | None = None
        self._api: client.ApiClient | None = None
        self._api_lock = threading.Lock()
        self._batch: client.BatchV1Api | None = None
        self._core: client.CoreV1Api | None = None
        self._session: _Session | None = None
        self._session_ids = count(1)
        self._jobs: dict[str, _JobState] = {}  # by Job name
        self._pods: dict[str, _PodLog] = {}  # by pod uid
        self._tasks: list[asyncio.Task] = []
        self._closed = False

    # -- the Runner interface ------------------------------------------------------------------

    async def start(self, reporter: Reporter) -> None:
        self._reporter = reporter
        self._loop = asyncio.get_running_loop()
        self._events = asyncio.Queue(maxsize=1000)
        self._tasks = [asyncio.create_task(self._dispatch(), name="kubernetes-dispatch"),
                       asyncio.create_task(self._supervise(), name="kubernetes-lease")]

    async def submit(self, launch: Launch) -> None:
        if not launch.image:
            raise BadInput("a Kubernetes training job needs a container image: give the template's "
                           "entrypoint an image", field="image")
        for key in launch.secret_env:
            if not SECRET_KEY.fullmatch(key):
                raise BadInput(f"the secret variable name {key!r} cannot be kept in a Kubernetes "
                               "Secret: use letters, digits, '-', '_' and '.'", field="secretEnv")
        await self._call(self._create, launch)

    async def cancel(self, tenant: Tenant, job_id: NodeId) -> None:
        await self._call(self._delete, job_name(tenant, job_id))

    async def close(self) -> None:
        self._closed = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        threads = self._stop_session()
        await asyncio.to_thread(_join, threads, 5.0)
        if self._lease is not None:
            try:
                await self._lease.release()
            except Exception as e:  # the lease runs out by itself
                log.warning("kubernetes runner: releasing the watch lease failed: %s", e)
        if self._api is not None:
            await asyncio.to_thread(self._api.close)

    # -- submitting and cancelling (any replica) ----------------------------------------------

    def _apis(self) -> tuple[client.BatchV1Api, client.CoreV1Api]:
        """A private ApiClient, configured once: the kubeconfig given, else the pod's service
        account, else ~/.kube/config. Never the client's global default configuration."""
        with self._api_lock:
            if self._api is None:
                cfg = client.Configuration()
                try:
                    if self.kubeconfig:
                        config.load_kube_config(config_file=self.kubeconfig, client_configuration=cfg)
                    else:
                        try:
                            config.load_incluster_config(client_configuration=cfg)
                        except config.ConfigException:
                            config.load_kube_config(client_configuration=cfg)
                except Exception as e:
                    raise RunnerUnavailable(
                        f"the Kubernetes runner has no usable configuration ({e}): set "
                        "MAESTRO_KUBECONFIG to a kubeconfig file, or run the server in a cluster") from None
                cfg.connection_pool_maxsize = max(cfg.connection_pool_maxsize or 0, 32)  # one a stream
                self._api = client.ApiClient(cfg)
                self._batch, self._core = client.BatchV1Api(self._api), client.CoreV1Api(self._api)
        return self._batch, self._core

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a blocking client call in a thread; what the API server answers becomes a domain
        error a user can act on."""
        try:
            return await asyncio.to_thread(fn, *args)
        except MaestroError:
            raise
        except Exception as e:
            raise self._domain_error(e) from None

    def _domain_error(self, e: Exception) -> MaestroError:
        if isinstance(e, ApiException) and e.status:
            said = _status_message(e)
            if e.status in (400, 422):
                return BadInput(f"Kubernetes refused the job: {said}")
            if e.status in (401, 403):
                return RunnerUnavailable(
                    f"the Kubernetes API refused the runner ({e.status} {e.reason}: {said}): its "
                    f"credentials need rights on jobs, pods, pods/log and secrets in namespace "
                    f"{self.namespace!r}")
            if e.status == 404:
                return RunnerUnavailable(f"the Kubernetes API has no namespace {self.namespace!r} "
                                         f"({said}): set MAESTRO_KUBERNETES_NAMESPACE")
            return RunnerUnavailable(f"the Kubernetes API server answered {e.status} {e.reason} "
                                     f"({said}); try again later")
        host = self._api.configuration.host if self._api is not None else "the configured address"
        return RunnerUnavailable(f"the Kubernetes API server at {host} cannot be reached "
                                 f"({_cause(e)}); try again later, or check MAESTRO_KUBECONFIG")

    def _manifest(self, launch: Launch, name: str) -> client.V1Job:
        labels = {MANAGED_BY: MANAGER, LABEL_JOB: label_hash(launch.tenant, launch.job_id),
                  LABEL_TENANT: label_hash(launch.tenant)}
        annotations = {ANNOTATION_JOB: launch.job_id, ANNOTATION_TENANT: launch.tenant,
                       ANNOTATION_NAME: launch.name}
        # The secret values live in the Secret only: the Job names the keys, never the values.
        env = [client.V1EnvVar(name=k, value=v) for k, v in launch.env.items()]
        env += [client.V1EnvVar(name=k, value_from=client.V1EnvVarSource(
            secret_key_ref=client.V1SecretKeySelector(name=name, key=k))) for k in launch.secret_env]
        amounts = {k: v for k, v in (("cpu", launch.resources.cpu),
                                     ("memory", launch.resources.memory)) if v}
        limits = dict(amounts)
        if launch.resources.gpus > 0:
            limits["nvidia.com/gpu"] = str(launch.resources.gpus)
        container = client.V1Container(
            name=CONTAINER, image=launch.image, command=list(launch.command) or None, env=env or None,
            resources=client.V1ResourceRequirements(requests=amounts or None, limits=limits or None))
        template = client.V1PodTemplateSpec(
            metadata=client.V1ObjectMeta(labels=labels, annotations=annotations),
            spec=client.V1PodSpec(containers=[container], restart_policy="Never"))
        return client.V1Job(
            api_version="batch/v1", kind="Job",
            metadata=client.V1ObjectMeta(name=name, labels=labels, annotations=annotations),
            spec=client.V1JobSpec(
                template=template, backoff_limit=self.backoff_limit,
                active_deadline_seconds=max(1, math.ceil(launch.timeout_seconds)),
                ttl_seconds_after_finished=self.ttl_after_finished))

    def _create(self, launch: Launch) -> None:
        batch, core = self._apis()
        name, ns, timeout = job_name(launch.tenant, launch.job_id), self.namespace, self.request_seconds
        job = self._manifest(launch, name)
        if launch.secret_env:
            secret = client.V1Secret(
                metadata=client.V1ObjectMeta(name=name, labels=job.metadata.labels,
                                             annotations=job.metadata.annotations),
                type="Opaque", string_data=dict(launch.secret_env))
            try:
                core.create_namespaced_secret(ns, secret, _request_timeout=timeout)
            except ApiException as e:
                if e.status != 409:  # 409: left by an earlier try of this same job
                    raise
        try:
            created = batch.create_namespaced_job(ns, job, _request_timeout=timeout)
        except ApiException as e:
            if e.status == 409:  # submitted before (a retry): it runs once
                log.info("kubernetes runner: job %s exists already", name)
                return
            if launch.secret_env:
                _quietly(core.delete_namespaced_secret, name, ns, _request_timeout=timeout)
            raise
        if launch.secret_env:
            # Owned by the Job, the Secret goes when the Job goes (cancel, TTL, kubectl delete).
            owner = {"apiVersion": "batch/v1", "kind": "Job", "name": name,
                     "uid": created.metadata.uid}
            try:
                core.patch_namespaced_secret(name, ns, {"metadata": {"ownerReferences": [owner]}},
                                             _request_timeout=timeout)
            except Exception as e:
                log.warning("kubernetes runner: secret %s could not be tied to its job (%s): "
                            "delete it with the job", name, _cause(e))

    def _delete(self, name: str) -> None:
        batch, _ = self._apis()
        ns, timeout = self.namespace, self.request_seconds
        try:
            job = batch.read_namespaced_job(name, ns, _request_timeout=timeout)
            if _ended(job) is not None:
                return  # cancelling an ended job does nothing
            # Marked first, so whichever replica watches reports a cancel, not a deletion.
            batch.patch_namespaced_job(
                name, ns, {"metadata": {"annotations": {ANNOTATION_CANCELLED: "true"}}},
                _request_timeout=timeout)
            batch.delete_namespaced_job(name, ns, propagation_policy="Background",
                                        _request_timeout=timeout)
        except ApiException as e:
            if e.status != 404:  # unknown, or gone meanwhile: nothing to do
                raise

    # -- the lease: only its holder watches ---------------------------------------------------

    async def _supervise(self) -> None:
        said = ""  # the last error logged, so a missing configuration is said once, not every tick
        while not self._closed:
            try:
                held = True if self._lease is None else await self._lease.hold()
            except Exception as e:
                log.warning("kubernetes runner: the watch lease could not be renewed (%s)", e)
                held = False
            if held and self._session is None:
                try:
                    self._start_session()
                except RunnerUnavailable as e:
                    if e.message != said:
                        log.error("kubernetes runner: not watching: %s", e.message)
                    said = e.message
            elif not held and self._session is not None:
                log.info("kubernetes runner: lost the watch lease; another replica watches")
                self._stop_session()
            await asyncio.sleep(self.lease_seconds)

    def _start_session(self) -> None:
        self._apis()
        session = _Session(next(self._session_ids))
        for kind in ("job", "pod"):
            thread = threading.Thread(target=self._watch, args=(session, kind), daemon=True,
                                      name=f"kubernetes-watch-{kind}s")
            session.threads.append(thread)
            thread.start()
        self._session = session
        log.info("kubernetes runner: watching jobs in namespace %s", self.namespace)

    def _stop_session(self) -> list[threading.Thread]:
        """Stop the watch and log threads (promptly: their sockets are shut); finishes under way
        are dropped, and the next watcher's listing starts them again."""
        session, self._session = self._session, None
        if session is None:
            return []
        session.stop.set()
        for w in list(session.watches):
            w.stop()
        for response in list(session.responses):
            _shut(response)
        for task in session.tasks:
            task.cancel()
        for state in self._jobs.values():
            state.finishing = state.reported
        return session.threads

    # -- watching (threads) -------------------------------------------------------------------

    def _watch(self, session: _Session, kind: str) -> None:
        """List, then watch from the list's resourceVersion; a dropped watch resumes from the last
        version seen, and 410 Gone (that version is too old) lists again."""
        batch, core = self._apis()
        list_fn = batch.list_namespaced_job if kind == "job" else core.list_namespaced_pod
        version: str | None = None
        failures = 0  # in a row: the wait before the next try doubles, up to 30 s
        while not session.stop.is_set():
            try:
                if version is None:
                    listed = list_fn(self.namespace, label_selector=SELECTOR,
                                     _request_timeout=self.request_seconds)
                    version = listed.metadata.resource_version
                    self._post((session, "listed", kind, listed.items))
                w = watch.Watch()
                session.watches.add(w)
                try:
                    # timeout_seconds: the server ends the request, so the thread notices a stop;
                    # the read timeout bounds a server that does not.
                    for event in w.stream(list_fn, self.namespace, label_selector=SELECTOR,
                                          resource_version=version, allow_watch_bookmarks=True,
                                          timeout_seconds=self.watch_seconds,
                                          _request_timeout=(self.request_seconds,
                                                            self.watch_seconds + self.request_seconds)):
                        failures = 0
                        version = w.resource_version or version
                        if event["type"] != "BOOKMARK":
                            self._post((session, kind, event["type"], event["object"]))
                        if session.stop.is_set():
                            break
                finally:
                    session.watches.discard(w)
                    version = w.resource_version or version
            except ApiException as e:
                if session.stop.is_set():
                    break
                if e.status == 410:
                    log.info("kubernetes runner: %s history expired at %s; listing again", kind, version)
                    version = None
                    continue
                log.warning("kubernetes runner: watching %ss failed (%s %s); retrying", kind,
                            e.status, e.reason)
                failures += 1
                session.stop.wait(min(self.retry_seconds * 2 ** (failures - 1), 30.0))
            except Exception as e:
                if session.stop.is_set():
                    break
                log.warning("kubernetes runner: the %s watch dropped (%s); resuming from %s", kind,
                            _cause(e), version)
                failures += 1
                session.stop.wait(min(self.retry_seconds * 2 ** (failures - 1), 30.0))

    def _follow(self, session: _Session, pod: _PodLog, before: threading.Thread | None) -> None:
        """Hand each line of the pod's log to the Reporter once: a follower that starts again
        (a dropped stream, the lease regained) skips the lines sent before."""
        if before is not None:
            before.join()  # the previous follower of this pod, stopping: it owns `pod.sent` till then
        _, core = self._apis()
        while not session.stop.is_set():
            read = 0
            try:
                response = core.read_namespaced_pod_log(
                    pod.name, self.namespace, container=CONTAINER, follow=True,
                    _preload_content=False, _request_timeout=(self.request_seconds, 3600))
                session.responses.add(response)
                try:
                    if response.status >= 300:
                        raise ApiException(status=response.status, reason=response.reason)
                    for text in _lines(response):
                        read += 1
                        if read <= pod.sent:
                            continue
                        if not self._post(("line", pod.tenant, pod.job_id, text)):
                            return
                        pod.sent = read
                finally:
                    session.responses.discard(response)
                    response.release_conn()
            except ApiException as e:
                if e.status == 404:
                    break  # the pod is gone, and its log with it
            except Exception as e:
                if not session.stop.is_set():
                    log.info("kubernetes runner: the log of pod %s dropped (%s); following again",
                             pod.name, _cause(e))
            if session.stop.is_set():
                return
            # The stream ends when the container ends, or when it dropped: ask which.
            try:
                phase = core.read_namespaced_pod(pod.name, self.namespace,
                                                 _request_timeout=self.request_seconds).status.phase
            except ApiException as e:
                phase = "Gone" if e.status == 404 else None
            except Exception:
                phase = None
            if phase in ("Succeeded", "Failed", "Gone"):
                break
            if read <= pod.sent:
                session.stop.wait(self.retry_seconds)  # nothing new yet (waiting to start, ...)
        self._post(("log_end", pod.uid))

    def _post(self, item: tuple) -> bool:
        """Hand an item from a thread to the dispatcher; waits while the queue is full, so a
        chatty log slows its own reading, not memory. False once the runner is closed."""
        try:
            put = asyncio.run_coroutine_threadsafe(self._events.put(item), self._loop)
        except RuntimeError:  # the loop is closed
            return False
        while True:
            try:
                put.result(timeout=0.5)
                return True
            except concurrent.futures.TimeoutError:
                if self._closed:
                    put.cancel()
                    return False
            except (concurrent.futures.CancelledError, RuntimeError):
                return False

    # -- what the watches saw (the event loop) ------------------------------------------------

    async def _dispatch(self) -> None:
        while True:
            item = await self._events.get()
            try:
                await self._handle(item)
            except Exception:
                log.exception("kubernetes runner: handling a watch event failed")

    async def _handle(self, item: tuple) -> None:
        if item[0] == "line":
            await self._reporter.line(item[1], item[2], item[3])
            return
        if item[0] == "log_end":
            if (pod := self._pods.get(item[1])) is not None:
                pod.ended.set()
            return
        session, what = item[0], item[1]
        if session is not self._session:
            return  # seen before the lease was lost
        if what == "listed":
            kind, objects = item[2], item[3]
            for obj in objects:
                await (self._on_job if kind == "job" else self._on_pod)(session, "ADDED", obj)
            if kind == "job":
                # A job we knew that the listing no longer shows was deleted while nobody watched.
                names = {obj.metadata.name for obj in objects}
                for name, state in list(self._jobs.items()):
                    if name not in names and state.last is not None:
                        await self._on_job(session, "DELETED", state.last)
        elif what == "job":
            await self._on_job(session, item[2], item[3])
        else:
            await self._on_pod(session, item[2], item[3])

    async def _on_job(self, session: _Session, kind: str, job: Any) -> None:
        ids = _ids(job.metadata)
        if ids is None:
            return
        name = job.metadata.name
        state = self._jobs.get(name)
        if state is None:
            state = self._jobs[name] = _JobState(*ids)
        if kind == "DELETED" and state.reported:
            self._forget(name)  # nothing more will come of it
            return
        state.last = job
        if state.finishing:
            return
        if kind == "DELETED" or _ended(job) is not None:
            state.finishing = True
            task = asyncio.create_task(self._finish(session, state, deleted=kind == "DELETED"))
            session.tasks.add(task)
            task.add_done_callback(session.tasks.discard)

    async def _on_pod(self, session: _Session, kind: str, pod: Any) -> None:
        ids = _ids(pod.metadata)
        phase = pod.status.phase if pod.status else None
        if ids is None or kind == "DELETED" or phase not in ("Running", "Succeeded", "Failed"):
            return  # a deleted pod's log stream ends by itself
        log_ = self._pods.get(pod.metadata.uid)
        if log_ is None:
            log_ = self._pods[pod.metadata.uid] = _PodLog(pod.metadata.uid, pod.metadata.name, *ids)
            state = self._jobs.setdefault(job_name(*ids), _JobState(*ids))
            state.pods.add(pod.metadata.uid)
        if not log_.started:
            log_.started = True
            await self._reporter.started(log_.tenant, log_.job_id, f"pod {log_.name}")
        alive = log_.thread is not None and log_.thread.is_alive()
        if log_.ended.is_set() or (alive and log_.session == session.id):
            return  # one follower a pod
        log_.session = session.id
        log_.thread = threading.Thread(target=self._follow, daemon=True, name=f"kubernetes-log-{log_.name}",
                                       args=(session, log_, log_.thread if alive else None))
        session.threads.append(log_.thread)
        log_.thread.start()

    async def _finish(self, session: _Session, state: _JobState, deleted: bool) -> None:
        """Report the end of a job once its pods' logs are read to the end."""
        job, pods = state.last, []
        if not deleted:
            try:
                _, core = self._apis()
                pods = (await asyncio.to_thread(
                    core.list_namespaced_pod, self.namespace,
                    label_selector=f"{LABEL_JOB}={job.metadata.labels[LABEL_JOB]}",
                    _request_timeout=self.request_seconds)).items
            except Exception as e:
                log.warning("kubernetes runner: the pods of job %s could not be listed (%s)",
                            job.metadata.name, _cause(e))
            for pod in pods:  # a pod that ran between two watch events still gets its log read
                await self._on_pod(session, "MODIFIED", pod)
        followed = [self._pods[uid] for uid in state.pods
                    if uid in self._pods and self._pods[uid].thread is not None]
        try:
            await asyncio.wait_for(asyncio.gather(*(p.ended.wait() for p in followed)),
                                   self.log_drain_seconds)
        except asyncio.TimeoutError:
            log.warning("kubernetes runner: the log of job %s did not end within %s s; reporting "
                        "its end without the rest", job.metadata.name, self.log_drain_seconds)
        await self._reporter.finished(state.tenant, state.job_id, _finish_of(job, pods, deleted))
        state.reported = True

    def _forget(self, name: str) -> None:
        state = self._jobs.pop(name, None)
        for uid in state.pods if state else ():
            self._pods.pop(uid, None)


def _ids(meta: Any) -> tuple[Tenant, NodeId] | None:
    annotations = meta.annotations or {}
    if ANNOTATION_TENANT not in annotations or ANNOTATION_JOB not in annotations:
        return None
    return annotations[ANNOTATION_TENANT], annotations[ANNOTATION_JOB]


def _ended(job: Any) -> Any:
    """The Job's Complete or Failed condition, None while it runs."""
    for condition in (job.status.conditions or []) if job.status else []:
        if condition.type in ("Complete", "Failed") and condition.status == "True":
            return condition
    return None


def _finish_of(job: Any, pods: list[Any], deleted: bool) -> Finish:
    """How the job ended, from the Job's condition and its last pod's container state."""
    if (job.metadata.annotations or {}).get(ANNOTATION_CANCELLED) == "true":
        return Finish(exit_code=None, reason="cancelled", cancelled=True)
    condition = _ended(job)
    if condition is None:
        return Finish(exit_code=None, reason="its Kubernetes Job was deleted")
    if condition.type == "Complete":
        return Finish(exit_code=0)
    terminated = [s.state.terminated for pod in pods for s in (pod.status.container_statuses or [])
                  if s.state and s.state.terminated]
    last = max(terminated, key=lambda t: t.finished_at.timestamp() if t.finished_at else 0,
               default=None)
    said = [f"the container exited with code {last.exit_code}"] if last else []
    if last and (last.reason or last.message):
        said.append(": ".join(x for x in (last.reason, last.message) if x))
    if condition.reason == "DeadlineExceeded":
        said.insert(0, f"timed out after {job.spec.active_deadline_seconds} s")
    else:
        said.append(": ".join(x for x in (condition.reason, condition.message) if x))
    return Finish(exit_code=last.exit_code if last else None, reason="; ".join(s for s in said if s),
                  timed_out=condition.reason == "DeadlineExceeded")


def _lines(response: Any) -> Iterator[str]:
    """The lines of a streamed log, as they arrive. A last line without a newline counts only if
    the stream ended cleanly (a dropped stream's tail is read again by the next follower)."""
    pending = bytearray()
    for chunk in response.stream(amt=None, decode_content=False):
        pending.extend(chunk)
        while (end := pending.find(b"\n")) >= 0:
            yield pending[:end].decode("utf-8", errors="replace").rstrip("\r")
            del pending[:end + 1]
    if pending:
        yield pending.decode("utf-8", errors="replace").rstrip("\r")


def _status_message(e: ApiException) -> str:
    """The message of the V1Status the API server answered with, else its reason."""
    try:
        return json.loads(e.body).get("message") or str(e.reason)
    except Exception:
        return str(e.reason)


def _cause(e: BaseException) -> str:
    """A short reason for a connection error: "[Errno 111] Connection refused", not the
    urllib3 chain with its URL."""
    found = re.search(r"\[Errno -?\d+\] [^'\")]+", str(e))
    return found.group(0) if found else type(e).__name__


def _shut(response: Any) -> None:
    """Unblock a thread reading a streamed response (close() would wait for its read)."""
    try:
        response.shutdown()
    except Exception:
        pass


def _quietly(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    try:
        fn(*args, **kwargs)
    except Exception as e:
        log.warning("kubernetes runner: cleaning up failed (%s)", _cause(e))


def _join(threads: list[threading.Thread], seconds: float) -> None:
    for thread in threads:
        thread.join(seconds)
