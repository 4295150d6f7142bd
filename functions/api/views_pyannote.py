"""Responses of the pyannoteAI dialect (``/v1``, ``/v2``): their wire shapes and how a job becomes
one.

Invariants:

- camelCase on the wire (``by_alias``); ``None`` fields are left out (``http.json_response``).
- A job's ``output`` is the pyannoteAI rendering of its result with the parts the job asked for
  (``services.reading.render_pyannote_output``, the renderer the webhook and the stored large
  rendering use too); ``outputUrl`` is the presigned GET of that same rendering when it is too
  large to inline. Lists never carry either.
- A failed or canceled job always has ``output.error``, a string (the job's error message; for a
  canceled job without one, ``CANCELED_MESSAGE``), as pyannoteAI's SDK reads it; ``error {code,
  message}`` stays beside it. Lists carry no output at all.
- A job just submitted shows ``created`` (pyannoteAI's JobCreated) while it is still ``pending``
  inside; ``GET`` shows the real status (``pending`` until a worker is launched).
- ``GET /v2/jobs`` always has ``nextCursor`` (``null`` on the last page), and ``cursor`` (the same
  value, left out on the last page) for clients written against earlier Diarist versions; each
  item has ``id`` (pyannoteAI's name) beside ``jobId``.
- A webhook attempt is shown as the domain records it (``domain.jobs.WebhookAttempt``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from diarist.domain.jobs import Job, JobKind, JobStatus, WebhookAttempt
from diarist.domain.results import JobResult
from diarist.services.reading import render_pyannote_output


class _View(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class JobErrorView(_View):
    code: str
    message: str


class WebhookView(_View):
    delivery: Literal["none", "pending", "delivered", "failed"]
    attempts: list[WebhookAttempt] = Field(default_factory=list)


class DiagnosticsView(_View):
    """Diarist's addition (not in pyannoteAI's shape): which worker ran the job, so an operator
    can go from a job to its logs."""

    worker_id: str | None = Field(default=None, alias="workerId", description="The drain worker's id")
    launch_id: str | None = Field(
        default=None,
        alias="launchId",
        description="Its container job: the AWS Batch job id (local mode: local-<pid>)",
    )
    log_stream: str | None = Field(
        default=None,
        alias="logStream",
        description="Where its log lines are: the CloudWatch log stream (local mode: the log file)",
    )
    attempts: int = Field(
        default=0, description="How many times a worker took the job (more than 1: resumed)"
    )


CANCELED_MESSAGE = "the job was canceled"
FAILED_MESSAGE = "the job failed"


class JobView(_View):
    """``GET /v1/jobs/{jobId}`` (and the items of ``GET /v2/jobs``, which carry no output)."""

    job_id: str = Field(alias="jobId")
    status: JobStatus
    kind: JobKind = Field(
        default="diarize",
        description="What the job computes (diarize, voiceprint, identify, or a Phonexia kind)",
    )
    requested_model: str | None = Field(
        default=None, alias="requestedModel", description="The model the request named"
    )
    result_model: str | None = Field(
        default=None, alias="resultModel", description="The weights that produced the result"
    )
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")
    started_at: datetime | None = Field(default=None, alias="startedAt")
    finished_at: datetime | None = Field(default=None, alias="finishedAt")
    progress: int = 0
    warnings: list[str] = Field(default_factory=list)
    error: JobErrorView | None = None
    output: dict[str, Any] | None = Field(
        default=None,
        description="pyannoteAI-shaped output when succeeded (when small); {error: message} when "
        "failed or canceled",
    )
    output_url: str | None = Field(
        default=None, alias="outputUrl", description="presigned GET of the same output, when large"
    )
    webhook: WebhookView | None = None
    diagnostics: DiagnosticsView | None = Field(
        default=None, description="Diarist only: the worker that ran the job (once one took it)"
    )


class JobListItem(JobView):
    id: str = Field(description="The job id (pyannoteAI's name for it; the same as jobId)")


class JobList(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    items: list[JobListItem]
    next_cursor: str | None = Field(
        alias="nextCursor", description="Pass as ?cursor= for the next page; null on the last page"
    )
    cursor: str | None = Field(default=None, description="The same as nextCursor (earlier Diarist clients)")


class JobStatusResponse(BaseModel):
    job_id: str = Field(alias="jobId")
    status: JobStatus
    model_config = ConfigDict(populate_by_name=True)


class DiarizeResponse(JobStatusResponse):
    """pyannoteAI's JobCreated (``POST /v1/diarize``, ``/v1/voiceprint``, ``/v1/identify``)."""

    warning: str | None = Field(
        default=None, description="e.g. the model named is not the one this deployment runs"
    )


class CancelResponse(JobStatusResponse):
    pass


class DeleteResponse(JobStatusResponse):
    deleted: list[str] = Field(default_factory=list, description="What was deleted (with ?purge=true)")


class MediaInputResponse(BaseModel):
    url: str = Field(description="Presigned PUT URL: upload the file there, then diarize media://<key>")


class MediaOutputResponse(BaseModel):
    url: str = Field(description="Presigned GET URL of the media://<key> upload")


class JobInputResponse(BaseModel):
    url: str = Field(description="Presigned GET URL of the job's own input (for playback)")


class ErrorItem(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    """Every error of the /v1 and /v2 routes."""

    message: str = Field(description="One line: what went wrong (400: the first bad field)")
    errors: list[ErrorItem]
    request_id: str | None = Field(default=None, alias="requestId", description="429 only")


class KeyTestResponse(BaseModel):
    status: str = Field(description="OK")
    message: str


def created_view(job: Job) -> DiarizeResponse:
    """pyannoteAI's JobCreated: a job still ``pending`` shows as ``created``; an Idempotency-Key
    replay of an older job shows that job's status."""
    status = JobStatus.CREATED if job.status is JobStatus.PENDING else job.status
    return DiarizeResponse(job_id=job.job_id, status=status, warning="; ".join(job.warnings) or None)


def job_list_view(jobs: list[Job], cursor: str | None) -> dict[str, Any]:
    """``GET /v2/jobs``: ``nextCursor`` is always there, ``null`` on the last page."""
    items = [
        JobListItem.model_validate({**job_view(job, with_output=False).model_dump(), "id": job.job_id})
        for job in jobs
    ]
    body = JobList(items=items, next_cursor=cursor, cursor=cursor).model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    body["nextCursor"] = cursor
    return body


def job_view(
    job: Job,
    *,
    result: JobResult | None = None,
    output_url: str | None = None,
    with_output: bool = True,
) -> JobView:
    """The job as ``GET /v1/jobs/{jobId}`` shows it; ``result`` (inlined as ``output``) or
    ``output_url`` when ``services.reading`` found a succeeded job's output; a failed or canceled
    job's ``output.error`` unless ``with_output`` is false (lists)."""
    view = JobView(
        job_id=job.job_id,
        status=job.status,
        kind=job.kind,
        requested_model=job.requested_model,
        result_model=job.result_model,
        created_at=job.created_at,
        updated_at=job.updated_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        progress=job.progress,
        warnings=list(job.warnings),
        error=JobErrorView(code=str(job.error.code), message=job.error.message) if job.error else None,
    )
    if job.webhook_url:
        view.webhook = WebhookView(delivery=job.webhook_delivery, attempts=list(job.webhook_attempts))
    if job.worker_takes or job.launch_id:
        # the worker id goes when a worker gives the job back; the last one that ran it stays
        view.diagnostics = DiagnosticsView(
            worker_id=job.worker_id or job.last_worker_id,
            launch_id=job.launch_id,
            log_stream=job.worker_log,
            attempts=job.worker_takes,
        )
    if not with_output:
        return view
    if result is not None:
        view.output = render_pyannote_output(job, result)
    elif job.status is JobStatus.FAILED:
        view.output = {"error": job.error.message if job.error else FAILED_MESSAGE}
    elif job.status is JobStatus.CANCELED:
        view.output = {"error": job.error.message if job.error else CANCELED_MESSAGE}
    view.output_url = output_url
    return view
