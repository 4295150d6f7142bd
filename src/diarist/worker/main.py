"""The worker's run of one job (``worker.drain`` calls it for each job it takes from the work queue).

``run_worker(job_id, tenant_id, worker=...) -> exit code``:

1. Load the job. Missing, another tenant's, or already terminal (canceled while queued) -> exit 0.
2. Take it (``lifecycle.take_job``: one conditional write that makes it ``running`` and records the
   worker: ``worker_id``, ``launch_id``, ``worker_log``). Refused (a duplicate message for a job
   another worker runs, or a terminal job) -> exit 0, without touching the job.
3. Fetch the input to a temp dir (``s3://`` streamed to disk, ``https://`` via the engine's fetcher).
4. Run the job's kind (``worker.diarizer.run_job``: diarize, voiceprint, identify, voiceprint
   extraction); progress goes to the job through a throttled, conditional writer. When a progress
   write is refused the job was canceled (or failed) meanwhile: stop at once, exit 0.
5. Write ``<prefix>.json`` (the kind's result, by alias) and, for a diarization or identification,
   ``<prefix>.rttm`` to the results bucket (layout in docs/pipeline.md), then
   ``finish_job(succeeded, result_location=<prefix>.json)``.

Exit codes: 0 = the job was handled (succeeded, failed for an input problem, or stopped because it
was canceled); 1 = unexpected error (the job was marked ``failed``/``internal_error`` if possible,
with a generic message: the exception itself is logged, never shown to the tenant);
143 = stopped by SIGTERM (spot reclaim, scale-in, local mode stopping): the job is given back at
once (``lifecycle.give_back``: still ``running``, no holder), for the next worker that receives its
message to resume.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from diarist.domain.errors import AudioInputError, ErrorCode
from diarist.domain.jobs import Job, JobStatus
from diarist.domain.locations import s3_url, split_s3_url
from diarist.domain.results import DiarizationResult, JobResult
from diarist.engine.formats import to_rttm  # pure functions, no torch
from diarist.observability import job_context
from diarist.ports import EventBus, JobStore, ObjectStore
from diarist.resources import RESULTS_PREFIX
from diarist.services.lifecycle import ProgressReporter, finish_job, give_back, report_progress, take_job
from diarist.settings import WorkerSettings, load
from diarist.worker.diarizer import JobDiarizer, build_diarizer, run_job
from diarist.worker.inputs import fetch

log = logging.getLogger("diarist.worker")

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_TERMINATED = 128 + signal.SIGTERM
INTERNAL_ERROR_MESSAGE = (
    "internal error in the worker; the operator's logs have the details (search for this job id)"
)


class JobStopped(Exception):
    """The job left ``running`` while we worked on it (canceled, or failed by someone else)."""


class WorkerTerminated(BaseException):
    """SIGTERM arrived. A BaseException so that no ``except Exception`` in the engine swallows it."""


@dataclass(frozen=True)
class WorkerIdentity:
    """Who runs a job, recorded on it when taken (``GET /v1/jobs/{id}`` shows it as diagnostics):
    the drain worker's id, its container job (Batch job id, ``local-<pid>``) and its log."""

    worker_id: str
    launch_id: str
    log: str | None = None

    @classmethod
    def single(cls) -> WorkerIdentity:
        """A worker that runs one job outside a fleet (tests, a job run by hand)."""
        return cls(worker_id=f"single-{uuid.uuid4().hex[:12]}", launch_id=f"local-{os.getpid()}")


# --- result layout -------------------------------------------------------------------------------
def result_prefix(job: Job, results_bucket: str) -> str:
    """``s3://<results>/results/<tenant>/<job_id>/result`` (API jobs), or the job's own
    ``result_prefix`` (S3-triggered jobs: ``s3://<results>/results/<tenant>/<path-after-tenant>``)."""
    return job.result_prefix or s3_url(results_bucket, f"{RESULTS_PREFIX}{job.tenant_id}/{job.job_id}/result")


def result_locations(job: Job, results_bucket: str) -> tuple[str, str]:
    prefix = result_prefix(job, results_bucket)
    return prefix + ".json", prefix + ".rttm"


def write_results(objects: ObjectStore, job: Job, result: JobResult, results_bucket: str) -> str:
    json_url, rttm_url = result_locations(job, results_bucket)
    file_id = PurePosixPath(job.input_url.split("?", 1)[0]).name or job.job_id
    objects.put_bytes(
        *split_s3_url(json_url), result.model_dump_json(by_alias=True).encode(), "application/json"
    )
    if isinstance(result, DiarizationResult):  # identify: the turns named by their match
        rttm = to_rttm(result, file_id, identified=job.kind == "identify")
        objects.put_bytes(*split_s3_url(rttm_url), rttm.encode(), "text/plain")
    return json_url


# --- signals -------------------------------------------------------------------------------------
class SigtermGuard:
    """SIGTERM interrupts the work (fetch, diarize) but not our own status writes."""

    def __init__(self) -> None:
        self.received = False
        self.interruptible = False

    def handler(self, signum: int, frame: Any) -> None:
        self.received = True
        log.warning("SIGTERM received")
        if self.interruptible:
            raise WorkerTerminated()

    @contextlib.contextmanager
    def installed(self) -> Iterator[SigtermGuard]:
        try:
            previous = signal.signal(signal.SIGTERM, self.handler)
        except ValueError:  # not the main thread (tests running the worker in a thread)
            yield self
            return
        try:
            yield self
        finally:
            signal.signal(signal.SIGTERM, previous)

    @contextlib.contextmanager
    def interruptible_section(self) -> Iterator[None]:
        if self.received:
            raise WorkerTerminated()
        self.interruptible = True
        try:
            yield
        finally:
            self.interruptible = False


# --- the run -------------------------------------------------------------------------------------
def run_worker(
    job_id: str,
    tenant_id: str,
    *,
    settings: WorkerSettings | None = None,
    store: JobStore | None = None,
    events: EventBus | None = None,
    objects: ObjectStore | None = None,
    diarizer: JobDiarizer | None = None,
    s3_client: Any | None = None,
    worker: WorkerIdentity | None = None,
    sigterm: SigtermGuard | None = None,
) -> int:
    """Process one job; returns the exit code (module doc). Dependencies default to the AWS
    adapters. ``sigterm``: the drain loop's handler (else one is installed for this run). Every line
    logged meanwhile (here, in the services, the engine) carries the job's keys."""
    with job_context(job_id, tenant_id):
        settings = settings or load(WorkerSettings)
        if store is None:
            from diarist.adapters.dynamo_jobs import DynamoJobStore

            store = DynamoJobStore(settings.table_name)
        if events is None:
            from diarist.adapters.events import EventBridgeBus

            events = EventBridgeBus(settings.event_bus_name)
        if objects is None or s3_client is None:
            from diarist.adapters.aws import client
            from diarist.adapters.s3_store import S3ObjectStore

            s3_client = s3_client or client("s3")
            objects = objects or S3ObjectStore(s3_client)

        job = store.get(job_id)
        if job is None or job.tenant_id != tenant_id:
            log.error("no such job for this tenant")
            return EXIT_OK
        if job.status.is_terminal:
            log.info("job already %s: nothing to do", job.status.value)
            return EXIT_OK

        worker = worker or WorkerIdentity.single()
        installed = sigterm is None
        sigterm = sigterm or SigtermGuard()
        with sigterm.installed() if installed else contextlib.nullcontext(sigterm):
            running = take_job(
                store,
                job_id,
                worker.worker_id,
                stale_after_s=settings.worker_stale_s,
                launch_id=worker.launch_id,
                worker_log=worker.log,
            )
            if running is None:
                log.info("job not taken (ended, canceled, or running on another worker)")
                return EXIT_OK
            log.info(
                "job taken",
                extra={
                    "worker_id": worker.worker_id,
                    "launch_id": worker.launch_id,
                    "takes": running.worker_takes,
                },
            )
            try:
                return _process(
                    running, settings, store, events, objects, diarizer, s3_client, sigterm, worker.worker_id
                )
            except WorkerTerminated:
                given = give_back(store, job_id, worker.worker_id)
                log.warning("stopped by SIGTERM; job given back" if given else "stopped by SIGTERM")
                return EXIT_TERMINATED


def _process(
    job: Job,
    settings: WorkerSettings,
    store: JobStore,
    events: EventBus,
    objects: ObjectStore,
    diarizer: JobDiarizer | None,
    s3_client: Any,
    sigterm: SigtermGuard,
    worker_id: str,
) -> int:
    job_id = job.job_id
    reporter = ProgressReporter(
        store,
        job_id,
        min_interval_s=settings.progress_interval_s,
        min_step=settings.progress_min_step,
        worker_id=worker_id,
    )

    def on_progress(percent: float) -> None:
        if sigterm.received:
            raise WorkerTerminated()
        if not reporter(percent):
            raise JobStopped()

    try:
        if diarizer is None:
            diarizer = build_diarizer(settings)
        with (
            reporter.heartbeating(),
            tempfile.TemporaryDirectory(prefix="diarist-job-") as tmp,
            sigterm.interruptible_section(),
        ):
            t_fetch = time.monotonic()
            path = fetch(job.input_url, Path(tmp), s3_client, settings)
            t_run = time.monotonic()
            result = run_job(diarizer, job, path, on_progress)
            t_write = time.monotonic()
        # last check before writing results: do not leave files behind for a canceled job
        if report_progress(store, job_id, 99, worker_id=worker_id) is None:
            raise JobStopped()
        location = write_results(objects, job, result, settings.results_bucket)
        done = finish_job(
            store,
            events,
            job_id,
            JobStatus.SUCCEEDED,
            result_location=location,
            warnings=[*job.warnings, *result.warnings],  # the submission's (e.g. the model's) first
            result_model=result.model,
        )
        if done is None:
            log.info("job ended while its result was being written; result left in place")
        else:
            # where the time went (benchmarks/burst.py reads these): fetch, the engine, results + status
            timings = {
                "fetch_s": round(t_run - t_fetch, 3),
                "run_s": round(t_write - t_run, 3),
                "write_s": round(time.monotonic() - t_write, 3),
            }
            log.info("job succeeded", extra={"result": location, **timings})
        return EXIT_OK
    except JobStopped:
        log.info("job is no longer running (canceled?): stopping")
        return EXIT_OK
    except AudioInputError as e:
        log.info("input rejected: %s", e.message, extra={"code": str(e.code)})
        finish_job(store, events, job_id, JobStatus.FAILED, error=e)
        return EXIT_OK
    except Exception:
        # The detail (type, message, traceback) goes to the logs only, with the job's keys: an
        # exception's text can name paths, buckets, hosts or the input's content.
        log.exception("worker error")
        with contextlib.suppress(Exception):
            finish_job(
                store, events, job_id, JobStatus.FAILED, error=(ErrorCode.INTERNAL, INTERNAL_ERROR_MESSAGE)
            )
        return EXIT_ERROR
