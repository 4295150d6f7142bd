"""Job lifecycle helpers shared by the dispatcher, the worker, the failure handlers and the API.

Every status change goes through the store's conditional writes, so two parties racing (a worker
finishing while the user cancels, a Batch failure event arriving after the worker reported) can
never both win: the loser's write is refused and it does nothing else.

- ``finish_job``: the one way to end a job. A terminal transition that also records "a completion
  event is owed" (``event_owed_at``, one conditional write: the outbox), then the
  ``JobFinishedDetail`` on the event bus, published by the party whose write won, then the debt is
  cleared. If publishing fails the job stays owed and the sweeper (``services.sweeper``) publishes
  it a few seconds later: the event goes out at least once, always with the same ``eventId``.
- ``mark_running``: ``pending|created -> running`` (or resume a job a retried attempt already
  marked running).
- ``report_progress`` / ``ProgressReporter``: throttled progress writes that only land while the
  job is running; a refused write tells the worker that the job was canceled or failed meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from diarist.domain.errors import DiaristError, ErrorCode, InvalidTransition, JobNotFound
from diarist.domain.jobs import Job, JobError, JobStatus, utcnow
from diarist.domain.messages import JobFinishedDetail
from diarist.ports import EventBus, JobStore

log = logging.getLogger(__name__)


def to_job_error(error: JobError | DiaristError | tuple[ErrorCode | str, str]) -> JobError:
    """Normalise what callers have at hand (a typed error, a (code, message) pair) to ``JobError``."""
    if isinstance(error, JobError):
        return error
    if isinstance(error, DiaristError):
        return JobError(code=error.code, message=error.message)
    code, message = error
    return JobError(code=code, message=message)


def finish_job(
    store: JobStore,
    events: EventBus,
    job_id: str,
    status: JobStatus,
    *,
    error: JobError | DiaristError | tuple[ErrorCode | str, str] | None = None,
    result_location: str | None = None,
    **changes: Any,
) -> Job | None:
    """End a job: conditional terminal transition, then one completion event.

    Returns the updated job, or ``None`` when the store refused the write (the job is already
    terminal, e.g. canceled; or ``status`` cannot be reached from its current status, e.g.
    ``succeeded`` from ``pending``; or the job no longer exists). Nothing is published then:
    whoever ended the job first already published its event.
    """
    if not status.is_terminal:
        raise ValueError(f"finish_job needs a terminal status, not {status.value}")
    job_error = to_job_error(error) if error is not None else None
    if job_error is not None:
        changes["error"] = job_error
    if result_location is not None:
        changes["result_location"] = result_location
    try:
        job = store.transition(job_id, status, **changes)
    except InvalidTransition as e:
        log.info("finish_job refused", extra={"job_id": job_id, "status": status.value, "reason": str(e)})
        return None
    except JobNotFound:
        log.warning("finish_job on a missing job", extra={"job_id": job_id, "status": status.value})
        return None
    publish_owed(store, events, job)
    return job


def publish_owed(store: JobStore, events: EventBus, job: Job) -> bool:
    """Publish the completion event a terminal job owes, then clear the debt. A failed publish is
    logged and left owed (the sweeper retries it); returns whether the event went out."""
    try:
        events.job_finished(JobFinishedDetail.of(job))
    except Exception:
        log.warning(
            "completion event not published; left in the outbox for the sweeper",
            extra={"job_id": job.job_id, "status": job.status.value},
            exc_info=True,
        )
        return False
    if job.event_owed_at is not None:
        try:
            store.mark_event_sent(job.job_id, job.event_owed_at)
        except Exception:  # published; the sweeper may publish it again (same eventId): harmless
            log.warning("could not clear the outbox entry", extra={"job_id": job.job_id}, exc_info=True)
    return True


def fail_job(
    store: JobStore, events: EventBus, job_id: str, code: ErrorCode | str, message: str, **changes: Any
) -> Job | None:
    """Shorthand for ``finish_job(..., JobStatus.FAILED, error=(code, message))``."""
    return finish_job(store, events, job_id, JobStatus.FAILED, error=(code, message), **changes)


def mark_running(store: JobStore, job_id: str, *, allow_resume: bool = True, **changes: Any) -> Job | None:
    """``pending|created -> running``. Returns the job, or ``None`` if it must not run.

    ``None`` means the job is terminal (canceled before the worker started, or already failed by a
    failure handler) or missing. With ``allow_resume`` a job that is already ``running`` (a Batch
    retry attempt after a spot reclaim) is taken over: progress restarts from 0.
    """
    try:
        return store.transition(job_id, JobStatus.RUNNING, **changes)
    except JobNotFound:
        return None
    except InvalidTransition:
        pass
    if not allow_resume:
        return None
    try:
        return store.update(job_id, only_if_status=[JobStatus.RUNNING], progress=0, **changes)
    except (InvalidTransition, JobNotFound):
        return None


def take_job(
    store: JobStore, job_id: str, worker_id: str, *, stale_after_s: float, **changes: Any
) -> Job | None:
    """A drain worker takes a job from the work queue (``JobStore.take``: one conditional write).
    ``None`` when it must not run it here: terminal or missing, or running on another worker that
    wrote within ``stale_after_s`` (a duplicate message). A job given back (no holder), or whose
    holder went silent longer than that, is resumed from the start."""
    stale_before = utcnow() - timedelta(seconds=stale_after_s)
    try:
        return store.take(job_id, worker_id, stale_before=stale_before, **changes)
    except (InvalidTransition, JobNotFound):
        return None


def give_back(store: JobStore, job_id: str, worker_id: str) -> bool:
    """The worker stops (SIGTERM) without finishing: the job stays ``running`` without a holder, so
    the next worker that receives its message resumes it at once. False when the job was no
    longer ours (ended, canceled, taken over)."""
    try:
        store.update(job_id, only_if_status=[JobStatus.RUNNING], only_if_held_by=worker_id, worker_id=None)
    except (InvalidTransition, JobNotFound):
        return False
    return True


def report_progress(
    store: JobStore, job_id: str, percent: int, *, worker_id: str | None = None
) -> Job | None:
    """Write ``progress`` (clamped to 0..99) only while the job is running (and, with
    ``worker_id``, only while that worker holds it).

    Returns ``None`` when the write is refused: the job is no longer running (canceled or failed
    meanwhile) or another worker took it over, and the caller should stop working on it.
    """
    percent = max(0, min(99, int(percent)))  # 100 is written by the success transition only
    try:
        return store.update(
            job_id, only_if_status=[JobStatus.RUNNING], only_if_held_by=worker_id, progress=percent
        )
    except (InvalidTransition, JobNotFound):
        return None


class ProgressReporter:
    """Throttled ``report_progress``: writes at most when ``min_step`` percent were gained or
    ``min_interval_s`` seconds passed since the last write (the latter doubles as a heartbeat that
    notices a cancel during a long step). Progress never goes backwards.

    Calling it returns ``False`` once a write was refused (the job stopped running); it keeps
    returning ``False`` afterwards without touching the store again.
    """

    def __init__(
        self,
        store: JobStore,
        job_id: str,
        *,
        min_interval_s: float = 10.0,
        min_step: int = 5,
        clock: Callable[[], float] = time.monotonic,
        worker_id: str | None = None,
    ) -> None:
        self.store = store
        self.job_id = job_id
        self.worker_id = worker_id
        self.min_interval_s = min_interval_s
        self.min_step = min_step
        self._clock = clock
        self._last_written = 0
        self._last_at = clock()
        self.writes = 0
        self.still_running = True
        self._lock = threading.Lock()

    def __call__(self, percent: float) -> bool:
        with self._lock:
            if not self.still_running:
                return False
            pct = max(self._last_written, max(0, min(99, int(percent))))
            now = self._clock()
            if pct - self._last_written < self.min_step and now - self._last_at < self.min_interval_s:
                return True
            self.writes += 1
            if report_progress(self.store, self.job_id, pct, worker_id=self.worker_id) is None:
                self.still_running = False
                return False
            self._last_written, self._last_at = pct, now
            return True

    def beat(self) -> bool:
        """The heartbeat: the last progress again, written only when ``min_interval_s`` passed
        since the last write (the sweeper fails a running job whose writes stop)."""
        return self(self._last_written)

    @contextlib.contextmanager
    def heartbeating(self) -> Iterator[ProgressReporter]:
        """While inside, a daemon thread calls ``beat`` every ``min_interval_s``, so the job is
        written at least that often even when the engine reports nothing for a long step."""
        stop = threading.Event()

        def run() -> None:
            while not stop.wait(max(self.min_interval_s, 1.0)):  # never a busy loop
                try:
                    if not self.beat():
                        return
                except Exception:
                    log.warning("heartbeat write failed", extra={"job_id": self.job_id}, exc_info=True)

        thread = threading.Thread(target=run, name=f"heartbeat-{self.job_id}", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join(timeout=5)


def elapsed_s(job: Job) -> float | None:
    """Seconds since the job started running (for logs and metrics)."""
    if job.started_at is None:
        return None
    return (utcnow() - job.started_at).total_seconds()
