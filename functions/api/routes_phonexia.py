"""Phonexia Speech Platform-style routes: multipart upload (or, for the voiceprint comparison, a JSON
body) -> 202 + X-Location, then polling. Three technologies: speaker diarization, voiceprint
extraction and voiceprint comparison; each polls its own tasks (a task of another technology is not
found there).

Each route decodes the request (``multipart``, ``request_models.phonexia_params``), makes one
service call and encodes the answer (``views_phonexia``); a route about a job makes its call in
``http.job_scope``. Errors are raised, never answered here: ``errors`` maps them to HTTP.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel

from diarist.domain.errors import ValidationFailed
from diarist.domain.jobs import JobKind, JobParams
from diarist.observability import metrics
from diarist.services.submission import new_job_id
from functions.api import deps
from functions.api.http import DuplicateKey, job_scope, json_response, loads_strict, raw_body
from functions.api.multipart import Part, parse_multipart
from functions.api.request_models import ComparisonRequest, phonexia_params
from functions.api.views_phonexia import (
    PhonexiaComparisonResponse,
    PhonexiaError,
    PhonexiaExtractionResponse,
    PhonexiaTaskCreated,
    PhonexiaTaskResponse,
    task,
    task_view,
)

router = Router()  # routes return a Response; each body schema is declared in responses=
BASE = "/api/technology/speaker-diarization"
EXTRACTION = "/api/technology/speaker-identification-voiceprint-extraction"
COMPARISON = "/api/technology/speaker-identification-voiceprint-comparison"
DIARIZATION_KINDS: tuple[JobKind, ...] = ("diarize",)
EXTRACTION_KINDS: tuple[JobKind, ...] = ("voiceprint_extraction",)
COMPARISON_KINDS: tuple[JobKind, ...] = ("voiceprint_comparison",)

UPLOAD_REQUEST_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": "The audio (at most 10 MB)",
                    },
                    "config": {
                        "type": "string",
                        "description": 'JSON object: {"max_speakers": n} (default 100) or {"total_speakers": n}; '
                        "other keys are ignored",
                    },
                },
            }
        }
    },
}
"""The upload's body for the OpenAPI document (the route parses the body itself; see ``openapi``)."""

EXTRACTION_REQUEST_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": "The audio (at most 10 MB): one voiceprint per channel, from the whole file",
                    }
                },
            }
        }
    },
}

IdempotencyKey = Annotated[
    str | None, Header(alias="idempotency-key", min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")
]
ChannelMode = Annotated[Literal["split", "mix"], Query(description="split: one result per channel")]
TaskId = Annotated[str, Path(min_length=1, max_length=64)]


def _errors(*codes: int) -> dict[int, Any]:
    text = {
        400: "Bad request",
        401: "Missing or invalid API key",
        404: "No such task",
        409: "Idempotency-Key conflict",
        413: "Body over 10 MB",
        429: "Too many requests: the tenant's requests per minute or, on a submission, its active jobs "
        "(see Retry-After, X-RateLimit-*)",
    }
    if 401 in codes and 429 not in codes:  # every authenticated request counts (services.limits)
        codes = (*codes, 429)
    return {
        c: {"description": text[c], "content": {"application/json": {"model": PhonexiaError}}} for c in codes
    }


def polling_url(task_id: str, technology: str = BASE) -> str:
    """Absolute URL of the polling endpoint: ``DIARIST_PUBLIC_BASE_URL`` or the request's host + stage."""
    path = f"{technology}/{task_id}"
    base = deps.settings().public_base_url
    if base:
        return base.rstrip("/") + path
    ev = router.current_event
    host = ev.headers.get("x-forwarded-host") or ev.headers.get("host")
    if not host:
        return path
    proto = (ev.headers.get("x-forwarded-proto") or "https").split(",")[0].strip()
    # requestContext.path is the path as the client sent it (with the stage on execute-api hosts)
    full = str((ev.get("requestContext") or {}).get("path") or ev.path)
    prefix = full[: -len(ev.path)] if ev.path and full.endswith(ev.path) else ""
    return f"{proto}://{host}{prefix}{path}"


def _parts_with_file() -> tuple[dict[str, Part], Part]:
    """The request's multipart parts and its required ``file`` part (400 naming ``file`` without)."""
    parts = parse_multipart(raw_body(router), router.current_event.headers.get("content-type"))
    file = parts.get("file")
    if file is None:
        raise ValidationFailed([{"field": "file", "message": "required (multipart field 'file')"}])
    return parts, file


def _submit_upload(
    file: Part, params: JobParams, idempotency_key: str | None, kind: JobKind, technology: str
) -> Response:
    """One uploaded-file task of any kind: one service call in the job's log context, then 202 with
    the task and its polling URL in ``X-Location``."""
    job_id = new_job_id()
    with job_scope(router, job_id) as tenant_id:
        job = deps.submissions().submit_upload(
            tenant_id,
            job_id=job_id,
            data=file.data,
            filename=file.filename,
            content_type=file.content_type,
            params=params,
            idempotency_key=idempotency_key,
            kind=kind,
        )
    metrics.add_metric(name="JobsSubmitted", unit=MetricUnit.Count, value=1)
    headers = {"X-Location": polling_url(job.job_id, technology)}
    return json_response({"task": task(job)}, status=202, headers=headers)


def _poll(task_id: str, kinds: Collection[JobKind]) -> Response:
    """A task of one technology (another technology's task id is a 404), its result when done."""
    with job_scope(router, task_id) as tenant_id:
        found = deps.reader().with_result(tenant_id, task_id, kinds=kinds)
    return json_response(task_view(found.job, found.result))


def _polled(description: str, model: type[BaseModel]) -> dict[int, Any]:
    """A poll route's 200 for the OpenAPI document: the task and, when done, its result."""
    return {200: {"description": description, "content": {"application/json": {"model": model}}}}


@router.post(
    BASE,
    summary="Upload audio for speaker diarization (Phonexia dialect)",
    tags=["Phonexia"],
    status_code=202,
    responses={
        202: {
            "description": "Task accepted; poll the X-Location URL",
            "content": {"application/json": {"model": PhonexiaTaskResponse}},
            "headers": {"X-Location": {"description": "Absolute polling URL", "schema": {"type": "string"}}},
        },
        **_errors(400, 401, 409, 413, 429),
    },
)
def upload(channel_mode: ChannelMode = "split", idempotency_key: IdempotencyKey = None):
    parts, file = _parts_with_file()
    config: Any = None
    if "config" in parts:
        try:
            config = loads_strict(parts["config"].data.decode("utf-8"))
        except DuplicateKey as e:
            raise ValidationFailed(
                [{"field": "config", "message": f"{e.key!r} appears more than once"}]
            ) from None
        except (ValueError, RecursionError):
            raise ValidationFailed([{"field": "config", "message": "must be a JSON object"}]) from None
    return _submit_upload(file, phonexia_params(config, channel_mode), idempotency_key, "diarize", BASE)


@router.get(
    f"{BASE}/<task_id>",
    summary="Poll a task (Phonexia dialect)",
    tags=["Phonexia"],
    responses={**_polled("Task state, result when done", PhonexiaTaskResponse), **_errors(401, 404)},
)
def poll(task_id: TaskId):
    return _poll(task_id, DIARIZATION_KINDS)


def _accepted(description: str) -> dict[int, Any]:
    return {
        202: {
            "description": description,
            "content": {"application/json": {"model": PhonexiaTaskCreated}},
            "headers": {"X-Location": {"description": "Absolute polling URL", "schema": {"type": "string"}}},
        }
    }


@router.post(
    EXTRACTION,
    summary="Upload audio for voiceprint extraction: one voiceprint per channel (Phonexia dialect)",
    tags=["Phonexia"],
    status_code=202,
    responses={**_accepted("Task accepted; poll the X-Location URL"), **_errors(400, 401, 409, 413, 429)},
)
def extract(channel_mode: ChannelMode = "split", idempotency_key: IdempotencyKey = None):
    _, file = _parts_with_file()
    params = JobParams(channel_mode=channel_mode)
    return _submit_upload(file, params, idempotency_key, "voiceprint_extraction", EXTRACTION)


@router.get(
    f"{EXTRACTION}/<task_id>",
    summary="Poll a voiceprint extraction task (Phonexia dialect)",
    tags=["Phonexia"],
    responses={
        **_polled("Task state, the voiceprints when done", PhonexiaExtractionResponse),
        **_errors(401, 404),
    },
)
def poll_extraction(task_id: TaskId):
    return _poll(task_id, EXTRACTION_KINDS)


@router.post(
    COMPARISON,
    summary="Compare every voiceprint of voiceprints_b with every one of voiceprints_a (Phonexia dialect)",
    tags=["Phonexia"],
    status_code=202,
    responses={
        **_accepted("Task accepted (already done: the scores are computed at once); poll X-Location"),
        **_errors(400, 401, 409, 413, 429),
    },
)
def compare(body: Annotated[ComparisonRequest, Body()], idempotency_key: IdempotencyKey = None):
    job_id = new_job_id()
    with job_scope(router, job_id) as tenant_id:
        job = deps.submissions().compare_voiceprints(
            tenant_id,
            job_id=job_id,
            voiceprints_a=body.voiceprints_a,
            voiceprints_b=body.voiceprints_b,
            idempotency_key=idempotency_key,
        )
    metrics.add_metric(name="VoiceprintComparisons", unit=MetricUnit.Count, value=1)
    headers = {"X-Location": polling_url(job.job_id, COMPARISON)}
    return json_response({"task": task(job)}, status=202, headers=headers)


@router.get(
    f"{COMPARISON}/<task_id>",
    summary="Poll a voiceprint comparison task (Phonexia dialect)",
    tags=["Phonexia"],
    responses={
        **_polled("Task state, the score matrix when done", PhonexiaComparisonResponse),
        **_errors(401, 404),
    },
)
def poll_comparison(task_id: TaskId):
    return _poll(task_id, COMPARISON_KINDS)
