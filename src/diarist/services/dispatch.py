"""Dispatch: turn a ``DispatchMessage`` (one SQS record) into exactly one work message, and make
sure the worker fleet can take it.

SQS delivers at least once, and a Lambda may die anywhere, so the job is claimed first:

1. Read the job. Missing or terminal (e.g. canceled while queued) -> done (ack the record).
   Already queued for the workers (``created``, ``running``) -> only step 5.
2. Claim the dispatch with a conditional write (``pending``, no ``launch_id``, no live claim). Only
   one delivery can hold the claim. A claim left by a delivery that died mid-dispatch goes stale
   after ``launch_claim_stale_s`` and may then be taken over (the dead delivery may have sent the
   work message already: a duplicate is harmless, a worker runs a job only after its conditional
   take, ``JobStore.take``).
3. Send the ``WorkMessage`` to the work queue. A refusal releases the claim (the reason kept in
   ``launch_error``) and propagates: the record is reported as a batch item failure and SQS
   redelivers it; after ``maxReceiveCount`` it lands in the DLQ, whose consumer
   (``fail_undispatchable``) ends the job ``failed``/``launch_failed``.
4. ``pending -> created`` (the job waits on the work queue). Refused because a worker already took
   it (``running``) or it was canceled meanwhile: nothing more to do for it.
5. ``FleetScaler.ensure_capacity``: launch drain workers when the backlog exceeds what the running
   and starting ones can take, up to the maximum (a conditional write on the fleet, so two
   deliveries never launch for the same shortfall). Throttling -> ``LaunchThrottled``; other
   refusals -> ``LaunchFailed`` (``ports``): the record fails and comes back (the job stays queued;
   the sweeper also asks for capacity while jobs wait).

A job is never assigned to a container job here: the worker that takes it records itself on it
(``worker_id``, ``launch_id``, ``worker_log``).
"""

from __future__ import annotations

import logging
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta

from diarist.domain.errors import DiaristError, ErrorCode, InvalidTransition, JobNotFound
from diarist.domain.jobs import Job, JobStatus, utcnow
from diarist.domain.messages import DispatchMessage, WorkMessage
from diarist.ports import EventBus, JobStore, LaunchClaims, WorkQueue
from diarist.services.fleet import FleetScaler
from diarist.services.lifecycle import fail_job

log = logging.getLogger(__name__)


class LaunchInProgress(DiaristError):
    """Another delivery holds a live dispatch claim: retry this record later."""


@dataclass
class DispatchOutcome:
    job_id: str
    action: str  # queued | skipped_missing | skipped_terminal | already_queued
    launches: int = 0  # workers launched by this dispatch's capacity decision
    detail: str = ""


@dataclass
class Dispatcher:
    store: JobStore
    claims: LaunchClaims
    work: WorkQueue
    scaler: FleetScaler
    claim_stale_s: float = 300.0
    outcomes: deque[DispatchOutcome] = field(
        default_factory=lambda: deque(maxlen=100)
    )  # the latest, for tests/logs

    def dispatch(self, message: DispatchMessage) -> DispatchOutcome:
        outcome = self._dispatch(message)
        if outcome.action in ("queued", "already_queued"):
            outcome.launches = len(self.scaler.ensure_capacity(min_active=1))
        self.outcomes.append(outcome)
        log.info(
            "dispatch",
            extra={"job_id": outcome.job_id, "action": outcome.action, "launches": outcome.launches},
        )
        return outcome

    def _dispatch(self, message: DispatchMessage) -> DispatchOutcome:
        job_id = message.job_id
        job = self.store.get(job_id)
        if job is None or job.tenant_id != message.tenant_id:
            return DispatchOutcome(job_id, "skipped_missing", detail="no such job for this tenant")
        skip = _nothing_to_do(job)
        if skip:
            return skip

        token = uuid.uuid4().hex
        stale_before = utcnow() - timedelta(seconds=self.claim_stale_s)
        if not self.claims.claim(job_id, token, stale_before=stale_before):
            job = self.store.get(job_id)
            skip = _nothing_to_do(job) if job is not None else DispatchOutcome(job_id, "skipped_missing")
            if skip:
                return skip
            raise LaunchInProgress(f"job {job_id}: another delivery is dispatching it (claim not stale yet)")

        try:
            self.work.send(WorkMessage.of(job))  # its lane: what the job knows of its input
        except Exception as e:
            self.claims.release(
                job_id, token, error=f"could not queue the job for a worker: {type(e).__name__}"
            )
            raise

        try:
            self.store.transition(
                job_id,
                JobStatus.CREATED,
                only_from=[JobStatus.PENDING],
                launch_error=None,
                queued_at=utcnow(),
            )
        except (InvalidTransition, JobNotFound):
            current = self.store.get(job_id)
            state = current.status.value if current else "gone"
            return DispatchOutcome(job_id, "queued", detail=f"already {state}")
        return DispatchOutcome(job_id, "queued")


def _nothing_to_do(job: Job) -> DispatchOutcome | None:
    if job.status.is_terminal:
        return DispatchOutcome(job.job_id, "skipped_terminal", detail=job.status.value)
    if job.status is not JobStatus.PENDING or job.launch_id:
        return DispatchOutcome(job.job_id, "already_queued", detail=job.status.value)
    return None


def fail_undispatchable(
    store: JobStore, events: EventBus, message: DispatchMessage, *, receive_count: int | None = None
) -> Job | None:
    """DLQ consumer: the job's dispatch kept failing. End it ``failed``/``launch_failed`` with a
    reason.

    Only a job still ``pending`` is failed: one that was queued for the workers after all (the
    record failed later, e.g. on a throttled worker launch) is left to the workers and the sweeper.
    """
    job = store.get(message.job_id)
    if job is None or job.tenant_id != message.tenant_id:
        return None
    if job.status is not JobStatus.PENDING or job.launch_id:
        return None
    tries = f" after {receive_count} attempts" if receive_count else ""
    reason = job.launch_error or "the dispatcher could not process the job's message"
    return fail_job(
        store,
        events,
        job.job_id,
        ErrorCode.LAUNCH_FAILED,
        f"could not start a worker for this job{tries}: {reason}",
    )
