"""``diarist worker --drain``: a warm worker that takes jobs from the work queue until idle.

The container's command in AWS Batch (and each local "Batch job" of local mode). ``drain()``:

1. Load the model once (``build_diarizer``); report to the fleet (``ports.WorkerFleet``: this
   worker counts as live until its lease ends; it reports every ``fleet_report_every_s``).
2. Loop: receive one work message (long polling, ``poll_wait_s``); run its job with the same code
   as ever (``worker.main.run_worker``: the conditional take, progress, results, ``finish_job``).
   While the job runs a heartbeat thread keeps its message invisible (``WorkQueue.keep``, every
   third of ``message_visibility_s``) and reports to the fleet; the job's own progress heartbeat
   (``ProgressReporter``) rides along and notices a cancel (a refused write stops the job, not the
   worker). The message is deleted once the job was handled (succeeded, failed, canceled, or not
   ours to run: a duplicate).
3. Exit 0 after ``idle_timeout_s`` without a job (leaving the fleet first, then one last look at
   the queue, so a job queued just as we decided is not stranded), or, between jobs, once older
   than ``max_lifetime_s``.
4. SIGTERM (spot reclaim, scale-in, local mode stopping): the running job is given back at once
   (``lifecycle.give_back`` on the job, visibility 0 on its message) so another worker resumes it;
   the worker leaves the fleet and exits 143. A job is never run twice to completion: the take,
   progress and terminal writes are conditional.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from diarist.domain.jobs import utcnow
from diarist.observability import job_context
from diarist.ports import EventBus, JobStore, ObjectStore, WorkerFleet, WorkItem, WorkQueue
from diarist.settings import DrainSettings, load
from diarist.worker.diarizer import JobDiarizer, build_diarizer
from diarist.worker.main import EXIT_OK, EXIT_TERMINATED, SigtermGuard, WorkerIdentity, run_worker

log = logging.getLogger("diarist.worker")


@dataclass
class DrainStats:
    """What a drain run did (logged at exit; the tests read it)."""

    jobs: int = 0
    exit_reason: str = ""
    job_ids: list[str] = field(default_factory=list)


def identity(settings: DrainSettings) -> WorkerIdentity:
    """This worker's id (from its launcher), container job (``AWS_BATCH_JOB_ID`` in Batch,
    ``local-<pid>`` otherwise) and log (the awslogs stream in AWS, the log file in local mode)."""
    worker_id = settings.worker_id or uuid.uuid4().hex
    launch_id = settings.batch_job_id or f"local-{os.getpid()}"
    return WorkerIdentity(worker_id=worker_id, launch_id=launch_id, log=_log_location(settings))


def _log_location(settings: DrainSettings) -> str | None:
    if settings.worker_log_file:
        return settings.worker_log_file
    metadata = settings.ecs_metadata_uri
    if not metadata or not settings.worker_log_prefix:
        return None
    try:  # the ECS agent's task metadata endpoint (in the task's own network namespace)
        with urllib.request.urlopen(metadata + "/task", timeout=2) as resp:  # noqa: S310 - ECS endpoint
            task_arn = str(json.load(resp)["TaskARN"])
    except Exception:  # noqa: BLE001 - diagnostics only
        log.info("could not read the task metadata for the log stream name")
        return None
    return f"{settings.worker_log_prefix}/{task_arn.rsplit('/', 1)[-1]}"


class _Heartbeat:
    """While a job runs: every ``every_s`` keep its message invisible and report to the fleet."""

    def __init__(self, beat: Callable[[], None], every_s: float) -> None:
        self._beat, self._every_s = beat, every_s

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        stop = threading.Event()

        def run() -> None:
            while not stop.wait(self._every_s):
                try:
                    self._beat()
                except Exception:  # noqa: BLE001 - the next beat tries again
                    log.warning("work heartbeat failed", exc_info=True)

        thread = threading.Thread(target=run, name="work-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=5)


@dataclass
class Drainer:
    settings: DrainSettings
    queue: WorkQueue
    fleet: WorkerFleet
    store: JobStore
    events: EventBus
    objects: ObjectStore
    s3_client: Any
    diarizer: JobDiarizer
    worker: WorkerIdentity
    clock: Callable[[], float] = time.monotonic

    def run(self, sigterm: SigtermGuard) -> tuple[int, DrainStats]:
        s = self.settings
        stats = DrainStats()
        started = last_work = last_report = self.clock()
        self._report(first=True)  # this worker started: the fleet's count of failed starts resets
        try:
            while True:
                if sigterm.received:
                    stats.exit_reason = "sigterm"
                    return EXIT_TERMINATED, stats
                now = self.clock()
                if now - started >= s.max_lifetime_s:
                    stats.exit_reason = "max_lifetime"
                    return EXIT_OK, stats
                if now - last_report >= s.fleet_report_every_s:
                    self._report()
                    last_report = now
                idle = now - last_work >= s.idle_timeout_s
                if idle:
                    # leave first, then look once more: a dispatcher that saw us live queued its job
                    # before reading the fleet, so that job is visible to this last receive
                    with contextlib.suppress(Exception):
                        self.fleet.leave(self.worker.worker_id)
                try:
                    items = self.queue.receive(
                        wait_s=0 if idle else s.poll_wait_s, visibility_s=s.message_visibility_s
                    )
                except Exception:  # noqa: BLE001 - a transient SQS error must not end the worker
                    log.warning("work queue receive failed; trying again", exc_info=True)
                    time.sleep(1)
                    continue
                if not items:
                    if idle:
                        stats.exit_reason = "idle"
                        return EXIT_OK, stats
                    continue
                if idle:
                    self._report()
                for item in items:
                    if sigterm.received:
                        self.queue.give_back(item.receipt)
                        continue
                    rc = self._one(item, sigterm)
                    stats.jobs += 1
                    stats.job_ids.append(item.message.job_id)
                    if rc == EXIT_TERMINATED:
                        stats.exit_reason = "sigterm"
                        return EXIT_TERMINATED, stats
                last_work = last_report = self.clock()
        finally:
            with contextlib.suppress(Exception):
                self.fleet.leave(self.worker.worker_id)
            log.info("drain worker exits", extra={"jobs": stats.jobs, "reason": stats.exit_reason})

    def _one(self, item: WorkItem, sigterm: SigtermGuard) -> int:
        s = self.settings
        job_id, tenant_id = item.message.job_id, item.message.tenant_id
        with job_context(job_id, tenant_id):
            log.info("work received", extra={"received_at": time.time(), "receives": item.receive_count})
        self._set_current(job_id)

        def beat() -> None:
            self.queue.keep(item.receipt, s.message_visibility_s)
            self._report()

        try:
            with _Heartbeat(beat, max(1.0, s.message_visibility_s / 3)).running():
                rc = run_worker(
                    job_id,
                    tenant_id,
                    settings=s,
                    store=self.store,
                    events=self.events,
                    objects=self.objects,
                    diarizer=self.diarizer,
                    s3_client=self.s3_client,
                    worker=self.worker,
                    sigterm=sigterm,
                )
        except BaseException:
            self.queue.give_back(item.receipt)
            raise
        finally:
            self._set_current(None)
        if rc == EXIT_TERMINATED:
            with job_context(job_id, tenant_id):
                self.queue.give_back(item.receipt)
                log.warning("job's message given back (visible again now)")
        else:
            self.queue.done(item.receipt)
        return rc

    def _report(self, *, first: bool = False) -> None:
        """Best effort: a missed report only shortens how long this worker counts in the fleet."""
        until = utcnow() + timedelta(seconds=self.settings.fleet_lease_s)
        try:
            self.fleet.report(self.worker.worker_id, until, first=first)
        except Exception:  # noqa: BLE001
            log.warning("fleet report failed", exc_info=True)

    def _set_current(self, job_id: str | None) -> None:
        path = self.settings.worker_current_file
        if path:
            with contextlib.suppress(OSError):
                Path(path).write_text(job_id or "")


def drain(
    *,
    settings: DrainSettings | None = None,
    queue: WorkQueue | None = None,
    fleet: WorkerFleet | None = None,
    store: JobStore | None = None,
    events: EventBus | None = None,
    diarizer: JobDiarizer | None = None,
) -> int:
    """The whole run of a drain worker; returns the exit code. Dependencies default to AWS."""
    settings = settings or load(DrainSettings)
    from diarist.adapters.aws import client
    from diarist.adapters.dynamo_fleet import DynamoWorkerFleet
    from diarist.adapters.dynamo_jobs import DynamoJobStore
    from diarist.adapters.events import EventBridgeBus
    from diarist.adapters.s3_store import S3ObjectStore
    from diarist.wiring import build_work_queue

    s3 = client("s3")
    worker = identity(settings)
    sigterm = SigtermGuard()
    with sigterm.installed():
        t0 = time.monotonic()
        diarizer = diarizer or build_diarizer(settings)  # the slow part: once per worker
        log.info(
            "drain worker ready",
            extra={
                "worker_id": worker.worker_id,
                "launch_id": worker.launch_id,
                "model_load_s": round(time.monotonic() - t0, 3),
            },
        )
        drainer = Drainer(
            settings=settings,
            queue=queue
            or build_work_queue(
                settings.work_queue_url, settings.short_work_queue_url, settings.long_lane_every
            ),
            fleet=fleet or DynamoWorkerFleet(settings.table_name),
            store=store or DynamoJobStore(settings.table_name),
            events=events or EventBridgeBus(settings.event_bus_name),
            objects=S3ObjectStore(s3),
            s3_client=s3,
            diarizer=diarizer,
            worker=worker,
        )
        rc, _ = drainer.run(sigterm)
        return rc
