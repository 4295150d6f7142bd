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
| ``created`` | ``capacity_timeout_s`` since launched | ``failed``/``no_capacity`` (only from ``created``, only if untouched since read); the container job is terminated |
| ``running`` | no write for ``worker_lost_after_s`` | ``failed``/``worker_lost`` (only from ``running``, only if ``updated_at`` is unchanged: any heartbeat in between wins) |

Each resolution is logged inside the job's ``job_context`` and returned as a count per kind
(the handler turns them into metrics).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from diarist.domain.errors import ErrorCode
from diarist.domain.jobs import Job, JobStatus, utcnow
from diarist.domain.messages import DispatchMessage
from diarist.observability import job_context
from diarist.ports import EventBus, JobQueue, JobStore, Launcher, SweepIndex
from diarist.services.lifecycle import fail_job, publish_owed

log = logging.getLogger(__name__)

# What a sweep did, by kind (the names of the metrics the handler emits).
EVENT_REPUBLISHED = "SweepEventRepublished"
JOB_REQUEUED = "SweepJobRequeued"
LAUNCH_FAILED = "SweepLaunchFailed"
NO_CAPACITY = "SweepNoCapacity"
WORKER_LOST = "SweepWorkerLost"
RESOLUTIONS = (EVENT_REPUBLISHED, JOB_REQUEUED, LAUNCH_FAILED, NO_CAPACITY, WORKER_LOST)


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
                if done is None:
                    continue
                report.resolved[NO_CAPACITY] += 1
                if self.launcher is not None and job.launch_id:
                    try:
                        self.launcher.terminate(job.launch_id, f"diarist job {job.job_id}: no capacity")
                    except Exception:
                        log.warning("could not terminate the waiting container job", exc_info=True)

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
                silent = (now - job.updated_at).total_seconds()
                done = self._fail(
                    job,
                    ErrorCode.WORKER_LOST,
                    f"the worker stopped reporting (no heartbeat for {silent:.0f} s; its container "
                    "vanished?)",
                    only_from=[JobStatus.RUNNING],
                    untouched_before=before,
                )
                if done is not None:
                    report.resolved[WORKER_LOST] += 1
                    if self.launcher is not None and job.launch_id:
                        try:
                            self.launcher.terminate(job.launch_id, f"diarist job {job.job_id}: worker lost")
                        except Exception:
                            log.warning("could not terminate the lost worker's container job", exc_info=True)

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
