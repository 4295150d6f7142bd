"""The sweeper: no job stays in a state that nothing will move it out of.

Run on a schedule (``functions/sweeper``: an EventBridge schedule in AWS, a poller every
``DIARIST_SWEEP_INTERVAL_S`` in local mode). Candidates come from the sparse ``by_state`` index
(``ports.SweepIndex``), never from a scan. Each candidate is read again (consistent) and resolved
with ONE conditional write, so the sweeper is safe to run twice at once and against a late worker,
dispatcher or failure handler: whoever writes first wins, the other's write is refused and it does
nothing else.

| found | past | resolution |
|---|---|---|
| ``OUTBOX`` (terminal, event owed) | ``outbox_after_s`` | lease it (conditional move of its sort key), publish, clear the debt |
| ``pending``, no launch, no live claim | ``pending_after_s`` since created / last requeue | send the ``DispatchMessage`` again (conditional requeue; the dispatcher's claim makes a duplicate harmless); after ``max_requeues`` -> ``failed``/``launch_failed`` |
| ``created`` (on the work queue) | every sweep | the fleet is asked for capacity (``FleetScaler.ensure_capacity``: a launch that was lost is made again) |
| ``created`` | ``max_worker_start_failures`` workers in a row could not start (the fleet's count: the Batch event handler, local mode's reaper) | ``failed``/``worker_start_failed`` with the last start's reason, for the jobs that were waiting when the last start failed (only from ``created``, only if untouched since read); a job queued later waits for the next worker's start |
| ``created`` | ``capacity_timeout_s`` since queued | ``failed``/``no_capacity`` (only from ``created``, only if untouched since read) |
| ``running`` | no write for ``worker_lost_after_s`` | the launcher is asked about the worker that holds it (``Launcher.status`` of ``launch_id``: Batch ``DescribeJobs``): its container failed, ended or is gone -> the job is given back and its work message sent again (``SweepJobResumed``; one conditional write on the holder), at most ``max_worker_takes`` takes in all; otherwise (still running but silent: hung; or too many takes; or no launcher) ``failed``/``worker_lost`` (only from ``running``, only if ``updated_at`` is unchanged: any heartbeat in between wins) and a hung container is terminated |

Each resolution is logged inside the job's ``job_context`` and returned as a count per kind
(the handler turns them into metrics).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from diarist.domain.errors import ErrorCode, InvalidTransition, JobNotFound
from diarist.domain.jobs import Job, JobStatus, utcnow
from diarist.domain.messages import DispatchMessage, WorkMessage
from diarist.observability import job_context
from diarist.ports import EventBus, JobQueue, JobStore, Launcher, SweepIndex, WorkerStatus, WorkQueue
from diarist.services.fleet import FleetScaler
from diarist.services.lifecycle import fail_job, publish_owed

log = logging.getLogger(__name__)

# What a sweep did, by kind (the names of the metrics the handler emits).
EVENT_REPUBLISHED = "SweepEventRepublished"
JOB_REQUEUED = "SweepJobRequeued"
LAUNCH_FAILED = "SweepLaunchFailed"
NO_CAPACITY = "SweepNoCapacity"
WORKER_LOST = "SweepWorkerLost"
JOB_RESUMED = "SweepJobResumed"
WORKER_START_FAILED = "SweepWorkerStartFailed"
RESOLUTIONS = (
    EVENT_REPUBLISHED,
    JOB_REQUEUED,
    LAUNCH_FAILED,
    NO_CAPACITY,
    WORKER_LOST,
    JOB_RESUMED,
    WORKER_START_FAILED,
)
_WORKER_GONE = (WorkerStatus.FAILED, WorkerStatus.ENDED, WorkerStatus.GONE)


@dataclass(frozen=True)
class SweepPolicy:
    """Deadlines (seconds). ``worker_lost_after_s`` must stay well above the worker's
    ``progress_interval_s`` (its heartbeat); ``pending_after_s`` above the dispatcher's normal
    latency (a requeue is harmless, but noisy)."""

    outbox_after_s: float = 10.0
    outbox_lease_s: float = 60.0
    pending_after_s: float = 300.0
    max_requeues: int = 3
    capacity_timeout_s: float = 3600.0
    worker_lost_after_s: float = 600.0
    launch_claim_stale_s: float = 300.0
    max_worker_takes: int = 3  # a job whose worker vanished is resumed until taken this often
    max_worker_start_failures: int = 3  # failed worker starts in a row before waiting jobs fail
    batch_limit: int = 100


@dataclass
class SweepReport:
    resolved: Counter[str] = field(default_factory=Counter)
    looked_at: int = 0


@dataclass
class Sweeper:
    store: JobStore
    index: SweepIndex
    events: EventBus
    queue: JobQueue
    launcher: Launcher | None = None
    policy: SweepPolicy = field(default_factory=SweepPolicy)
    work: WorkQueue | None = None  # to resume a job whose worker's container is gone
    scaler: FleetScaler | None = None  # to make sure waiting jobs have workers

    def sweep(self, now: datetime | None = None) -> SweepReport:
        now = now or utcnow()
        report = SweepReport()
        self._owed_events(now, report)
        self._pending(now, report)
        self._created(now, report)
        self._running(now, report)
        if report.resolved:
            log.info("sweep", extra={"resolved": dict(report.resolved), "looked_at": report.looked_at})
        return report

    # -- the outbox -------------------------------------------------------------------------------
    def _owed_events(self, now: datetime, report: SweepReport) -> None:
        p = self.policy
        before = now - timedelta(seconds=p.outbox_after_s)
        for entry in self.index.owed_since_before(before, limit=p.batch_limit):
            report.looked_at += 1
            with job_context(entry.job.job_id, entry.job.tenant_id):
                # the lease: only one sweeper publishes; one that dies leaves it for the next lease
                if not self.index.move_on(entry, until=now + timedelta(seconds=p.outbox_lease_s)):
                    continue
                job = self.store.get(entry.job.job_id)
                if job is None or job.event_owed_at is None or not job.status.is_terminal:
                    continue
                if publish_owed(self.store, self.events, job):
                    log.warning(
                        "sweeper published a completion event that was owed",
                        extra={"status": job.status.value, "owed_since": str(job.event_owed_at)},
                    )
                    report.resolved[EVENT_REPUBLISHED] += 1

    # -- pending: the dispatch message was lost --------------------------------------------------
    def _pending(self, now: datetime, report: SweepReport) -> None:
        p = self.policy
        before = now - timedelta(seconds=p.pending_after_s)
        claim_stale = now - timedelta(seconds=p.launch_claim_stale_s)
        for entry in self.index.in_status_since_before(JobStatus.PENDING, before, limit=p.batch_limit):
            report.looked_at += 1
            job = entry.job
            with job_context(job.job_id, job.tenant_id):
                if job.launch_id:
                    continue
                if job.launch_claim and job.launch_claimed_at and job.launch_claimed_at > claim_stale:
                    continue  # a dispatcher is launching it right now
                if job.sweep_requeues >= p.max_requeues:
                    done = self._fail(
                        job,
                        ErrorCode.LAUNCH_FAILED,
                        f"could not start a worker for this job: still waiting for a launch after "
                        f"{job.sweep_requeues} requeues"
                        + (f" (last launch error: {job.launch_error})" if job.launch_error else ""),
                        only_from=[JobStatus.PENDING],
                    )
                    if done:
                        report.resolved[LAUNCH_FAILED] += 1
                    continue
                if not self.index.move_on(entry, until=now, requeue=True):
                    continue  # moved meanwhile (launched, canceled, requeued by another sweeper)
                self.queue.send(DispatchMessage(job_id=job.job_id, tenant_id=job.tenant_id))
                log.warning(
                    "sweeper requeued a pending job (its dispatch message was lost?)",
                    extra={"requeue": job.sweep_requeues + 1},
                )
                report.resolved[JOB_REQUEUED] += 1

    # -- created: no GPU capacity came ------------------------------------------------------------
    def _created(self, now: datetime, report: SweepReport) -> None:
        p = self.policy
        waiting = self.index.in_status_since_before(JobStatus.CREATED, now, limit=1)
        if waiting:
            self._workers_cannot_start(report)
            waiting = self.index.in_status_since_before(JobStatus.CREATED, now, limit=1)
        if waiting and self.scaler is not None:
            try:  # a launch lost on the way (a dispatcher that died after its decision) is made again
                self.scaler.ensure_capacity()
            except Exception:
                log.warning("could not launch workers for the waiting jobs", exc_info=True)
        before = now - timedelta(seconds=p.capacity_timeout_s)
        for entry in self.index.in_status_since_before(JobStatus.CREATED, before, limit=p.batch_limit):
            report.looked_at += 1
            job = entry.job
            with job_context(job.job_id, job.tenant_id):
                minutes = p.capacity_timeout_s / 60
                done = self._fail(
                    job,
                    ErrorCode.NO_CAPACITY,
                    f"no GPU capacity became available for this job within {minutes:g} minutes; "
                    "submit it again later",
                    only_from=[JobStatus.CREATED],
                    untouched_before=before,
                )
                if done is not None:
                    report.resolved[NO_CAPACITY] += 1

    def _workers_cannot_start(self, report: SweepReport) -> None:
        """Worker after worker could not start (bad image, cannot pull, exits at once): fail the
        jobs that were waiting when the last start failed, with its reason, rather than let them
        wait for the capacity timeout under a message that blames GPU capacity."""
        if self.scaler is None:
            return
        try:
            fleet = self.scaler.fleet.read()
        except Exception:
            log.warning("could not read the fleet", exc_info=True)
            return
        p = self.policy
        if fleet.start_failures < p.max_worker_start_failures or fleet.start_failed_at is None:
            return
        # a job queued after the last failed start waits for the next start (the image may be fixed)
        before = fleet.start_failed_at + timedelta(microseconds=1)
        for entry in self.index.in_status_since_before(JobStatus.CREATED, before, limit=p.batch_limit):
            report.looked_at += 1
            job = entry.job
            with job_context(job.job_id, job.tenant_id):
                done = self._fail(
                    job,
                    ErrorCode.WORKER_START_FAILED,
                    f"no worker could start for this job ({fleet.start_failures} worker starts "
                    f"failed in a row); the last: {fleet.start_failure or 'no reason given'}",
                    only_from=[JobStatus.CREATED],
                    untouched_before=before,
                )
                if done is not None:
                    report.resolved[WORKER_START_FAILED] += 1

    # -- running: the worker vanished -------------------------------------------------------------
    def _running(self, now: datetime, report: SweepReport) -> None:
        p = self.policy
        before = now - timedelta(seconds=p.worker_lost_after_s)
        # the index counts from the start of the run; the heartbeat is ``updated_at``
        for entry in self.index.in_status_since_before(JobStatus.RUNNING, before, limit=p.batch_limit):
            report.looked_at += 1
            job = entry.job
            if job.updated_at >= before:
                continue  # heartbeating
            with job_context(job.job_id, job.tenant_id):
                worker = self._ask_launcher(job.launch_id)
                if worker in _WORKER_GONE and self._resume(job, worker, before):
                    report.resolved[JOB_RESUMED] += 1
                    continue
                silent = (now - job.updated_at).total_seconds()
                said = f"; its container job is {worker.value}" if worker is not None else ""
                done = self._fail(
                    job,
                    ErrorCode.WORKER_LOST,
                    f"the worker stopped reporting (no heartbeat for {silent:.0f} s{said}; taken "
                    f"{job.worker_takes} time(s))",
                    only_from=[JobStatus.RUNNING],
                    untouched_before=before,
                )
                if done is None:
                    continue
                report.resolved[WORKER_LOST] += 1
                if (
                    worker in (WorkerStatus.RUNNING, WorkerStatus.STARTING)
                    and self.launcher
                    and job.launch_id
                ):
                    # alive but silent on its job: hung. Give up on the container (its other jobs,
                    # if any, come back to the queue when their messages' visibility ends)
                    try:
                        self.launcher.terminate(job.launch_id, f"diarist job {job.job_id}: worker hung")
                    except Exception:
                        log.warning("could not terminate the hung worker's container job", exc_info=True)

    def _ask_launcher(self, launch_id: str | None) -> WorkerStatus | None:
        if self.launcher is None or not launch_id:
            return None
        try:
            return self.launcher.status(launch_id)
        except Exception:
            log.warning("could not ask the launcher about the worker", exc_info=True)
            return None

    def _resume(self, job: Job, worker: WorkerStatus, untouched_before: datetime) -> bool:
        """The worker's container is gone: give the job back (one conditional write: still running,
        still held by that worker, untouched since read) and send its work message again."""
        if self.work is None or job.worker_takes >= self.policy.max_worker_takes:
            return False
        current = self.store.get(job.job_id)
        if (
            current is None
            or current.status is not JobStatus.RUNNING
            or current.updated_at >= untouched_before
        ):
            return False
        try:
            if current.worker_id is not None:
                self.store.update(
                    job.job_id,
                    only_if_status=[JobStatus.RUNNING],
                    only_if_held_by=current.worker_id,
                    worker_id=None,
                )
        except (InvalidTransition, JobNotFound):
            return False
        self.work.send(WorkMessage.of(current))
        log.warning(
            "sweeper resumed a job whose worker is gone",
            extra={"worker": worker.value, "launch_id": job.launch_id, "takes": job.worker_takes},
        )
        if self.scaler is not None:
            try:
                self.scaler.ensure_capacity(min_active=1)
            except Exception:
                log.warning("could not launch a worker for the resumed job", exc_info=True)
        return True

    def _fail(
        self,
        job: Job,
        code: ErrorCode,
        message: str,
        *,
        only_from: list[JobStatus],
        untouched_before: datetime | None = None,
    ) -> Job | None:
        """One conditional transition: the job (read again, consistently: the index lags) is
        still in ``only_from``, was last written before ``untouched_before`` when given, and is
        not written between that read and this write (``updated_at`` unchanged)."""
        current = self.store.get(job.job_id)
        if current is None or current.status not in only_from:
            return None
        if untouched_before is not None and current.updated_at >= untouched_before:
            return None
        done = fail_job(
            self.store,
            self.events,
            job.job_id,
            code,
            message,
            only_from=only_from,
            unchanged_since=current.updated_at,
        )
        if done is not None:
            log.warning("sweeper failed a stuck job", extra={"code": code.value, "reason": message})
        return done
