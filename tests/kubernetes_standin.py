"""A stand-in for a Kubernetes API server, to test the Kubernetes runner against: no real API
server can run on the machines the tests run on.

It serves, on 127.0.0.1 (an ephemeral port), exactly what maestro_graph/runners/kubernetes.py
calls, with the API's real JSON shapes (bodies are the official client's own models, serialised
by its ApiClient; errors are V1Status):

    POST   /apis/batch/v1/namespaces/{ns}/jobs                 create (409 if it exists, 422 bad name)
    GET    /apis/batch/v1/namespaces/{ns}/jobs                 list (V1JobList) or ?watch=true
    GET|PATCH|DELETE /apis/batch/v1/namespaces/{ns}/jobs/{name}  (PATCH: merge patch;
                                                               DELETE: propagationPolicy)
    GET    /api/v1/namespaces/{ns}/pods                        list (V1PodList) or ?watch=true
    GET    /api/v1/namespaces/{ns}/pods/{name}
    GET    /api/v1/namespaces/{ns}/pods/{name}/log             ?follow=true streams it as it comes
    POST   /api/v1/namespaces/{ns}/secrets                     stringData is stored as base64 data
    GET|PATCH|DELETE /api/v1/namespaces/{ns}/secrets/{name}

Semantics kept: every change takes the next resourceVersion of one global counter; a watch
(labelSelector, resourceVersion, timeoutSeconds) replays the changes after its resourceVersion,
then streams new ones as {"type": ADDED|MODIFIED|DELETED|ERROR, "object": ...} lines on a
chunked response, and ends cleanly after timeoutSeconds; a resourceVersion older than the
history (see expire_history) is answered with an ERROR event carrying a V1Status 410, as the real
server does on a watch. A created Job gets a uid and one Pod whose container RUNS for real as a
local subprocess of the Job's command (the image is ignored; env from the Job's env and the
Secrets it references); its stdout and stderr are the pod log. The pod goes Pending -> Running ->
Succeeded/Failed with containerStatuses[].state.terminated.exitCode; the Job gets
active/succeeded/failed and a Complete or Failed condition (BackoffLimitExceeded once the failures
pass backoffLimit, new pods until then; DeadlineExceeded when activeDeadlineSeconds passes: the
process is killed and the pod deleted, as the Job controller does). ttlSecondsAfterFinished
deletes a finished Job. Deleting a Job (Background or Foreground) kills its process, deletes its
pods and the Secrets it owns (ownerReferences), each with a DELETED event. Requests need the
bearer token of the kubeconfig the stand-in writes.

Test controls (plain methods, callable from the test's thread): drop_watches() and drop_logs()
break every open watch or log stream abruptly (no final chunk); expire_history() makes a watch
from any resourceVersion handed out so far answer 410 Gone; `lists` and `watches` record the
list and watch requests served (watches with the resourceVersion they asked for), `dropped` the
last resourceVersion each dropped watch had sent, `jobs_received` the Job bodies as POSTed.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import os
import re
import secrets
import signal
import socket
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator

import uvicorn
from kubernetes import client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

TOKEN = "stand-in-token"
DNS_1123 = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_api = client.ApiClient()


def _json(obj: Any) -> Any:
    return _api.sanitize_for_serialization(obj)


def _model(data: Any, kind: str) -> Any:
    return _api.deserialize(json.dumps(data), kind, "application/json")


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _matches(labels: dict[str, str] | None, selector: str | None) -> bool:
    """`a=b,c` selectors: equality and existence, what the runner uses."""
    labels = labels or {}
    for term in filter(None, (selector or "").split(",")):
        key, _, value = term.partition("=")
        if key not in labels or ("=" in term and labels[key] != value):
            return False
    return True


def _merge(target: Any, patch: Any) -> Any:
    """RFC 7386 merge patch (what a strategic merge patch of metadata amounts to)."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result


def _status(code: int, reason: str, message: str) -> JSONResponse:
    return JSONResponse(_json(client.V1Status(api_version="v1", kind="Status", status="Failure",
                                              code=code, reason=reason, message=message)), code)


class Dropped(Exception):
    """Raised inside a streaming response: the server closes the connection mid-stream."""


@dataclass(eq=False)  # kept in a set: identity
class _Watcher:
    kind: str
    namespace: str
    selector: str | None
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    last_sent: str | None = None


@dataclass
class _Log:
    data: bytearray = field(default_factory=bytearray)
    closed: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    followers: set[asyncio.Event] = field(default_factory=set)  # each follower's drop signal

    def append(self, chunk: bytes) -> None:
        self.data.extend(chunk)
        self.changed.set()
        self.changed = asyncio.Event()


@dataclass
class _Run:
    """What the Job controller and the kubelet keep for one Job."""

    key: tuple[str, str]
    process: asyncio.subprocess.Process | None = None
    ended: bool = False
    timers: list[asyncio.TimerHandle] = field(default_factory=list)


class KubernetesStandIn:
    def __init__(self) -> None:
        self.jobs: dict[tuple[str, str], client.V1Job] = {}
        self.pods: dict[tuple[str, str], client.V1Pod] = {}
        self.secrets: dict[tuple[str, str], client.V1Secret] = {}
        self.logs: dict[tuple[str, str], _Log] = {}
        self.runs: dict[tuple[str, str], _Run] = {}
        self.version = 0
        self.compacted = 0  # watches from a resourceVersion below this get 410 Gone
        self.history: list[tuple[int, str, str, str, dict]] = []  # (rv, kind, ns, type, object)
        self.watchers: set[_Watcher] = set()
        self.lists: list[str] = []  # kinds listed, in order
        self.watches: list[tuple[str, str | None]] = []  # (kind, resourceVersion asked for)
        self.dropped: list[tuple[str, str | None]] = []  # (kind, last resourceVersion sent)
        self.jobs_received: list[dict] = []
        self.port = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task] = set()

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> "KubernetesStandIn":
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        app = Starlette(routes=self._routes())
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="off"))
        ready = threading.Event()

        def serve() -> None:
            self.loop = asyncio.new_event_loop()
            self.loop.call_soon(ready.set)
            self.loop.run_until_complete(self._server.serve(sockets=[sock]))
            self.loop.run_until_complete(self._kill_all())
            self.loop.close()

        self._thread = threading.Thread(target=serve, daemon=True, name="kubernetes-standin")
        self._thread.start()
        ready.wait(10)
        for _ in range(200):
            if self._server.started:
                break
            threading.Event().wait(0.05)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = True
            self._call(self._end_streams)
        if self._thread is not None:
            self._thread.join(15)

    def kubeconfig(self, path: Path, namespace: str = "default") -> Path:
        """A kubeconfig (JSON is YAML) pointing at this stand-in, with its bearer token."""
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "standin",
            "clusters": [{"name": "standin", "cluster": {"server": f"http://127.0.0.1:{self.port}"}}],
            "users": [{"name": "standin", "user": {"token": TOKEN}}],
            "contexts": [{"name": "standin", "context": {"cluster": "standin", "user": "standin",
                                                         "namespace": namespace}}]}))
        return path

    # -- test controls (from any thread) --------------------------------------------------------

    def drop_watches(self) -> None:
        def drop() -> None:
            for w in self.watchers:
                w.queue.put_nowait(Dropped)
        self._call(drop)

    def drop_logs(self) -> None:
        def drop() -> None:
            for buf in self.logs.values():
                for signal_ in buf.followers:
                    signal_.set()
        self._call(drop)

    def expire_history(self) -> None:
        def expire() -> None:
            self.version += 1  # a compaction takes a revision of its own
            self.compacted = self.version
        self._call(expire)

    def process_alive(self, namespace: str, job: str) -> bool:
        run = self.runs.get((namespace, job))
        return bool(run and run.process and run.process.returncode is None)

    def _call(self, fn: Any) -> None:
        """Run fn on the server's loop, and wait for it."""
        async def call() -> None:
            fn()
        asyncio.run_coroutine_threadsafe(call(), self.loop).result(10)

    # -- the store and its events --------------------------------------------------------------

    def _emit(self, kind: str, namespace: str, type_: str, obj: Any) -> None:
        self.version += 1
        obj.metadata.resource_version = str(self.version)
        snapshot = _json(obj)
        self.history.append((self.version, kind, namespace, type_, snapshot))
        for w in self.watchers:
            if w.kind == kind and w.namespace == namespace and _matches(obj.metadata.labels, w.selector):
                w.queue.put_nowait((self.version, type_, snapshot))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- HTTP ----------------------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        batch, core = "/apis/batch/v1/namespaces/{ns}", "/api/v1/namespaces/{ns}"
        return [
            Route(batch + "/jobs", self._jobs, methods=["GET", "POST"]),
            Route(batch + "/jobs/{name}", self._job, methods=["GET", "PATCH", "DELETE"]),
            Route(core + "/pods", self._pods, methods=["GET"]),
            Route(core + "/pods/{name}", self._pod, methods=["GET"]),
            Route(core + "/pods/{name}/log", self._pod_log, methods=["GET"]),
            Route(core + "/secrets", self._secrets, methods=["POST"]),
            Route(core + "/secrets/{name}", self._secret, methods=["GET", "PATCH", "DELETE"]),
            Route("/{path:path}", self._unknown, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ]

    @staticmethod
    def _authorised(request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {TOKEN}"

    async def _unknown(self, request: Request) -> Response:
        return _status(404, "NotFound", f"the stand-in does not serve {request.url.path}")

    async def _jobs(self, request: Request) -> Response:
        if not self._authorised(request):
            return _status(401, "Unauthorized", "Unauthorized")
        ns = request.path_params["ns"]
        if request.method == "GET":
            return self._list_or_watch(request, "job", ns)
        body = await request.json()
        self.jobs_received.append(body)
        job = _model(body, "V1Job")
        name = job.metadata.name or ""
        if len(name) > 63 or not DNS_1123.fullmatch(name):
            return _status(422, "Invalid", f'Job.batch "{name}" is invalid: metadata.name: Invalid value')
        if (ns, name) in self.jobs:
            return _status(409, "AlreadyExists", f'jobs.batch "{name}" already exists')
        job.metadata.namespace, job.metadata.uid = ns, str(uuid.uuid4())
        job.metadata.creation_timestamp = _now()
        job.status = client.V1JobStatus(active=0, start_time=_now())
        self.jobs[(ns, name)] = job
        self._emit("job", ns, "ADDED", job)
        run = self.runs[(ns, name)] = _Run((ns, name))
        if job.spec.active_deadline_seconds:
            run.timers.append(asyncio.get_running_loop().call_later(
                job.spec.active_deadline_seconds, self._deadline, run))
        self._spawn(self._run(run))
        return JSONResponse(_json(job), 201)

    async def _job(self, request: Request) -> Response:
        if not self._authorised(request):
            return _status(401, "Unauthorized", "Unauthorized")
        key = (request.path_params["ns"], request.path_params["name"])
        job = self.jobs.get(key)
        if job is None:
            return _status(404, "NotFound", f'jobs.batch "{key[1]}" not found')
        if request.method == "GET":
            return JSONResponse(_json(job))
        if request.method == "PATCH":
            patched = _merge(_json(job), await request.json())
            job = self.jobs[key] = _model(patched, "V1Job")
            self._emit("job", key[0], "MODIFIED", job)
            return JSONResponse(_json(job))
        options = json.loads(await request.body() or b"{}")
        policy = request.query_params.get("propagationPolicy") or options.get("propagationPolicy")
        await self._delete_job(key, policy or "Background")
        return JSONResponse(_json(client.V1Status(api_version="v1", kind="Status", status="Success",
                                                  details=client.V1StatusDetails(name=key[1], kind="jobs"))))

    async def _pods(self, request: Request) -> Response:
        if not self._authorised(request):
            return _status(401, "Unauthorized", "Unauthorized")
        return self._list_or_watch(request, "pod", request.path_params["ns"])

    async def _pod(self, request: Request) -> Response:
        if not self._authorised(request):
            return _status(401, "Unauthorized", "Unauthorized")
        key = (request.path_params["ns"], request.path_params["name"])
        if key not in self.pods:
            return _status(404, "NotFound", f'pods "{key[1]}" not found')
        return JSONResponse(_json(self.pods[key]))

    async def _pod_log(self, request: Request) -> Response:
        if not self._authorised(request):
            return _status(401, "Unauthorized", "Unauthorized")
        key = (request.path_params["ns"], request.path_params["name"])
        pod, buf = self.pods.get(key), self.logs.get(key)
        if pod is None or buf is None:
            return _status(404, "NotFound", f'pods "{key[1]}" not found')
        if pod.status.phase == "Pending":
            return _status(400, "BadRequest", f'container "train" in pod "{key[1]}" is waiting to start: '
                                              "ContainerCreating")
        if request.query_params.get("follow") != "true":
            return PlainTextResponse(bytes(buf.data))
        drop = asyncio.Event()
        buf.followers.add(drop)

        async def stream() -> AsyncIterator[bytes]:
            sent = 0
            try:
                while True:
                    if drop.is_set():
                        raise Dropped()
                    if sent < len(buf.data):
                        chunk = bytes(buf.data[sent:])
                        sent += len(chunk)
                        yield chunk
                        continue
                    if buf.closed:
                        return
                    waits = {asyncio.ensure_future(buf.changed.wait()), asyncio.ensure_future(drop.wait())}
                    try:
                        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        for wait in waits:
                            wait.cancel()
            finally:
                buf.followers.discard(drop)

        return StreamingResponse(stream(), media_type="text/plain")

    async def _secrets(self, request: Request) -> Response:
        if not self._authorised(request):
            return _status(401, "Unauthorized", "Unauthorized")
        ns = request.path_params["ns"]
        secret = _model(await request.json(), "V1Secret")
        if (ns, secret.metadata.name) in self.secrets:
            return _status(409, "AlreadyExists", f'secrets "{secret.metadata.name}" already exists')
        data = dict(secret.data or {})
        for k, v in (secret.string_data or {}).items():  # the API stores stringData as data
            data[k] = base64.b64encode(v.encode()).decode()
        secret.data, secret.string_data = data, None
        secret.metadata.namespace, secret.metadata.uid = ns, str(uuid.uuid4())
        self.version += 1
        secret.metadata.resource_version = str(self.version)
        self.secrets[(ns, secret.metadata.name)] = secret
        return JSONResponse(_json(secret), 201)

    async def _secret(self, request: Request) -> Response:
        if not self._authorised(request):
            return _status(401, "Unauthorized", "Unauthorized")
        key = (request.path_params["ns"], request.path_params["name"])
        if key not in self.secrets:
            return _status(404, "NotFound", f'secrets "{key[1]}" not found')
        if request.method == "GET":
            return JSONResponse(_json(self.secrets[key]))
        if request.method == "PATCH":
            self.secrets[key] = _model(_merge(_json(self.secrets[key]), await request.json()), "V1Secret")
            return JSONResponse(_json(self.secrets[key]))
        del self.secrets[key]
        return JSONResponse(_json(client.V1Status(api_version="v1", kind="Status", status="Success")))

    def _list_or_watch(self, request: Request, kind: str, ns: str) -> Response:
        query = request.query_params
        selector = query.get("labelSelector")
        store = self.jobs if kind == "job" else self.pods
        if query.get("watch") != "true":
            self.lists.append(kind)
            items = [o for (n, _), o in store.items() if n == ns and _matches(o.metadata.labels, selector)]
            listed = (client.V1JobList(api_version="batch/v1", kind="JobList", items=items,
                                       metadata=client.V1ListMeta(resource_version=str(self.version)))
                      if kind == "job" else
                      client.V1PodList(api_version="v1", kind="PodList", items=items,
                                       metadata=client.V1ListMeta(resource_version=str(self.version))))
            return JSONResponse(_json(listed))
        since = query.get("resourceVersion")
        self.watches.append((kind, since))
        timeout = float(query.get("timeoutSeconds") or 1800)
        if since not in (None, "", "0") and int(since) < self.compacted:
            gone = client.V1Status(api_version="v1", kind="Status", status="Failure", code=410,
                                   reason="Expired", message=f"too old resource version: {since} "
                                                             f"({self.compacted})")

            async def expired() -> AsyncIterator[bytes]:
                yield json.dumps({"type": "ERROR", "object": _json(gone)}).encode() + b"\n"
            return StreamingResponse(expired(), media_type="application/json")
        watcher = _Watcher(kind, ns, selector)
        self.watchers.add(watcher)
        upto = self.version
        if since in (None, "", "0"):  # no version: the current state, as ADDED events
            backlog = [(int(o.metadata.resource_version), "ADDED", _json(o))
                       for (n, _), o in store.items() if n == ns and _matches(o.metadata.labels, selector)]
        else:
            backlog = [(rv, t, o) for rv, k, n, t, o in self.history
                       if k == kind and n == ns and int(since) < rv <= upto
                       and _matches(o["metadata"].get("labels"), selector)]

        async def stream() -> AsyncIterator[bytes]:
            deadline = asyncio.get_running_loop().time() + timeout
            try:
                for rv, type_, obj in backlog:
                    watcher.last_sent = str(rv)
                    yield json.dumps({"type": type_, "object": obj}).encode() + b"\n"
                while True:
                    left = deadline - asyncio.get_running_loop().time()
                    if left <= 0:
                        return
                    try:
                        item = await asyncio.wait_for(watcher.queue.get(), left)
                    except asyncio.TimeoutError:
                        return
                    if item is Dropped:
                        self.dropped.append((kind, watcher.last_sent))
                        raise Dropped()
                    if item is None:
                        return
                    rv, type_, obj = item
                    watcher.last_sent = str(rv)
                    yield json.dumps({"type": type_, "object": obj}).encode() + b"\n"
            finally:
                self.watchers.discard(watcher)

        return StreamingResponse(stream(), media_type="application/json")

    def _end_streams(self) -> None:
        for w in self.watchers:
            w.queue.put_nowait(None)
        for buf in self.logs.values():
            buf.closed = True
            buf.changed.set()

    # -- the Job controller and the kubelet ----------------------------------------------------

    async def _run(self, run: _Run) -> None:
        ns, name = run.key
        failures = 0
        while not run.ended:
            job = self.jobs[run.key]
            code = await self._run_pod(run, job)
            if run.ended or code is None:
                return
            job = self.jobs[run.key]
            job.status.active = 0
            if code == 0:
                job.status.succeeded = 1
                job.status.completion_time = _now()
                job.status.conditions = [client.V1JobCondition(type="Complete", status="True",
                                                               last_transition_time=_now())]
            else:
                failures += 1
                job.status.failed = failures
                if failures <= (job.spec.backoff_limit or 0):
                    self._emit("job", ns, "MODIFIED", job)
                    continue
                job.status.conditions = [client.V1JobCondition(
                    type="Failed", status="True", reason="BackoffLimitExceeded",
                    message="Job has reached the specified backoff limit", last_transition_time=_now())]
            self._finished(run)
            return

    async def _run_pod(self, run: _Run, job: client.V1Job) -> int | None:
        """One pod of the job; its container's exit code, None if it never ran."""
        ns, name = run.key
        template = job.spec.template
        pod_name = f"{name}-{''.join(secrets.choice('bcdfghjklmnpqrstvwxz2456789') for _ in range(5))}"
        labels = dict(template.metadata.labels or {}, **{"job-name": name, "controller-uid": job.metadata.uid,
                                                         "batch.kubernetes.io/job-name": name})
        pod = client.V1Pod(
            api_version="v1", kind="Pod",
            metadata=client.V1ObjectMeta(
                name=pod_name, namespace=ns, uid=str(uuid.uuid4()), labels=labels,
                annotations=template.metadata.annotations, creation_timestamp=_now(),
                owner_references=[client.V1OwnerReference(api_version="batch/v1", kind="Job", name=name,
                                                          uid=job.metadata.uid, controller=True)]),
            spec=template.spec, status=client.V1PodStatus(phase="Pending"))
        key = (ns, pod_name)
        self.pods[key], self.logs[key] = pod, _Log()
        self._emit("pod", ns, "ADDED", pod)
        container = template.spec.containers[0]
        env = self._environment(ns, container)
        if env is None:
            pod.status.container_statuses = [client.V1ContainerStatus(
                name=container.name, image=container.image, image_id="", ready=False, restart_count=0,
                state=client.V1ContainerState(waiting=client.V1ContainerStateWaiting(
                    reason="CreateContainerConfigError", message="secret not found")))]
            self._emit("pod", ns, "MODIFIED", pod)
            return None
        run.process = await asyncio.create_subprocess_exec(
            *(container.command or []), *(container.args or []), env=env, start_new_session=True,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        started = _now()
        pod.status = client.V1PodStatus(phase="Running", start_time=started, container_statuses=[
            client.V1ContainerStatus(name=container.name, image=container.image, image_id="", ready=True,
                                     restart_count=0, started=True, state=client.V1ContainerState(
                                         running=client.V1ContainerStateRunning(started_at=started)))])
        self._emit("pod", ns, "MODIFIED", pod)
        job.status.active = 1
        self._emit("job", ns, "MODIFIED", job)
        buf = self.logs[key]
        while chunk := await run.process.stdout.read(4096):
            buf.append(chunk)
        code = await run.process.wait()
        code = 128 - code if code < 0 else code  # killed by a signal: 128 + its number, as a runtime says
        buf.closed = True
        buf.changed.set()
        if run.ended or key not in self.pods:
            return code
        pod.status = client.V1PodStatus(
            phase="Succeeded" if code == 0 else "Failed", start_time=started, container_statuses=[
                client.V1ContainerStatus(
                    name=container.name, image=container.image, image_id="", ready=False,
                    restart_count=0, started=False, state=client.V1ContainerState(
                        terminated=client.V1ContainerStateTerminated(
                            exit_code=code, reason="Completed" if code == 0 else "Error",
                            started_at=started, finished_at=_now())))])
        self._emit("pod", ns, "MODIFIED", pod)
        return code

    def _environment(self, ns: str, container: client.V1Container) -> dict[str, str] | None:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOSTNAME": "stand-in"}
        for var in container.env or []:
            ref = var.value_from.secret_key_ref if var.value_from else None
            if ref is None:
                env[var.name] = var.value or ""
                continue
            secret = self.secrets.get((ns, ref.name))
            if secret is None or ref.key not in (secret.data or {}):
                return None
            env[var.name] = base64.b64decode(secret.data[ref.key]).decode()
        for source in container.env_from or []:
            if source.secret_ref is not None:
                secret = self.secrets.get((ns, source.secret_ref.name))
                if secret is None:
                    return None
                env.update({k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()})
        return env

    def _finished(self, run: _Run) -> None:
        run.ended = True
        job = self.jobs[run.key]
        self._emit("job", run.key[0], "MODIFIED", job)
        for timer in run.timers:
            timer.cancel()
        if job.spec.ttl_seconds_after_finished is not None:
            run.timers = [asyncio.get_running_loop().call_later(
                job.spec.ttl_seconds_after_finished,
                lambda: self._spawn(self._delete_job(run.key, "Background")))]

    def _deadline(self, run: _Run) -> None:
        if run.ended or run.key not in self.jobs:
            return
        run.ended = True
        self._kill(run)
        ns, name = run.key
        for key in [k for k, p in self.pods.items() if k[0] == ns and p.metadata.labels.get("job-name") == name]:
            self._emit("pod", ns, "DELETED", self.pods.pop(key))
        job = self.jobs[run.key]
        job.status.active = 0
        job.status.failed = (job.status.failed or 0) + 1
        job.status.conditions = [client.V1JobCondition(
            type="Failed", status="True", reason="DeadlineExceeded",
            message="Job was active longer than specified deadline", last_transition_time=_now())]
        self._finished(run)

    async def _delete_job(self, key: tuple[str, str], policy: str) -> None:
        ns, name = key
        job = self.jobs.get(key)
        if job is None:
            return
        run = self.runs.get(key)
        if run is not None:
            run.ended = True
            for timer in run.timers:
                timer.cancel()
        if policy == "Background":
            self._emit("job", ns, "DELETED", self.jobs.pop(key))
        if policy != "Orphan":
            if run is not None:
                self._kill(run)
                if run.process is not None:
                    await run.process.wait()
            for pod_key in [k for k, p in self.pods.items()
                            if k[0] == ns and p.metadata.labels.get("job-name") == name]:
                self._emit("pod", ns, "DELETED", self.pods.pop(pod_key))
        if policy != "Background":
            self._emit("job", ns, "DELETED", self.jobs.pop(key))
        for secret_key, secret in list(self.secrets.items()):  # the garbage collector
            if any(ref.uid == job.metadata.uid for ref in secret.metadata.owner_references or []):
                del self.secrets[secret_key]

    @staticmethod
    def _kill(run: _Run) -> None:
        if run.process is not None and run.process.returncode is None:
            try:
                os.killpg(run.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    async def _kill_all(self) -> None:
        for run in self.runs.values():
            run.ended = True
            self._kill(run)
            if run.process is not None and run.process.returncode is None:
                await run.process.wait()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
