"""The job API's use cases, over ports: submit (URL or upload), look, list, cancel, delete data.

Both HTTP dialects (pyannoteAI-style ``/v1`` and Phonexia-style ``/api/technology``) end here;
``functions/api`` only parses requests and maps the typed errors below to HTTP.

Submission is "record first, then queue": the job is written ``pending``, then a
``DispatchMessage`` goes to SQS. If the send fails, the job is moved ``pending -> failed``
(``launch_failed``, no completion event: the client is told synchronously with a 503) and the
Idempotency-Key record is released so that a retry with the same key starts afresh. If that
transition is refused, the message did get through (the dispatcher already moved the job), and the
submission is reported as accepted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from diarist import resources as R
from diarist.domain.errors import (
    Conflict,
    DiaristError,
    ErrorCode,
    InvalidTransition,
    JobNotFound,
    ValidationFailed,
)
from diarist.domain.jobs import Job, JobError, JobParams, JobSource, JobStatus, phonexia_state, utcnow
from diarist.domain.messages import DispatchMessage
from diarist.domain.results import DiarizationResult
from diarist.ports import EventBus, JobQueue, JobStore, Launcher, ObjectStore
from diarist.settings import ApiSettings

log = logging.getLogger(__name__)

IDEMPOTENCY_TTL_S = 24 * 3600
MAX_LIST_LIMIT = 100
ACTIVE = (JobStatus.PENDING, JobStatus.CREATED, JobStatus.RUNNING)
RENDERED_OUTPUT_NAME = "output.pyannote.json"  # next to result.json: the large-result rendering
PURGED_WARNING = "job data (audio and results) deleted on request"


class QueueUnavailable(DiaristError):
    """The job could not be queued (SQS refused or timed out). 503 + Retry-After."""

    code = ErrorCode.LAUNCH_FAILED

    def __init__(self, message: str, retry_after_s: int = 2) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class IdempotencyConflict(Conflict):
    """The Idempotency-Key was used with another request body (409)."""

    field = "Idempotency-Key"


class IdempotencyStore(Protocol):
    def claim(
        self, tenant_id: str, key: str, *, request_hash: str, job_id: str, now: int, ttl_s: int
    ) -> dict[str, Any] | None: ...

    def release(self, tenant_id: str, key: str, job_id: str) -> None: ...


def fingerprint(*parts: Any) -> str:
    """Hash of a request's meaning (canonical JSON; bytes are hashed first) for Idempotency-Key."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, bytes | bytearray | memoryview):
            h.update(b"B" + hashlib.sha256(part).digest())
        else:
            h.update(b"J" + json.dumps(part, sort_keys=True, separators=(",", ":"), default=str).encode())
    return h.hexdigest()


# -- views ------------------------------------------------------------------------------------------


class _View(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class JobErrorView(_View):
    code: str
    message: str


class WebhookAttemptView(_View):
    at: datetime
    attempt: int
    status_code: int | None = Field(default=None, alias="statusCode")
    latency_ms: int | None = Field(default=None, alias="latencyMs")
    error: str | None = None


class WebhookView(_View):
    delivery: Literal["none", "pending", "delivered", "failed"]
    attempts: list[WebhookAttemptView] = Field(default_factory=list)


class JobView(_View):
    """``GET /v1/jobs/{jobId}`` (and the items of ``GET /v2/jobs``, which carry no output)."""

    job_id: str = Field(alias="jobId")
    status: JobStatus
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


# -- renderers --------------------------------------------------------------------------------------
# The job ``output`` of the API and of the webhook (``services.webhooks`` calls this one); one
# implementation, ``diarist.engine.formats`` (pure, no torch), shared with ``diarist diarize``.


def render_pyannote_output(result: DiarizationResult, params: JobParams) -> dict[str, Any]:
    """pyannoteAI job ``output`` with the parts the job asked for (``engine.formats.pyannote_output``)."""
    from diarist.engine.formats import pyannote_output

    return pyannote_output(
        result,
        exclusive=params.exclusive,
        confidence=params.confidence,
        turn_confidence=params.turn_level_confidence,
    )


def render_phonexia_result(result: DiarizationResult) -> dict[str, Any]:
    """Phonexia ``result``: one entry per channel, integer speaker ids. The engine's renderer
    (``engine.formats.to_phonexia_dict``, shared with ``diarist diarize --format phonexia``) fed with
    the non-overlapping turns: Phonexia's segments do not overlap."""
    from diarist.engine.formats import to_phonexia_dict

    exclusive = result.model_copy(
        update={
            "channels": [
                ch.model_copy(update={"diarization": ch.exclusive_diarization}) for ch in result.channels
            ]
        }
    )
    return to_phonexia_dict(exclusive)


# -- the service ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    """What to diarize, already resolved: ``input_url`` is s3:// or https:// (never media://)."""

    source: JobSource
    input_url: str
    params: JobParams
    webhook_url: str | None = None
    webhook_status_only: bool = False


class JobService:
    def __init__(
        self,
        *,
        store: JobStore,
        queue: JobQueue,
        objects: ObjectStore,
        events: EventBus,
        settings: ApiSettings,
        idempotency: IdempotencyStore | None = None,
        launcher: Callable[[], Launcher | None] | None = None,
        url_check: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.queue = queue
        self.objects = objects
        self.events = events
        self.settings = settings
        self.idempotency = idempotency
        self._launcher = launcher
        self._url_check = url_check
        self._clock = clock

    # -- inputs ----------------------------------------------------------------------------------------
    def media_key(self, tenant_id: str, url: str, field: str = "url") -> str:
        """``media://<key>`` -> the S3 key ``media/<tenant>/<key>`` in the media bucket."""
        key = url[len("media://") :]
        parts = key.split("/")
        if (
            not key
            or len(key) > 512
            or key.startswith("/")
            or any(p in ("", ".", "..") for p in parts)
            or any(ord(c) < 0x20 or c in "\\\x7f" for c in key)
        ):
            raise ValidationFailed(
                [
                    {
                        "field": field,
                        "message": "media:// key must be 1-512 characters, no empty, '.' or '..' parts",
                    }
                ]
            )
        return f"{R.MEDIA_PREFIX}{tenant_id}/{key}"

    def resolve_input_url(self, tenant_id: str, url: str, field: str = "url") -> str:
        """Check an input URL and return what the worker reads (s3:// or https://). ValidationFailed."""
        s = self.settings
        if url.startswith("media://"):
            key = self.media_key(tenant_id, url, field)
            head = self.objects.head(s.media_bucket, key)
            problem = None
            if head is None:
                problem = f"{url} was not uploaded (POST /v1/media/input, then PUT the file)"
            elif int(head.get("ContentLength", 1)) == 0:
                problem = f"{url} is empty"
            elif int(head.get("ContentLength", 0)) > R.MAX_INPUT_BYTES:
                problem = f"{url} is over the 1 GiB input limit"
            if problem:
                raise ValidationFailed([{"field": field, "message": problem}])
            return f"s3://{s.media_bucket}/{key}"
        if url.startswith("s3://"):
            bucket, _, key = url[5:].partition("/")
            if not bucket or not key:
                raise ValidationFailed([{"field": field, "message": "s3 URL needs s3://bucket/key"}])
            if bucket not in s.allowed_input_buckets:
                raise ValidationFailed(
                    [{"field": field, "message": f"bucket {bucket!r} is not an allowed input bucket"}]
                )
            if bucket == s.media_bucket and not (
                key.startswith(f"{R.MEDIA_PREFIX}{tenant_id}/")
                or key.startswith(f"{R.INCOMING_PREFIX}{tenant_id}/")
            ):
                # the media bucket is shared by tenants: only your own prefix
                raise ValidationFailed(
                    [{"field": field, "message": "not one of your objects in the media bucket"}]
                )
            return url
        if url.startswith(("https://", "http://")):
            self.check_public_url(url, field)
            return url
        raise ValidationFailed([{"field": field, "message": "must be an https://, s3:// or media:// URL"}])

    def check_public_url(self, url: str, field: str) -> None:
        """SSRF syntax check (``netpolicy.validate_url_syntax``) for a clear 400 at submission;
        the host is checked again when resolved, before every connection."""
        if self._url_check is not None:
            try:
                self._url_check(url)
            except ValueError as e:  # ssrf.UnsafeUrl is a ValueError
                raise ValidationFailed([{"field": field, "message": str(getattr(e, "reason", e))}]) from None
            return
        allowed = ("https://", "http://") if self.settings.allow_http else ("https://",)
        if not url.startswith(allowed) or len(url) > 2048:
            raise ValidationFailed(
                [{"field": field, "message": "must be an https:// URL of at most 2048 characters"}]
            )

    # -- submission ------------------------------------------------------------------------------------
    def submit(
        self,
        tenant_id: str,
        submission: Submission,
        *,
        idempotency_key: str | None = None,
        request_hash: str | None = None,
        job_id: str | None = None,
    ) -> Job:
        """Create the job (pending) and queue it. Idempotent per (tenant, Idempotency-Key)."""
        job_id = job_id or str(uuid.uuid4())
        if idempotency_key:
            replay = self._claim(tenant_id, idempotency_key, request_hash or fingerprint(submission), job_id)
            if replay is not None:
                return replay
        return self._create_and_queue(tenant_id, job_id, submission, idempotency_key, request_hash)

    def _claim(self, tenant_id: str, key: str, request_hash: str, job_id: str) -> Job | None:
        """Claim the key for ``job_id``; None when claimed, else the job of the earlier request."""
        if self.idempotency is None:
            raise RuntimeError("JobService built without an idempotency store")
        existing = self.idempotency.claim(
            tenant_id,
            key,
            request_hash=request_hash,
            job_id=job_id,
            now=int(self._clock()),
            ttl_s=IDEMPOTENCY_TTL_S,
        )
        if existing is None:
            return None
        if existing["request_hash"] != request_hash:
            raise IdempotencyConflict("Idempotency-Key was already used with a different request within 24 h")
        job = self.store.get(existing["job_id"])
        if job is None:  # the first request is still between claim and create
            return Job(job_id=existing["job_id"], tenant_id=tenant_id, input_url="s3://pending/pending")
        return job

    def _create_and_queue(
        self,
        tenant_id: str,
        job_id: str,
        sub: Submission,
        idempotency_key: str | None,
        request_hash: str | None,
    ) -> Job:
        now = utcnow()
        job = Job(
            job_id=job_id,
            tenant_id=tenant_id,
            source=sub.source,
            input_url=sub.input_url,
            params=sub.params,
            webhook_url=sub.webhook_url,
            webhook_status_only=sub.webhook_status_only,
            created_at=now,
            updated_at=now,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            webhook_delivery="none",
            expires_at=int((now + timedelta(days=self.settings.retention_days + 1)).timestamp()),
        )
        try:
            self.store.create(job)
        except Exception:
            if idempotency_key and self.idempotency:
                self.idempotency.release(tenant_id, idempotency_key, job_id)
            raise
        try:
            self.queue.send(DispatchMessage(job_id=job_id, tenant_id=tenant_id))
        except Exception as e:
            log.exception("job queue send failed", extra={"job_id": job_id})
            try:
                self.store.transition(
                    job_id,
                    JobStatus.FAILED,
                    error=JobError(
                        code=ErrorCode.LAUNCH_FAILED, message="the job could not be queued; submit again"
                    ),
                )
            except InvalidTransition:
                # the dispatcher already has it: the send did go through
                return self.store.get(job_id) or job
            except Exception:  # the table is failing too: the job's TTL removes the pending record
                log.exception("could not mark the unqueued job failed", extra={"job_id": job_id})
            if idempotency_key and self.idempotency:
                self.idempotency.release(tenant_id, idempotency_key, job_id)
            raise QueueUnavailable("the job could not be queued; try again") from e
        return job

    def submit_url(
        self,
        tenant_id: str,
        *,
        url: str,
        params: JobParams,
        webhook: str | None = None,
        webhook_status_only: bool = False,
        idempotency_key: str | None = None,
        request_hash: str | None = None,
    ) -> Job:
        """pyannoteAI ``POST /v1/diarize``."""
        input_url = self.resolve_input_url(tenant_id, url, "url")
        if webhook is not None:
            self.check_public_url(webhook, "webhook")
        sub = Submission(
            source="api",
            input_url=input_url,
            params=params,
            webhook_url=webhook,
            webhook_status_only=webhook_status_only,
        )
        return self.submit(
            tenant_id,
            sub,
            idempotency_key=idempotency_key,
            request_hash=request_hash
            or fingerprint("v1/diarize", url, webhook, webhook_status_only, params.model_dump()),
        )

    def create_media_upload(self, tenant_id: str, url: str, content_type: str | None = None) -> str:
        """``POST /v1/media/input``: a presigned PUT for ``media://<key>``."""
        if not url.startswith("media://"):
            raise ValidationFailed([{"field": "url", "message": "must be a media://<key> URL"}])
        key = self.media_key(tenant_id, url, "url")
        return self.objects.presign_put(
            self.settings.media_bucket, key, self.settings.presign_expiry_s, content_type
        )

    def submit_upload(
        self,
        tenant_id: str,
        *,
        data: bytes,
        filename: str | None,
        content_type: str | None,
        params: JobParams,
        idempotency_key: str | None = None,
    ) -> Job:
        """Phonexia ``POST /api/technology/speaker-diarization``: store the bytes, then submit."""
        if not data:
            raise ValidationFailed([{"field": "file", "message": "the file is empty"}])
        job_id = str(uuid.uuid4())
        request_hash = fingerprint("phonexia", data, params.model_dump())
        if idempotency_key:
            replay = self._claim(tenant_id, idempotency_key, request_hash, job_id)
            if replay is not None:
                return replay
        name = _safe_name(filename)
        key = f"{R.MEDIA_PREFIX}{tenant_id}/uploads/{job_id}/{name}"
        try:
            self.objects.put_bytes(
                self.settings.media_bucket, key, data, content_type or "application/octet-stream"
            )
        except Exception:
            if idempotency_key and self.idempotency:
                self.idempotency.release(tenant_id, idempotency_key, job_id)
            raise
        sub = Submission(
            source="phonexia", input_url=f"s3://{self.settings.media_bucket}/{key}", params=params
        )
        return self._create_and_queue(tenant_id, job_id, sub, idempotency_key, request_hash)

    # -- reading ---------------------------------------------------------------------------------------
    def require(self, tenant_id: str, job_id: str) -> Job:
        """The tenant's job, or JobNotFound (also for another tenant's job)."""
        job = self.store.get(job_id) if _plausible_id(job_id) else None
        if job is None or job.tenant_id != tenant_id:
            raise JobNotFound(f"job {job_id} not found")
        return job

    def view(self, job: Job, *, with_output: bool = True) -> JobView:
        v = JobView(
            job_id=job.job_id,
            status=job.status,
            created_at=job.created_at,
            updated_at=job.updated_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            progress=job.progress,
            warnings=list(job.warnings),
            error=JobErrorView(code=str(job.error.code), message=job.error.message) if job.error else None,
        )
        if job.webhook_url:
            v.webhook = WebhookView(
                delivery=job.webhook_delivery,
                attempts=[WebhookAttemptView.model_validate(a.model_dump()) for a in job.webhook_attempts],
            )
        if with_output and job.status is JobStatus.SUCCEEDED and job.result_location:
            v.output, v.output_url = self._output(job)
        return v

    def get_job_view(self, tenant_id: str, job_id: str) -> JobView:
        return self.view(self.require(tenant_id, job_id))

    def _output(self, job: Job) -> tuple[dict[str, Any] | None, str | None]:
        """Inline output when the stored result is small, else a presigned URL of the rendering."""
        bucket, key = _split_s3(job.result_location or "")
        head = self.objects.head(bucket, key)
        if head is None:
            return None, None
        if int(head.get("ContentLength", 0)) <= self.settings.result_inline_max_bytes:
            result = DiarizationResult.model_validate_json(self.objects.get_bytes(bucket, key))
            return render_pyannote_output(result, job.params), None
        out_key = key.rsplit("/", 1)[0] + "/" + RENDERED_OUTPUT_NAME if "/" in key else RENDERED_OUTPUT_NAME
        if not self.objects.exists(bucket, out_key):
            result = DiarizationResult.model_validate_json(self.objects.get_bytes(bucket, key))
            body = json.dumps(render_pyannote_output(result, job.params), separators=(",", ":")).encode()
            self.objects.put_bytes(bucket, out_key, body, "application/json")
        return None, self.objects.presign_get(bucket, out_key, self.settings.presign_expiry_s)

    def list_jobs(
        self, tenant_id: str, *, limit: int = 20, cursor: str | None = None, status: JobStatus | None = None
    ) -> tuple[list[JobView], str | None]:
        """``GET /v2/jobs``: newest first, without outputs."""
        limit = max(1, min(limit, MAX_LIST_LIMIT))
        jobs, next_cursor = self.store.list_for_tenant(tenant_id, limit=limit, cursor=cursor, status=status)
        return [self.view(j, with_output=False) for j in jobs], next_cursor

    def phonexia_task_view(self, tenant_id: str, task_id: str) -> dict[str, Any]:
        """Phonexia ``GET .../{task_id}``: ``{task:{task_id,state}, result?, error?}``."""
        job = self.require(tenant_id, task_id)
        code = str(job.error.code) if job.error else None
        state = phonexia_state(job.status, code)
        body: dict[str, Any] = {"task": {"task_id": job.job_id, "state": state}}
        if state == "done" and job.result_location:
            bucket, key = _split_s3(job.result_location)
            if self.objects.exists(bucket, key):
                result = DiarizationResult.model_validate_json(self.objects.get_bytes(bucket, key))
                body["result"] = render_phonexia_result(result)
        elif state in ("failed", "rejected"):
            message = (
                job.error.message
                if job.error
                else ("the task was canceled" if job.status is JobStatus.CANCELED else "failed")
            )
            body["error"] = {
                "type": code or ("canceled" if job.status is JobStatus.CANCELED else "failed"),
                "title": "Task rejected" if state == "rejected" else "Task failed",
                "detail": [message],
            }
        return body

    # -- cancel / delete --------------------------------------------------------------------------------
    def cancel(self, tenant_id: str, job_id: str) -> Job:
        """pending/created/running -> canceled (conditional), terminate the container job, publish
        the canceled event (``services.lifecycle.finish_job``). Canceling a canceled job is a no-op;
        any other finished job -> Conflict."""
        from diarist.services.lifecycle import finish_job

        job = self.require(tenant_id, job_id)
        if job.status is JobStatus.CANCELED:
            return job
        if job.status.is_terminal:
            raise Conflict(
                f"job {job_id} is {job.status.value}; only pending, created or running jobs can be canceled"
            )
        done = finish_job(self.store, self.events, job_id, JobStatus.CANCELED)
        if done is None:  # someone else ended it first
            current = self.require(tenant_id, job_id)
            if current.status is JobStatus.CANCELED:
                return current
            raise Conflict(f"job {job_id} is {current.status.value}; it finished before it could be canceled")
        if done.launch_id:
            self._terminate(done)
        return done

    def _terminate(self, job: Job) -> None:
        launcher = self._launcher() if self._launcher else None
        if launcher is None:
            log.warning("no launcher configured; container job not terminated", extra={"job_id": job.job_id})
            return
        try:
            launcher.terminate(job.launch_id or "", f"canceled by the user ({job.job_id})")
        except Exception:  # the job is canceled anyway: the worker's later writes are refused
            log.exception("terminate failed", extra={"job_id": job.job_id, "launch_id": job.launch_id})

    def delete_job_data(self, tenant_id: str, job_id: str) -> list[str]:
        """Delete what we stored for a finished job: the audio under ``media/<tenant>/`` (never the
        caller's own buckets or URLs) and the results. Returns the deleted locations."""
        job = self.require(tenant_id, job_id)
        if not job.status.is_terminal:
            raise Conflict(f"job {job_id} is {job.status.value}; cancel it before deleting its data")
        deleted: list[str] = []
        media_prefix = f"s3://{self.settings.media_bucket}/{R.MEDIA_PREFIX}{tenant_id}/"
        if job.input_url.startswith(media_prefix):
            bucket, key = _split_s3(job.input_url)
            self.objects.delete(bucket, key)
            deleted.append(job.input_url)
        results_prefix = f"{R.RESULTS_PREFIX}{tenant_id}/{job_id}/"
        delete_prefix = getattr(self.objects, "delete_prefix", None)
        if delete_prefix is not None and delete_prefix(self.settings.results_bucket, results_prefix):
            deleted.append(f"s3://{self.settings.results_bucket}/{results_prefix}")
        if job.result_location:
            bucket, key = _split_s3(job.result_location)
            if not (bucket == self.settings.results_bucket and key.startswith(results_prefix)):
                # stored elsewhere by the s3 trigger (result_prefix): delete the file and our rendering
                for k in (key, key.rsplit("/", 1)[0] + "/" + RENDERED_OUTPUT_NAME):
                    self.objects.delete(bucket, k)
                deleted.append(job.result_location)
            elif delete_prefix is None:
                self.objects.delete(bucket, key)
                deleted.append(job.result_location)
        warnings = job.warnings if PURGED_WARNING in job.warnings else [*job.warnings, PURGED_WARNING]
        self.store.update(job_id, result_location=None, warnings=warnings)
        return deleted


def _split_s3(url: str) -> tuple[str, str]:
    if not url.startswith("s3://"):
        raise ValueError(f"not an s3:// URL: {url}")
    bucket, _, key = url[5:].partition("/")
    return bucket, key


def _plausible_id(job_id: str) -> bool:
    return 0 < len(job_id) <= 64 and all(c.isalnum() or c in "-_" for c in job_id)


def _safe_name(filename: str | None) -> str:
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c if c.isalnum() or c in "._-" else "_" for c in name).strip("._")[:120]
    return name or "audio"
