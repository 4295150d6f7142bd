"""Launchers (``ports.Launcher``): start and stop the worker container job for one Diarist job.

- ``BatchLauncher``: AWS Batch ``submit_job`` on the GPU job queue (the production path).
- ``EcsLauncher``: ECS ``run_task`` (an alternative for accounts without Batch).
- ``LocalLauncher``: local mode; the worker runs as a local process
  (``python -m diarist worker --job-id J --tenant-id T``) with the current environment.

Every launch carries the Diarist job id three ways (Batch ``parameters``, tags, the job name) so the
Batch state-change handler can find the job from any event. Launchers raise ``LaunchThrottled``
when the service throttles us (the dispatcher retries the SQS record later) and ``LaunchFailed``
for any other refusal.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from diarist.adapters.aws import client
from diarist.domain.messages import WorkerSpec
from diarist.ports import Launcher, LaunchFailed, LaunchThrottled
from diarist.settings import LauncherSettings

log = logging.getLogger(__name__)

TAG_JOB_ID = "diarist:job-id"
TAG_TENANT_ID = "diarist:tenant-id"
JOB_NAME_PREFIX = "diarist-"

_THROTTLING_CODES = frozenset(
    {
        "TooManyRequestsException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
    }
)


_LIVE_BATCH_STATUSES = frozenset({"SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING"})


def is_throttling(error: ClientError) -> bool:
    err = error.response.get("Error", {})
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return err.get("Code") in _THROTTLING_CODES or status == 429


def _raise_launch_error(what: str, e: ClientError) -> None:
    err = e.response.get("Error", {})
    message = f"{what}: {err.get('Code', 'Error')}: {err.get('Message', str(e))}"
    if is_throttling(e):
        raise LaunchThrottled(message) from e
    raise LaunchFailed(message) from e


def job_name_for(job_id: str) -> str:
    """Batch job names: up to 128 letters, digits, hyphens and underscores."""
    return (JOB_NAME_PREFIX + re.sub(r"[^A-Za-z0-9_-]", "_", job_id))[:128]


def job_id_from_name(name: str | None) -> str | None:
    if name and name.startswith(JOB_NAME_PREFIX) and len(name) > len(JOB_NAME_PREFIX):
        return name[len(JOB_NAME_PREFIX) :]
    return None


# --- AWS Batch ---------------------------------------------------------------------------------
class BatchLauncher:
    def __init__(self, job_queue: str, job_definition: str, batch: Any | None = None) -> None:
        self.job_queue = job_queue
        self.job_definition = job_definition
        self._batch = batch or client("batch")

    def launch(self, spec: WorkerSpec) -> str:
        try:
            resp = self._batch.submit_job(
                jobName=job_name_for(spec.job_id),
                jobQueue=self.job_queue,
                jobDefinition=self.job_definition,
                parameters={"jobId": spec.job_id, "tenantId": spec.tenant_id},
                containerOverrides={
                    "command": spec.command(),
                    "environment": [
                        {"name": "DIARIST_JOB_ID", "value": spec.job_id},
                        {"name": "DIARIST_TENANT_ID", "value": spec.tenant_id},
                    ],
                },
                tags={TAG_JOB_ID: spec.job_id, TAG_TENANT_ID: spec.tenant_id},
                propagateTags=True,
            )
        except ClientError as e:
            _raise_launch_error("batch submit_job", e)
        return str(resp["jobId"])

    def find_launch(self, spec: WorkerSpec) -> str | None:
        """A live Batch job already launched for this job (by a dispatcher that died before recording it)."""
        resp = self._batch.list_jobs(
            jobQueue=self.job_queue, filters=[{"name": "JOB_NAME", "values": [job_name_for(spec.job_id)]}]
        )
        for summary in resp.get("jobSummaryList", []):
            if summary.get("status") in _LIVE_BATCH_STATUSES:
                return str(summary["jobId"])
        return None

    def terminate(self, launch_id: str, reason: str) -> None:
        try:
            self._batch.terminate_job(jobId=launch_id, reason=reason[:255])
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") == "ClientException":
                log.info("batch terminate_job refused (job gone?)", extra={"launch_id": launch_id})
                return
            raise


# --- ECS ---------------------------------------------------------------------------------------
class EcsLauncher:
    def __init__(
        self,
        cluster: str,
        task_definition: str,
        *,
        subnets: list[str] | None = None,
        container_name: str = "worker",
        ecs: Any | None = None,
    ) -> None:
        self.cluster = cluster
        self.task_definition = task_definition
        self.subnets = list(subnets or [])
        self.container_name = container_name
        self._ecs = ecs or client("ecs")

    def launch(self, spec: WorkerSpec) -> str:
        kwargs: dict[str, Any] = {
            "cluster": self.cluster,
            "taskDefinition": self.task_definition,
            "count": 1,
            "startedBy": spec.job_id[:36],
            "overrides": {
                "containerOverrides": [
                    {
                        "name": self.container_name,
                        "command": spec.command(),
                        "environment": [
                            {"name": "DIARIST_JOB_ID", "value": spec.job_id},
                            {"name": "DIARIST_TENANT_ID", "value": spec.tenant_id},
                        ],
                    }
                ]
            },
            "tags": [
                {"key": TAG_JOB_ID, "value": spec.job_id},
                {"key": TAG_TENANT_ID, "value": spec.tenant_id},
            ],
        }
        if self.subnets:
            kwargs["networkConfiguration"] = {
                "awsvpcConfiguration": {"subnets": self.subnets, "assignPublicIp": "DISABLED"}
            }
        try:
            resp = self._ecs.run_task(**kwargs)
        except ClientError as e:
            _raise_launch_error("ecs run_task", e)
        tasks = resp.get("tasks") or []
        if not tasks:
            failures = resp.get("failures") or []
            reasons = "; ".join(f"{f.get('reason')} {f.get('detail') or ''}".strip() for f in failures)
            raise LaunchFailed(f"ecs run_task started no task: {reasons or 'no reason given'}")
        return str(tasks[0]["taskArn"])

    def find_launch(self, spec: WorkerSpec) -> str | None:
        """A task already started for this job (``startedBy`` = job id) and not stopped."""
        resp = self._ecs.list_tasks(cluster=self.cluster, startedBy=spec.job_id[:36], desiredStatus="RUNNING")
        arns = resp.get("taskArns") or []
        return str(arns[0]) if arns else None

    def terminate(self, launch_id: str, reason: str) -> None:
        try:
            self._ecs.stop_task(cluster=self.cluster, task=launch_id, reason=reason[:255])
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("InvalidParameterException", "ClientException"):
                log.info("ecs stop_task refused (task gone?)", extra={"launch_id": launch_id})
                return
            raise


# --- local processes ---------------------------------------------------------------------------
@dataclass
class _LocalWorker:
    job_id: str
    tenant_id: str
    process: subprocess.Popen[bytes]
    log_path: Path
    reported: bool = False


class LocalLauncher:
    """Local mode: one worker process per job, like a Batch job on this machine.

    The worker gets the current environment (so the same ``AWS_ENDPOINT_URL`` / ``DIARIST_*``),
    writes its output to ``<launch_dir>/<job_id>.log`` and its launch id is ``local-<pid>``.
    Local mode calls ``poll_finished()`` periodically and hands each exit to
    ``services.failures.handle_worker_exit`` (what the Batch state-change handler does on AWS), so a
    worker that died without reporting does not leave its job running forever.
    """

    def __init__(
        self,
        launch_dir: str | Path,
        *,
        python: str = sys.executable,
        extra_env: Mapping[str, str] | None = None,
        kill_grace_s: float = 10.0,
    ) -> None:
        self.launch_dir = Path(launch_dir)
        self.launch_dir.mkdir(parents=True, exist_ok=True)
        self.python = python
        self.extra_env = dict(extra_env or {})
        self.kill_grace_s = kill_grace_s
        self._workers: dict[int, _LocalWorker] = {}
        self._lock = threading.Lock()

    def command(self, spec: WorkerSpec) -> list[str]:
        return [self.python, "-m", "diarist", *spec.command()[1:]]

    def launch(self, spec: WorkerSpec) -> str:
        log_path = self.launch_dir / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', spec.job_id)}.log"
        env = {
            **os.environ,
            **self.extra_env,
            "DIARIST_JOB_ID": spec.job_id,
            "DIARIST_TENANT_ID": spec.tenant_id,
        }
        try:
            with open(log_path, "ab") as out:
                proc = subprocess.Popen(
                    self.command(spec),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=env,
                )
        except OSError as e:
            raise LaunchFailed(f"could not start the local worker: {e}") from e
        with self._lock:
            self._workers[proc.pid] = _LocalWorker(spec.job_id, spec.tenant_id, proc, log_path)
        log.info("local worker started", extra={"job_id": spec.job_id, "pid": proc.pid, "log": str(log_path)})
        return f"local-{proc.pid}"

    def find_launch(self, spec: WorkerSpec) -> str | None:
        pid = self.running().get(spec.job_id)
        return f"local-{pid}" if pid is not None else None

    def terminate(self, launch_id: str, reason: str) -> None:
        pid = _pid_of(launch_id)
        if pid is None:
            return
        with self._lock:
            worker = self._workers.get(pid)
        if worker is None:
            # started by another launcher instance or process: only signal a diarist worker process
            if _is_diarist_worker(pid):
                log.info("terminating local worker started elsewhere", extra={"pid": pid, "reason": reason})
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGTERM)
            else:
                log.info("terminate: no such local worker", extra={"launch_id": launch_id})
            return
        proc = worker.process
        if proc.poll() is not None:
            return
        log.info("terminating local worker", extra={"job_id": worker.job_id, "pid": pid, "reason": reason})
        proc.send_signal(signal.SIGTERM)

        def _escalate() -> None:
            try:
                proc.wait(timeout=self.kill_grace_s)
            except subprocess.TimeoutExpired:
                proc.kill()

        threading.Thread(target=_escalate, name=f"kill-{pid}", daemon=True).start()

    def poll_finished(self) -> list[tuple[str, int]]:
        """Workers that exited since the last call, each reported once: ``[(job_id, returncode)]``."""
        done: list[tuple[str, int]] = []
        with self._lock:
            for worker in self._workers.values():
                if worker.reported:
                    continue
                rc = worker.process.poll()
                if rc is not None:
                    worker.reported = True
                    done.append((worker.job_id, rc))
            for pid in [p for p, w in self._workers.items() if w.reported]:
                del self._workers[pid]
        return done

    def running(self) -> dict[str, int]:
        """Job id -> pid of the workers still running."""
        with self._lock:
            return {w.job_id: pid for pid, w in self._workers.items() if w.process.poll() is None}

    def log_path(self, job_id: str) -> Path:
        return self.launch_dir / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', job_id)}.log"

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Stop every worker still running (local mode exiting)."""
        with self._lock:
            procs = [w.process for w in self._workers.values() if w.process.poll() is None]
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _is_diarist_worker(pid: int) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"diarist" in argv and b"worker" in argv


def _pid_of(launch_id: str) -> int | None:
    if not launch_id.startswith("local-"):
        return None
    try:
        return int(launch_id[len("local-") :])
    except ValueError:
        return None


def build_launcher(settings: LauncherSettings) -> Launcher:
    if settings.launcher == "batch":
        assert settings.batch_job_queue and settings.batch_job_definition  # checked by the settings
        return BatchLauncher(settings.batch_job_queue, settings.batch_job_definition)
    if settings.launcher == "ecs":
        assert settings.ecs_cluster and settings.ecs_task_definition
        return EcsLauncher(
            settings.ecs_cluster,
            settings.ecs_task_definition,
            subnets=settings.ecs_subnets,
            container_name=settings.ecs_container_name,
        )
    assert settings.local_launch_dir
    # Local mode's warm worker pool, when it runs in this process (``diarist local``), so the API's
    # cancel and the dispatcher share it; otherwise one LocalLauncher per launch dir and process.
    from diarist.local.workers import get_pool

    pool = get_pool()
    if pool is not None:
        return pool
    with _LOCAL_LOCK:
        launcher = _LOCAL_LAUNCHERS.get(settings.local_launch_dir)
        if launcher is None:
            launcher = _LOCAL_LAUNCHERS[settings.local_launch_dir] = LocalLauncher(settings.local_launch_dir)
        return launcher


_LOCAL_LAUNCHERS: dict[str, LocalLauncher] = {}
_LOCAL_LOCK = threading.Lock()
