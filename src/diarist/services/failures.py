"""No job stays running forever: end jobs whose worker died without reporting.

Two sources, one entry point each (``handle_batch_event``, ``handle_worker_exit``), both ending
in ``lifecycle.fail_job``:

- AWS: EventBridge "Batch Job State Change" events (``functions/batch_events``). A ``FAILED`` event
  (after Batch's own retries) or a ``SUCCEEDED`` one for a job that is still not terminal means
  the worker never reported: the job ends ``failed`` with ``worker_crashed``/``worker_timeout``/
  ``launch_failed`` and a reason taken from the event (OOM kill, spot reclaim, timeout ...).
- Local mode: a drain worker process that exited mid-job. Local mode's reaper
  (``local.process_launcher.LocalLauncher.reap``) hands
  each such exit to ``handle_worker_exit``; so does the owner of a ``local.process_launcher``
  with what its ``poll_finished()`` reports.

The worker itself ends its job in every case it can see (success, input error, internal error), so
in the normal case the job is already terminal here and nothing happens (``finish_job`` refuses).
Batch events are parsed leniently (``domain.aws_events``).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from diarist.domain.aws_events import BatchJobDetail, BatchJobStateChange
from diarist.domain.errors import ErrorCode
from diarist.domain.jobs import Job, utcnow
from diarist.domain.launches import worker_id_from_name
from diarist.ports import EventBus, JobStore, WorkerFleet
from diarist.services.lifecycle import fail_job

log = logging.getLogger(__name__)

_HOST_TERMINATED = re.compile(r"Host EC2 \(instance (?P<instance>[^)]+)\) terminated", re.I)
_LAUNCH_PROBLEMS = (
    "CannotPullContainerError",
    "CannotStartContainerError",
    "ResourceInitializationError",
    "CannotInspectContainerError",
    "CannotCreateContainerError",
)


def classify_batch_failure(detail: BatchJobDetail) -> tuple[ErrorCode, str]:
    """The error code and a human reason for a Batch job that ended without our worker reporting."""
    last = detail.attempts[-1] if detail.attempts else None
    container = (
        detail.container
        if detail.container.exit_code is not None or detail.container.reason
        else (last.container if last else detail.container)
    )
    reasons = [r for r in (detail.status_reason, container.reason, last.status_reason if last else None) if r]
    text = " | ".join(dict.fromkeys(reasons))
    n = len(detail.attempts)
    tries = f" (after {n} attempt{'s' if n != 1 else ''})" if n > 1 else ""

    if detail.status == "SUCCEEDED":
        return ErrorCode.WORKER_CRASHED, "the worker exited without reporting a result"
    if "duration exceeded timeout" in text.lower():
        return ErrorCode.WORKER_TIMEOUT, f"the worker ran past the job timeout{tries}: {text}"
    if (container.reason or "").startswith("OutOfMemoryError") or "OutOfMemory" in text:
        return ErrorCode.WORKER_CRASHED, f"the worker ran out of memory{tries}: {text}"
    host = _HOST_TERMINATED.search(text)
    if host:
        return (
            ErrorCode.WORKER_CRASHED,
            f"the GPU instance {host.group('instance')} was terminated (spot reclaim?){tries}: {text}",
        )
    if any(p in text for p in _LAUNCH_PROBLEMS):
        return ErrorCode.LAUNCH_FAILED, f"the worker container could not start{tries}: {text}"
    if container.exit_code is not None:
        return (
            ErrorCode.WORKER_CRASHED,
            f"the worker exited with code {container.exit_code}{tries}: {text or 'no reason given'}",
        )
    return ErrorCode.WORKER_CRASHED, f"the worker's container job failed{tries}: {text or 'no reason given'}"


START_WINDOW_S = 60  # a worker container that exits this soon after it started never got going


def worker_start_failure(detail: BatchJobDetail) -> str | None:
    """Why a drain worker's FAILED container job never started serving (``None`` if it did):
    the image could not be pulled or the container not started (``CannotPullContainerError`` ...),
    or its essential container exited with an error within ``START_WINDOW_S`` of starting (a bad
    image, a missing GPU, a broken setting). Host terminations and timeouts are not start failures."""
    if detail.status != "FAILED":
        return None
    code, reason = classify_batch_failure(detail)
    if code is ErrorCode.LAUNCH_FAILED:
        return reason
    if code is not ErrorCode.WORKER_CRASHED or _HOST_TERMINATED.search(reason) or "out of memory" in reason:
        return None
    last = detail.attempts[-1] if detail.attempts else None
    exit_code = detail.container.exit_code
    if exit_code is None and last is not None:
        exit_code = last.container.exit_code
    if last is None or last.started_at is None or last.stopped_at is None or not exit_code:
        return None
    ran_s = (last.stopped_at - last.started_at) / 1000
    if ran_s > START_WINDOW_S:
        return None
    return f"the worker container exited with code {exit_code} {ran_s:.0f} s after it started: {reason}"


def handle_worker_container_event(
    fleet: WorkerFleet, event: BatchJobStateChange | dict[str, Any]
) -> str | None:
    """A drain worker's Batch job ended (``diarist-worker-<id>``): it leaves the fleet at once, so
    the next capacity decision may launch another instead of counting it until its lease ends (a
    worker that never started, e.g. an image that cannot be pulled, would count for the whole
    start grace). Its jobs are not touched: a job it held is resumed by the next take or by the
    sweeper. A container that could not start (``worker_start_failure``) is counted on the fleet
    instead (``WorkerFleet.start_failed``): after a few in a row the sweeper fails the jobs that
    wait with ``worker_start_failed``. Returns the worker id, or ``None`` for any other event."""
    if not isinstance(event, BatchJobStateChange):
        event = BatchJobStateChange.model_validate(event)
    detail = event.detail
    worker_id = worker_id_from_name(detail.job_name)
    if worker_id is None or detail.status not in ("FAILED", "SUCCEEDED"):
        return None
    start_failure = worker_start_failure(detail)
    if start_failure is not None:
        # counted on the fleet: the sweeper fails the waiting jobs after a few in a row
        fleet.start_failed(worker_id, f"{start_failure} (Batch job {detail.job_id})", at=utcnow())
    else:
        fleet.leave(worker_id)
    if detail.status == "FAILED":
        code, reason = classify_batch_failure(detail)
        log.warning(
            "drain worker's container failed",
            extra={
                "worker_id": worker_id,
                "batch_job_id": detail.job_id,
                "code": code.value,
                "reason": reason,
                "start_failure": start_failure is not None,
            },
        )
    return worker_id


def handle_batch_event(
    store: JobStore, events: EventBus, event: BatchJobStateChange | dict[str, Any]
) -> Job | None:
    """Fail our job if Batch says its container job ended and the job is not terminal yet.

    Returns the failed job, or ``None`` when there was nothing to do (not a final status, not our
    job, an older launch of the job, or the job already ended).
    """
    if not isinstance(event, BatchJobStateChange):
        event = BatchJobStateChange.model_validate(event)
    detail = event.detail
    if detail.status not in ("FAILED", "SUCCEEDED"):
        return None
    job_id = detail.diarist_job_id()
    if job_id is None:
        log.info("batch event for a job that is not ours", extra={"batch_job_id": detail.job_id})
        return None
    job = store.get(job_id)
    if job is None or job.status.is_terminal:
        return None
    if job.launch_id and job.launch_id != detail.job_id:
        log.info(
            "batch event for an older launch of the job",
            extra={"job_id": job_id, "launch_id": job.launch_id, "batch_job_id": detail.job_id},
        )
        return None
    code, reason = classify_batch_failure(detail)
    log.warning(
        "failing job from batch event", extra={"job_id": job_id, "code": code.value, "reason": reason}
    )
    return fail_job(store, events, job_id, code, reason)


def handle_worker_exit(
    store: JobStore, events: EventBus, job_id: str, returncode: int | None, *, log_hint: str | None = None
) -> Job | None:
    """A worker process exited (local mode): fail the job ``worker_crashed`` if it is still not
    terminal, with the exit code or signal (``None``: unknown) and where its log is.

    Returns the failed job, or ``None`` when the job had ended (the worker reported) or is gone.
    """
    job = store.get(job_id)
    if job is None or job.status.is_terminal:
        return None
    if not returncode:
        reason = "the worker exited without reporting a result"
    elif returncode < 0:
        reason = f"the worker was killed by signal {-returncode}"
    elif returncode == 137:
        reason = "the worker was killed (exit code 137: SIGKILL, e.g. out of memory)"
    else:
        reason = f"the worker exited with code {returncode}"
    if log_hint:
        reason += f" (log: {log_hint})"
    return fail_job(store, events, job_id, ErrorCode.WORKER_CRASHED, reason)
