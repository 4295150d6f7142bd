"""pyannoteAI-style routes: /v1/diarize, /v1/media/input, /v1/jobs/..., /v2/jobs."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.metrics import MetricUnit

from diarist.domain.errors import Conflict
from diarist.domain.jobs import JobStatus
from diarist.services.jobs import JobView
from functions.api import deps
from functions.api.errors import NotImplementedYet
from functions.api.http import json_response, logger, metrics, tenant
from functions.api.models import (
    CancelResponse,
    DeleteResponse,
    DiarizeRequest,
    DiarizeResponse,
    ErrorBody,
    JobList,
    MediaInputRequest,
    MediaInputResponse,
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
        429: "Too many requests (see Retry-After)",
        501: "Not available in this deployment",
        503: "The job could not be queued (see Retry-After)",
    }
    return {c: {"description": text[c], "content": {"application/json": {"model": ErrorBody}}} for c in codes}


def _ok(model: Any, description: str = "OK") -> dict[int, Any]:
    return {200: {"description": description, "content": {"application/json": {"model": model}}}}


@router.post(
    "/v1/diarize",
    summary="Submit a diarization job for an audio URL",
    tags=["pyannoteAI"],
    responses={**_ok(DiarizeResponse, "Job accepted"), **_errors(400, 401, 409, 413, 429, 503)},
)
def diarize(body: Annotated[DiarizeRequest, Body()], idempotency_key: IdempotencyKey = None):
    params = body.job_params()
    job = deps.job_service().submit_url(
        tenant(router),
        url=body.url,
        params=params,
        webhook=body.webhook,
        webhook_status_only=body.webhook_status_only,
        idempotency_key=idempotency_key,
    )
    logger.append_keys(job_id=job.job_id)
    logger.info("job submitted", extra={"status": job.status.value})
    metrics.add_metric(name="JobsSubmitted", unit=MetricUnit.Count, value=1)
    return json_response(DiarizeResponse(job_id=job.job_id, status=job.status))


@router.post(
    "/v1/media/input",
    summary="Get a presigned PUT URL for media://<key>",
    tags=["pyannoteAI"],
    responses={**_ok(MediaInputResponse), **_errors(400, 401)},
)
def media_input(body: Annotated[MediaInputRequest, Body()]):
    url = deps.job_service().create_media_upload(tenant(router), body.url)
    return json_response(MediaInputResponse(url=url))


@router.get(
    "/v1/jobs/<jobId>",
    summary="Job status, and its output when succeeded",
    tags=["pyannoteAI"],
    responses={**_ok(JobView), **_errors(401, 404)},
)
def get_job(job_id: JobId):
    logger.append_keys(job_id=job_id)
    return json_response(deps.job_service().get_job_view(tenant(router), job_id))


@router.get(
    "/v2/jobs",
    summary="The caller's jobs, newest first",
    tags=["pyannoteAI"],
    responses={**_ok(JobList), **_errors(400, 401)},
)
def list_jobs(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
    status: Annotated[JobStatus | None, Query()] = None,
):
    items, next_cursor = deps.job_service().list_jobs(
        tenant(router), limit=limit, cursor=cursor, status=status
    )
    return json_response(JobList(items=items, cursor=next_cursor))


@router.post(
    "/v1/jobs/<jobId>/cancel",
    summary="Cancel a pending, created or running job",
    tags=["pyannoteAI"],
    responses={**_ok(CancelResponse), **_errors(401, 404, 409)},
)
def cancel_job(job_id: JobId):
    logger.append_keys(job_id=job_id)
    job = deps.job_service().cancel(tenant(router), job_id)
    metrics.add_metric(name="JobsCanceled", unit=MetricUnit.Count, value=1)
    return json_response(CancelResponse(job_id=job.job_id, status=job.status))


@router.delete(
    "/v1/jobs/<jobId>",
    summary="Cancel an active job; with purge=true also delete its stored audio and results",
    tags=["pyannoteAI"],
    responses={**_ok(DeleteResponse), **_errors(401, 404, 409)},
)
def delete_job(job_id: JobId, purge: Annotated[bool, Query()] = False):
    logger.append_keys(job_id=job_id)
    svc = deps.job_service()
    t = tenant(router)
    job = svc.require(t, job_id)
    deleted: list[str] = []
    if not job.status.is_terminal:
        job = svc.cancel(t, job_id)
    elif not purge:
        raise Conflict(
            f"job {job_id} is already {job.status.value}; add ?purge=true to delete its audio and results"
        )
    if purge:
        deleted = svc.delete_job_data(t, job_id)
    return json_response(DeleteResponse(job_id=job.job_id, status=job.status, deleted=deleted))


@router.post(
    "/v1/jobs/<jobId>/webhook",
    summary="Send the completion webhook again",
    tags=["pyannoteAI"],
    responses={
        **_ok(JobView, "Redelivery started (webhook.delivery is pending)"),
        **_errors(401, 404, 409, 501),
    },
)
def redeliver_webhook(job_id: JobId):
    logger.append_keys(job_id=job_id)
    t = tenant(router)
    deps.job_service().require(t, job_id)  # 404 for another tenant's job, before anything else
    try:
        from diarist.services.webhooks import redeliver
    except ImportError:  # pragma: no cover - webhooks not part of this build
        raise NotImplementedYet("webhook redelivery is not available in this deployment") from None
    job = redeliver(job_id, t)
    return json_response(deps.job_service().view(job, with_output=False))
