"""Dispatch: turn a ``DispatchMessage`` (one SQS record) into exactly one container job.

SQS delivers at least once, and a Lambda may die anywhere, so the launch is claimed first:

1. Read the job. Missing, terminal (e.g. canceled while queued) or already launched -> done
   (ack the record; nothing is launched).
2. Claim the launch with a conditional write (``pending``, no ``launch_id``, no live claim). Only one
   delivery can hold the claim. A claim left by a delivery that died mid-launch goes stale after
   ``launch_claim_stale_s`` and may then be taken over.
3. Launch; after taking over a stale claim, first adopt a live container job the dead delivery
   started (``Launcher.find_launch``). Throttling -> ``LaunchThrottled``; other refusals ->
   ``LaunchFailed`` (``ports``). Either way the claim is released (with the reason in
   ``launch_error``) and the error propagates, so the record is reported as a batch item failure
   and SQS redelivers it later; after ``maxReceiveCount`` it lands in the DLQ, whose consumer
   (``fail_undispatchable``) ends the job ``failed``/``launch_failed``.
4. ``pending -> created`` with the ``launch_id``. If that is refused because the job was canceled
   meanwhile, the fresh container job is terminated; if the worker already moved it to
   ``running``, only the ``launch_id`` is recorded.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta

from diarist.domain.errors import DiaristError, ErrorCode, InvalidTransition, JobNotFound
from diarist.domain.jobs import Job, JobStatus, utcnow
from diarist.domain.messages import DispatchMessage, WorkerSpec
from diarist.ports import EventBus, JobStore, LaunchClaims, Launcher
from diarist.services.lifecycle import fail_job

log = logging.getLogger(__name__)


class LaunchInProgress(DiaristError):
    """Another delivery holds a live launch claim: retry this record later."""


@dataclass
class DispatchOutcome:
    job_id: str
    action: str  # launched | skipped_missing | skipped_terminal | already_launched | canceled_after_launch
    launch_id: str | None = None
    detail: str = ""


@dataclass
class Dispatcher:
    store: JobStore
    launcher: Launcher
    claims: LaunchClaims
    claim_stale_s: float = 300.0
    outcomes: deque[DispatchOutcome] = field(
        default_factory=lambda: deque(maxlen=100)
    )  # the latest, for tests/logs

    def dispatch(self, message: DispatchMessage) -> DispatchOutcome:
        outcome = self._dispatch(message)
        self.outcomes.append(outcome)
        log.info(
            "dispatch",
            extra={"job_id": outcome.job_id, "action": outcome.action, "launch_id": outcome.launch_id},
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

        takeover = job.launch_claim is not None  # a stale claim: its dispatcher died mid-launch
        token = uuid.uuid4().hex
        stale_before = utcnow() - timedelta(seconds=self.claim_stale_s)
        if not self.claims.claim(job_id, token, stale_before=stale_before):
            job = self.store.get(job_id)
            skip = _nothing_to_do(job) if job is not None else DispatchOutcome(job_id, "skipped_missing")
            if skip:
                return skip
            raise LaunchInProgress(f"job {job_id}: another delivery is launching it (claim not stale yet)")

        spec = WorkerSpec(job_id=job.job_id, tenant_id=job.tenant_id)
        try:
            launch_id = self._existing_launch(spec) if takeover else None
            launch_id = launch_id or self.launcher.launch(spec)
        except Exception as e:
            reason = getattr(e, "message", None) or f"{type(e).__name__}: {e}"
            self.claims.release(job_id, token, error=reason)
            raise

        try:
            self.store.transition(job_id, JobStatus.CREATED, launch_id=launch_id, launch_error=None)
            return DispatchOutcome(job_id, "launched", launch_id)
        except (InvalidTransition, JobNotFound):
            pass
        current = self.store.get(job_id)
        if current is not None and current.status is JobStatus.RUNNING and not current.launch_id:
            # the worker started before our write landed: keep the launch id for cancel/terminate
            with contextlib.suppress(InvalidTransition, JobNotFound):
                self.store.update(job_id, only_if_status=[JobStatus.RUNNING], launch_id=launch_id)
            return DispatchOutcome(job_id, "launched", launch_id, detail="worker already running")
        # canceled (or deleted) while we were launching: do not let the container run for nothing
        self.launcher.terminate(launch_id, f"diarist job {job_id} was canceled before it started")
        return DispatchOutcome(job_id, "canceled_after_launch", launch_id)

    def _existing_launch(self, spec: WorkerSpec) -> str | None:
        """After a dispatcher died between launching and recording the launch, the container job
        may exist: adopt it rather than start a second one."""
        found = self.launcher.find_launch(spec)
        if found:
            log.warning(
                "adopting a launch left by a dead dispatcher",
                extra={"job_id": spec.job_id, "launch_id": found},
            )
        return found


def _nothing_to_do(job: Job) -> DispatchOutcome | None:
    if job.status.is_terminal:
        return DispatchOutcome(job.job_id, "skipped_terminal", detail=job.status.value)
    if job.status is not JobStatus.PENDING or job.launch_id:
        return DispatchOutcome(job.job_id, "already_launched", job.launch_id, detail=job.status.value)
    return None


def fail_undispatchable(
    store: JobStore, events: EventBus, message: DispatchMessage, *, receive_count: int | None = None
) -> Job | None:
    """DLQ consumer: the job's launch kept failing. End it ``failed``/``launch_failed`` with a reason.

    Only a job still ``pending`` without a ``launch_id`` is failed: one that was launched after all
    (the message failed later, e.g. on a throttled status write) is left to its worker.
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
