"""Submitting jobs: a URL (pyannoteAI ``POST /v1/diarize``, ``/v1/voiceprint``, ``/v1/identify``)
or an upload (Phonexia), once per Idempotency-Key; and Phonexia's voiceprint comparison, which needs
no audio and is computed here.

Invariants:

- A job has a kind (``domain.jobs.JobKind``); its parameters obey the kind's rules
  (``domain.job_kinds.param_problems``, voiceprints checked against ``ApiSettings.
  embedding_model_id``) and its input the kind's limits (``InputResolver.resolve``), all before
  anything is claimed, stored or queued: bad input is a ``ValidationFailed`` naming each field.
- A voiceprint comparison is checked (``domain.job_kinds.compare``), computed, and only then
  recorded as a job that goes ``pending -> running -> succeeded`` at once through the lifecycle
  (``mark_running``, ``finish_job``: one completion event, like every job); its request is stored
  as the job's input and its scores as the job's result. It is never queued.

- A queued job claims its tenant's active-job slot before it is recorded
  (``services.limits.TenantLimitService.create_job``): over the limit it is an
  ``ActiveJobsExceeded`` (429), nothing is stored and the Idempotency-Key is released. A
  comparison (never queued) takes no slot.
- Record first, then queue: the job is written ``pending``, then a ``DispatchMessage`` goes to the
  job queue. If the send fails, the job is moved ``pending -> failed`` (``launch_failed``, no
  completion event: the client is told synchronously, ``QueueUnavailable`` -> 503). If that
  transition is refused, the message did get through (the dispatcher already moved the job), and
  the submission is accepted.
- Idempotency-Key: one job per (tenant, key) for 24 h. The same key with a request of the same
  meaning (``fingerprint``) returns the first request's job; with another meaning, it is an
  ``IdempotencyConflict`` (409). The key is released whenever the submission fails before its job
  is queued (upload, record or send), so a retry with it starts afresh.
- A Phonexia upload is stored first (``media/<tenant>/uploads/<job id>/<name>`` in the media
  bucket), then submitted as that ``s3://`` URL, after its Idempotency-Key was claimed.
- A requested model (pyannoteAI's name, checked by the caller against ``domain.model_choice``) is
  recorded on the job; when this deployment runs another engine (``ApiSettings.engine_model``) the
  job is created with ``model_choice.model_warning`` in its warnings; likewise a transcription model
  or language the deployment's ASR model (``ApiSettings.transcription_model``) does not honour
  (``domain.transcription.transcription_warnings``). Jobs that name no model fingerprint as they
  always did.
- The caller chooses the job id (``new_job_id``), so it can tie its log lines to the job before
  the call; an Idempotency-Key replay returns the earlier job, with that job's id.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from diarist.domain.audio_header import HEAD_BYTES, header_duration
from diarist.domain.errors import Conflict, DiaristError, ErrorCode, InvalidTransition, ValidationFailed
from diarist.domain.job_kinds import ComparisonRefused, compare, param_problems
from diarist.domain.jobs import Job, JobError, JobKind, JobParams, JobSource, JobStatus, utcnow
from diarist.domain.locations import s3_url
from diarist.domain.messages import DispatchMessage
from diarist.domain.model_choice import model_warning
from diarist.domain.results import VoiceprintComparison
from diarist.domain.transcription import transcription_warnings
from diarist.ports import EventBus, IdempotencyStore, JobQueue, JobStore, ObjectStore
from diarist.resources import MEDIA_PREFIX, RESULTS_PREFIX
from diarist.services.inputs import InputResolver
from diarist.services.lifecycle import finish_job, mark_running
from diarist.services.limits import TenantLimitService
from diarist.settings import ApiSettings

log = logging.getLogger(__name__)

IDEMPOTENCY_TTL_S = 24 * 3600


class QueueUnavailable(DiaristError):
    """The job could not be queued (SQS refused or timed out). 503 + Retry-After."""

    code = ErrorCode.LAUNCH_FAILED

    def __init__(self, message: str, retry_after_s: int = 2) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class IdempotencyConflict(Conflict):
    """The Idempotency-Key was used with another request body (409)."""

    field = "Idempotency-Key"


def new_job_id() -> str:
    return str(uuid.uuid4())


def fingerprint(*parts: Any) -> str:
    """Hash of a request's meaning (canonical JSON; bytes are hashed first) for Idempotency-Key."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, bytes | bytearray | memoryview):
            h.update(b"B" + hashlib.sha256(part).digest())
        else:
            h.update(b"J" + json.dumps(part, sort_keys=True, separators=(",", ":"), default=str).encode())
    return h.hexdigest()


@dataclass(frozen=True)
class Submission:
    """What to diarize, already resolved: ``input_url`` is s3:// or https:// (never media://)."""

    source: JobSource
    input_url: str
    params: JobParams
    kind: JobKind = "diarize"
    webhook_url: str | None = None
    webhook_status_only: bool = False
    requested_model: str | None = None
    warnings: tuple[str, ...] = ()
    input_bytes: int | None = None  # what is known of the input: picks its work lane (domain.lanes)
    input_seconds: float | None = None


class SubmissionService:
    def __init__(
        self,
        *,
        store: JobStore,
        queue: JobQueue,
        objects: ObjectStore,
        events: EventBus,
        inputs: InputResolver,
        idempotency: IdempotencyStore,
        limits: TenantLimitService,
        settings: ApiSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.queue = queue
        self.events = events
        self.objects = objects
        self.inputs = inputs
        self.idempotency = idempotency
        self.limits = limits
        self.settings = settings
        self._clock = clock

    def submit_url(
        self,
        tenant_id: str,
        *,
        job_id: str,
        url: str,
        params: JobParams,
        webhook: str | None = None,
        webhook_status_only: bool = False,
        idempotency_key: str | None = None,
        model: str | None = None,
        kind: JobKind = "diarize",
    ) -> Job:
        """pyannoteAI ``POST /v1/diarize`` (``/v1/voiceprint``, ``/v1/identify`` with ``kind``):
        check the parameters and the URLs, then create the job and queue it. ``model``: the model the
        request named (an accepted name, or None)."""
        self._check_params(kind, params)
        input_url, input_bytes = self.inputs.resolve_sized(tenant_id, url, "url", kind)
        if webhook is not None:
            self.inputs.check_public_url(webhook, "webhook")
        meaning: list[Any] = [url, webhook, webhook_status_only, params.model_dump()]
        if model is not None:
            meaning.append({"model": model})
        request_hash = fingerprint(f"v1/{kind}", *meaning)
        if idempotency_key:
            replay = self._claim(tenant_id, idempotency_key, request_hash, job_id)
            if replay is not None:
                return replay
        sub = Submission(
            source="api",
            input_url=input_url,
            params=params,
            kind=kind,
            webhook_url=webhook,
            webhook_status_only=webhook_status_only,
            requested_model=model,
            warnings=self._warnings(model, params),
            input_bytes=input_bytes,
        )
        return self._create_and_queue(tenant_id, job_id, sub, idempotency_key, request_hash)

    def _warnings(self, model: str | None, params: JobParams) -> tuple[str, ...]:
        """What the job is told at submission: a model (diarization, transcription) or a language
        this deployment does not honour."""
        out = [w for w in [model_warning(model, self.settings.engine_model)] if w]
        if params.transcription is not None:
            out += transcription_warnings(params.transcription, self.settings.transcription_model)
        return tuple(out)

    def submit_upload(
        self,
        tenant_id: str,
        *,
        job_id: str,
        data: bytes,
        filename: str | None,
        content_type: str | None,
        params: JobParams,
        idempotency_key: str | None = None,
        kind: JobKind = "diarize",
    ) -> Job:
        """Phonexia ``POST /api/technology/speaker-diarization`` (``.../speaker-identification-
        voiceprint-extraction`` with ``kind``): store the bytes, then submit."""
        if not data:
            raise ValidationFailed([{"field": "file", "message": "the file is empty"}])
        self._check_params(kind, params)
        parts: list[Any] = [data, params.model_dump()]
        request_hash = fingerprint("phonexia", *parts) if kind == "diarize" else fingerprint(kind, *parts)
        if idempotency_key:
            replay = self._claim(tenant_id, idempotency_key, request_hash, job_id)
            if replay is not None:
                return replay
        bucket = self.settings.media_bucket
        key = f"{MEDIA_PREFIX}{tenant_id}/uploads/{job_id}/{_safe_name(filename)}"
        try:
            self.objects.put_bytes(bucket, key, data, content_type or "application/octet-stream")
        except Exception:
            self._release(tenant_id, idempotency_key, job_id)
            raise
        sub = Submission(
            source="phonexia",
            input_url=s3_url(bucket, key),
            params=params,
            kind=kind,
            input_bytes=len(data),
            input_seconds=header_duration(data[:HEAD_BYTES], len(data)),
        )
        return self._create_and_queue(tenant_id, job_id, sub, idempotency_key, request_hash)

    def compare_voiceprints(
        self,
        tenant_id: str,
        *,
        job_id: str,
        voiceprints_a: list[str],
        voiceprints_b: list[str],
        idempotency_key: str | None = None,
    ) -> Job:
        """Phonexia ``POST /api/technology/speaker-identification-voiceprint-comparison``: check and
        score every pair here (no audio, no GPU: ``domain.job_kinds.compare``), then record the job,
        its request and its result; the job has succeeded when this returns."""
        settings = self.settings
        try:
            matrix = compare(
                voiceprints_a, voiceprints_b, settings.embedding_model_id, settings.comparison_max_pairs
            )
        except ComparisonRefused as e:
            raise ValidationFailed(e.problems) from None
        request = {"voiceprints_a": voiceprints_a, "voiceprints_b": voiceprints_b}
        request_hash = fingerprint("voiceprint_comparison", request)
        if idempotency_key:
            replay = self._claim(tenant_id, idempotency_key, request_hash, job_id)
            if replay is not None:
                return replay
        input_key = f"{MEDIA_PREFIX}{tenant_id}/uploads/{job_id}/comparison.json"
        result_key = f"{RESULTS_PREFIX}{tenant_id}/{job_id}/result.json"
        result = VoiceprintComparison.of(matrix, settings.embedding_model_id)
        now = utcnow()
        job = Job(
            job_id=job_id,
            tenant_id=tenant_id,
            kind="voiceprint_comparison",
            source="phonexia",
            input_url=s3_url(settings.media_bucket, input_key),
            created_at=now,
            updated_at=now,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            expires_at=int((now + timedelta(days=settings.retention_days + 1)).timestamp()),
        )
        try:
            body = json.dumps(request, separators=(",", ":")).encode()
            self.objects.put_bytes(settings.media_bucket, input_key, body, "application/json")
            self.store.create(job)
        except Exception:
            self._release(tenant_id, idempotency_key, job_id)
            raise
        if mark_running(self.store, job_id) is None:  # deleted meanwhile: nothing more to do
            return self.store.get(job_id) or job
        try:
            self.objects.put_bytes(
                settings.results_bucket,
                result_key,
                result.model_dump_json(by_alias=True).encode(),
                "application/json",
            )
        except Exception:  # the job ends failed (never left running); the caller gets the error
            log.exception("could not store the comparison's result")
            finish_job(
                self.store,
                self.events,
                job_id,
                JobStatus.FAILED,
                error=(ErrorCode.INTERNAL, "the scores could not be stored; submit again"),
            )
            raise
        done = finish_job(
            self.store,
            self.events,
            job_id,
            JobStatus.SUCCEEDED,
            result_location=s3_url(settings.results_bucket, result_key),
            result_model=result.model,
        )
        log.info("voiceprints compared", extra={"pairs": matrix.columns_count * matrix.rows_count})
        return done or self.store.get(job_id) or job

    def _check_params(self, kind: JobKind, params: JobParams) -> None:
        problems = param_problems(kind, params, self.settings.embedding_model_id)
        if problems:
            raise ValidationFailed(problems)

    def _claim(self, tenant_id: str, key: str, request_hash: str, job_id: str) -> Job | None:
        """Claim the key for ``job_id``; None when claimed, else the job of the earlier request."""
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

    def _release(self, tenant_id: str, idempotency_key: str | None, job_id: str) -> None:
        if idempotency_key:
            self.idempotency.release(tenant_id, idempotency_key, job_id)

    def _create_and_queue(
        self,
        tenant_id: str,
        job_id: str,
        sub: Submission,
        idempotency_key: str | None,
        request_hash: str,
    ) -> Job:
        now = utcnow()
        job = Job(
            job_id=job_id,
            tenant_id=tenant_id,
            kind=sub.kind,
            source=sub.source,
            input_url=sub.input_url,
            params=sub.params,
            webhook_url=sub.webhook_url,
            webhook_status_only=sub.webhook_status_only,
            requested_model=sub.requested_model,
            warnings=list(sub.warnings),
            input_bytes=sub.input_bytes,
            input_seconds=sub.input_seconds,
            created_at=now,
            updated_at=now,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            webhook_delivery="none",
            expires_at=int((now + timedelta(days=self.settings.retention_days + 1)).timestamp()),
        )
        try:
            self.limits.create_job(job)  # the tenant's active-job limit (services.limits)
        except Exception:
            self._release(tenant_id, idempotency_key, job_id)
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
            self._release(tenant_id, idempotency_key, job_id)
            raise QueueUnavailable("the job could not be queued; try again") from e
        log.info("job submitted", extra={"source": sub.source})
        return job


def _safe_name(filename: str | None) -> str:
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c if c.isalnum() or c in "._-" else "_" for c in name).strip("._")[:120]
    return name or "audio"
