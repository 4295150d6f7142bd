"""pyannoteAI-style routes: /v1/test, /v1/diarize, /v1/voiceprint, /v1/identify, /v1/media/input,
/v1/media/output, /v1/jobs/..., /v2/jobs.

Each route decodes the request (``request_models``), makes one service call and encodes the answer
(``views_pyannote``); a route about a job makes its call in ``http.job_scope``. Errors are raised,
never answered here: ``errors`` maps them to HTTP.
"""

from __future__ import annotations

from typing import Annotated, Any, Protocol

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.metrics import MetricUnit

from diarist import wiring
from diarist.domain.jobs import JobKind, JobParams, JobStatus
from diarist.observability import metrics
from diarist.services.submission import new_job_id
from functions.api import deps
from functions.api.http import job_scope, json_response, tenant
from functions.api.request_models import (
    DiarizeRequest,
    IdentifyRequest,
    MediaInputRequest,
    VoiceprintRequest,
)
from functions.api.views_pyannote import (
    CancelResponse,
    DeleteResponse,
    DiarizeResponse,
    ErrorBody,
    JobInputResponse,
    JobList,
    JobView,
    KeyTestResponse,
    MediaInputResponse,
    MediaOutputResponse,
    created_view,
    job_list_view,
    job_view,
)

router = Router()  # routes return a Response; each body schema is declared in responses=

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="idempotency-key",
        min_length=1,
        max_length=128,
        pattern=r"^[\x21-\x7e]+$",
        description="Same key + same body within 24 h -> the same job; same key + another body -> 409",
    ),
]
JobId = Annotated[
    str, Path(alias="jobId", min_length=1, max_length=64, description="The job id returned at submission")
]


def _errors(*codes: int) -> dict[int, Any]:
    text = {
        400: "Bad input: each bad field named",
        401: "Missing, invalid or revoked API key",
        404: "No such job for this API key's tenant",
        409: "Conflict (job state, or Idempotency-Key reused with another body)",
        413: "Body over 10 MB: use POST /v1/media/input",
        429: "Too many requests: the tenant's requests per minute or, on a submission, its active jobs "
        "(see Retry-After, X-RateLimit-Limit, -Remaining, -Reset)",
        503: "The job could not be queued (see Retry-After)",
    }
    if 401 in codes and 429 not in codes:  # every authenticated request counts (services.limits)
        codes = (*codes, 429)
    return {c: {"description": text[c], "content": {"application/json": {"model": ErrorBody}}} for c in codes}


def _ok(model: Any, description: str = "OK", status: int = 200) -> dict[int, Any]:
    return {status: {"description": description, "content": {"application/json": {"model": model}}}}


class _UrlSubmission(Protocol):
    """What the three URL submissions' request models share (diarize, voiceprint, identify)."""

    url: str
    webhook: str | None
    webhook_status_only: bool | None
    model: str | None

    def job_params(self) -> JobParams: ...


def _submit(body: _UrlSubmission, idempotency_key: str | None, kind: JobKind) -> Response:
    """One URL submission of any job kind: one service call inside the job's log context, then
    pyannoteAI's JobCreated."""
    job_id = new_job_id()
    with job_scope(router, job_id) as tenant_id:
        job = deps.submissions().submit_url(
            tenant_id,
            job_id=job_id,
            url=body.url,
            params=body.job_params(),
            webhook=body.webhook,
            webhook_status_only=bool(body.webhook_status_only),
            idempotency_key=idempotency_key,
            model=body.model,
            kind=kind,
        )
    metrics.add_metric(name="JobsSubmitted", unit=MetricUnit.Count, value=1)
    return json_response(created_view(job))


@router.get(
    "/v1/test",
    summary="Check the API key (the pyannoteAI SDK calls it when a client is created)",
    tags=["pyannoteAI"],
    responses={**_ok(KeyTestResponse, "The key is valid"), **_errors(401)},
)
def check_key():
    tenant(router)  # the guard already authenticated the caller (401 otherwise)
    return json_response(KeyTestResponse(status="OK", message="API key is valid"))


@router.post(
    "/v1/diarize",
    summary="Submit a diarization job for an audio URL",
    tags=["pyannoteAI"],
    responses={
        **_ok(DiarizeResponse, "Job accepted (status created; GET shows pending until a worker is launched)"),
        **_errors(400, 401, 409, 413, 429, 503),
    },
)
def diarize(body: Annotated[DiarizeRequest, Body()], idempotency_key: IdempotencyKey = None):
    return _submit(body, idempotency_key, "diarize")


@router.post(
    "/v1/voiceprint",
    summary="Submit a voiceprint job: the voiceprint of the speaker of <= 30 s of audio",
    tags=["pyannoteAI"],
    responses={
        **_ok(DiarizeResponse, "Job accepted; its output is {voiceprint: <base64>}"),
        **_errors(400, 401, 409, 413, 429, 503),
    },
)
def voiceprint(body: Annotated[VoiceprintRequest, Body()], idempotency_key: IdempotencyKey = None):
    return _submit(body, idempotency_key, "voiceprint")


@router.post(
    "/v1/identify",
    summary="Submit an identification job: diarize, then match the speakers to voiceprints",
    tags=["pyannoteAI"],
    responses={
        **_ok(DiarizeResponse, "Job accepted; its output adds identification and voiceprints"),
        **_errors(400, 401, 409, 413, 429, 503),
    },
)
def identify(body: Annotated[IdentifyRequest, Body()], idempotency_key: IdempotencyKey = None):
    return _submit(body, idempotency_key, "identify")


@router.post(
    "/v1/media/input",
    summary="Get a presigned PUT URL for media://<key>",
    tags=["pyannoteAI"],
    responses={**_ok(MediaInputResponse, "Upload URL created", status=201), **_errors(400, 401)},
)
def media_input(body: Annotated[MediaInputRequest, Body()]):
    url = deps.inputs().presign_media_upload(tenant(router), body.url)
    return json_response(MediaInputResponse(url=url), status=201)


@router.post(
    "/v1/media/output",
    summary="Get a presigned GET URL for media://<key>",
    tags=["pyannoteAI"],
    responses={**_ok(MediaOutputResponse, "Download URL created", status=201), **_errors(400, 401)},
)
def media_output(body: Annotated[MediaInputRequest, Body()]):
    url = deps.inputs().presign_media_download(tenant(router), body.url)
    return json_response(MediaOutputResponse(url=url), status=201)


@router.get(
    "/v1/jobs/<jobId>/input",
    summary="A presigned GET URL of the job's own input, when the service stores it (for playback)",
    tags=["pyannoteAI"],
    responses={**_ok(JobInputResponse), **_errors(401, 404, 409)},
)
def job_input(job_id: JobId):
    with job_scope(router, job_id) as tenant_id:
        url = deps.reader().input_url(tenant_id, job_id)
    return json_response(JobInputResponse(url=url))


@router.get(
    "/v1/jobs/<jobId>",
    summary="Job status, and its output when succeeded",
    tags=["pyannoteAI"],
    responses={**_ok(JobView), **_errors(401, 404)},
)
def get_job(job_id: JobId):
    with job_scope(router, job_id) as tenant_id:
        found = deps.reader().output(tenant_id, job_id)
    return json_response(job_view(found.job, result=found.result, output_url=found.url))


@router.get(
    "/v2/jobs",
    summary="The caller's jobs, newest first",
    tags=["pyannoteAI"],
    responses={**_ok(JobList), **_errors(400, 401)},
)
def list_jobs(
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
    status: Annotated[JobStatus | None, Query()] = None,
):
    page = deps.reader().list(tenant(router), limit=limit, cursor=cursor, status=status)
    return json_response(job_list_view(page.jobs, page.cursor))


@router.post(
    "/v1/jobs/<jobId>/cancel",
    summary="Cancel a pending, created or running job",
    tags=["pyannoteAI"],
    responses={**_ok(CancelResponse), **_errors(401, 404, 409)},
)
def cancel_job(job_id: JobId):
    with job_scope(router, job_id) as tenant_id:
        job = deps.cancel_delete().cancel(tenant_id, job_id)
    metrics.add_metric(name="JobsCanceled", unit=MetricUnit.Count, value=1)
    return json_response(CancelResponse(job_id=job.job_id, status=job.status))


@router.delete(
    "/v1/jobs/<jobId>",
    summary="Cancel an active job; with purge=true also delete its stored audio and results",
    tags=["pyannoteAI"],
    responses={**_ok(DeleteResponse), **_errors(401, 404, 409)},
)
def delete_job(job_id: JobId, purge: Annotated[bool, Query()] = False):
    with job_scope(router, job_id) as tenant_id:
        done = deps.cancel_delete().delete(tenant_id, job_id, purge=purge)
    return json_response(DeleteResponse(job_id=done.job.job_id, status=done.job.status, deleted=done.deleted))


@router.post(
    "/v1/jobs/<jobId>/webhook",
    summary="Send the completion webhook again",
    tags=["pyannoteAI"],
    responses={
        **_ok(JobView, "Redelivery started (webhook.delivery is pending)"),
        **_errors(401, 404, 409),
    },
)
def redeliver_webhook(job_id: JobId):
    with job_scope(router, job_id) as tenant_id:
        job = wiring.redeliver_webhook(job_id, tenant_id)
    return json_response(job_view(job))
