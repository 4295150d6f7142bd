"""Responses of the pyannoteAI dialect (``/v1``, ``/v2``): their wire shapes and how a job becomes
one.

Invariants:

- camelCase on the wire (``by_alias``); ``None`` fields are left out (``http.json_response``).
- A job's ``output`` is the pyannoteAI rendering of its result with the parts the job asked for
  (``services.reading.render_pyannote_output``, the renderer the webhook and the stored large
  rendering use too); ``outputUrl`` is the presigned GET of that same rendering when it is too
  large to inline. Lists never carry either.
- A webhook attempt is shown as the domain records it (``domain.jobs.WebhookAttempt``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from diarist.domain.jobs import Job, JobStatus, WebhookAttempt
from diarist.domain.results import DiarizationResult
from diarist.services.reading import render_pyannote_output


class _View(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class JobErrorView(_View):
    code: str
    message: str


class WebhookView(_View):
    delivery: Literal["none", "pending", "delivered", "failed"]
    attempts: list[WebhookAttempt] = Field(default_factory=list)


class JobView(_View):
    """``GET /v1/jobs/{jobId}`` (and the items of ``GET /v2/jobs``, which carry no output)."""

    job_id: str = Field(alias="jobId")
    status: JobStatus
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
    output: dict[str, Any] | None = Field(default=None, description="pyannoteAI-shaped output, when small")
    output_url: str | None = Field(
        default=None, alias="outputUrl", description="presigned GET of the same output, when large"
    )
    webhook: WebhookView | None = None


class JobList(BaseModel):
    items: list[JobView]
    cursor: str | None = Field(default=None, description="Pass as ?cursor= for the next page")


class DiarizeResponse(BaseModel):
    job_id: str = Field(alias="jobId")
    status: JobStatus
    model_config = ConfigDict(populate_by_name=True)


class CancelResponse(DiarizeResponse):
    pass


class DeleteResponse(DiarizeResponse):
    deleted: list[str] = Field(default_factory=list, description="What was deleted (with ?purge=true)")


class MediaInputResponse(BaseModel):
    url: str = Field(description="Presigned PUT URL: upload the file there, then diarize media://<key>")


class ErrorItem(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    """Every error of the /v1 and /v2 routes."""

    errors: list[ErrorItem]


def job_view(job: Job, *, result: DiarizationResult | None = None, output_url: str | None = None) -> JobView:
    """The job as ``GET /v1/jobs/{jobId}`` shows it; ``result`` (inlined as ``output``) or
    ``output_url`` when ``services.reading`` found a succeeded job's output."""
    view = JobView(
        job_id=job.job_id,
        status=job.status,
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
    if result is not None:
        view.output = render_pyannote_output(result, job.params)
    view.output_url = output_url
    return view
