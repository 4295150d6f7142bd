"""S3-upload trigger: an object created under ``incoming/<tenant>/`` in the media bucket starts a job.

- Tenant: the first path segment after ``incoming/``. The rest of the key names the result:
  ``incoming/<tenant>/<path>`` -> ``s3://<results-bucket>/results/<tenant>/<path>.json`` and ``.rttm``
  (``Job.result_prefix`` = ``s3://<results-bucket>/results/<tenant>/<path>``; see docs/pipeline.md).
- Parameters: the object's user metadata (``x-amz-meta-num-speakers``, ``min-speakers``,
  ``max-speakers``, ``confidence``, ``channel-mode``, ``webhook``, also ``turn-level-confidence``
  and ``exclusive``). Other metadata keys are ignored (other tools add their own).
- Invalid metadata never loses the upload: a job is still created and ends ``failed`` at once
  (``input_invalid_metadata``) with a message naming the metadata key, so it shows in the job
  list and its webhook (if the webhook key itself was valid) fires.
- Duplicates: S3 -> EventBridge may deliver an event twice. The job id is derived from bucket, key
  and the object's sequencer (else its ETag), and the job is created with a conditional put: the
  second delivery gets ``Conflict`` and only re-sends the dispatch message if the first delivery
  died before sending it (dispatch is idempotent, so that is harmless).

The event's shape (what S3 and moto send through EventBridge):
``domain.aws_events.S3ObjectCreatedEvent``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import unquote_plus, urlsplit

from diarist.domain.aws_events import S3Object, S3ObjectCreatedEvent
from diarist.domain.errors import Conflict
from diarist.domain.jobs import Job, JobParams, JobStatus, utcnow
from diarist.domain.locations import s3_url
from diarist.domain.messages import DispatchMessage
from diarist.domain.speakers import MAX_SPEAKERS, Which, speaker_count_problems
from diarist.observability import job_context
from diarist.ports import EventBus, JobQueue, JobStore, ObjectStore
from diarist.resources import INCOMING_PREFIX, RESULTS_PREFIX
from diarist.services.lifecycle import fail_job

log = logging.getLogger(__name__)

INVALID_METADATA = "input_invalid_metadata"
_JOB_ID_NAMESPACE = uuid.UUID("6f1d3a52-8c8e-4a5e-9a52-3f3f0c7d9b11")


# --- metadata -> parameters --------------------------------------------------------------------
_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off", ""}


@dataclass
class ParsedMetadata:
    params: JobParams
    webhook_url: str | None
    errors: list[tuple[str, str]]  # (x-amz-meta-<key>, message)

    def error_message(self) -> str:
        return "; ".join(f"{k}: {m}" for k, m in self.errors)


def _norm_key(k: str) -> str:
    k = k.strip().lower().replace("_", "-")
    return k[len("x-amz-meta-") :] if k.startswith("x-amz-meta-") else k


def parse_object_metadata(metadata: Mapping[str, str], *, allow_http: bool = False) -> ParsedMetadata:
    """Job parameters from S3 user metadata. Never raises: problems are listed in ``errors``."""
    meta = {_norm_key(k): str(v).strip() for k, v in metadata.items()}
    errors: list[tuple[str, str]] = []
    values: dict[str, Any] = {}

    def name(k: str) -> str:
        return f"x-amz-meta-{k}"

    counts: dict[Which, int | None] = {"num": None, "min": None, "max": None}
    for which in counts:
        key = f"{which}-speakers"
        if key in meta:
            raw = meta[key]
            try:
                counts[which] = int(raw)
            except ValueError:
                errors.append((name(key), f"{raw!r} is not a whole number from 1 to {MAX_SPEAKERS}"))
    for which, message in speaker_count_problems(counts["num"], counts["min"], counts["max"]):
        if counts["num"] is not None and which != "num":  # a bound beside an exact count: name the count
            problem = (
                name("num-speakers"),
                "give either num-speakers or min-speakers/max-speakers, not both",
            )
        else:
            problem = (name(f"{which}-speakers"), message)
        if problem not in errors:
            errors.append(problem)
    values.update({f"{which}_speakers": n for which, n in counts.items() if n is not None})
    for key in ("confidence", "turn-level-confidence", "exclusive"):
        if key in meta:
            raw = meta[key].lower()
            if raw in _TRUE:
                values[key.replace("-", "_")] = True
            elif raw in _FALSE:
                values[key.replace("-", "_")] = False
            else:
                errors.append((name(key), f"{meta[key]!r} is not true or false"))
    if "channel-mode" in meta:
        raw = meta["channel-mode"].lower()
        if raw in ("split", "mix"):
            values["channel_mode"] = raw
        else:
            errors.append((name("channel-mode"), f"{meta['channel-mode']!r} is not 'split' or 'mix'"))

    webhook_url = None
    if meta.get("webhook"):
        raw = meta["webhook"]
        parts = urlsplit(raw)
        schemes = ("https", "http") if allow_http else ("https",)
        if parts.scheme not in schemes or not parts.hostname:
            errors.append((name("webhook"), f"{raw!r} is not an {' or '.join(schemes)} URL"))
        else:
            webhook_url = raw

    params = JobParams(**values) if not errors else JobParams()
    return ParsedMetadata(params, webhook_url, errors)


# --- the service -------------------------------------------------------------------------------
def split_incoming_key(key: str) -> tuple[str, str] | None:
    """``incoming/<tenant>/<path>`` -> ``(tenant, path)``; None for anything else (folders too)."""
    if not key.startswith(INCOMING_PREFIX) or key.endswith("/"):
        return None
    tenant, _, rest = key[len(INCOMING_PREFIX) :].partition("/")
    if not tenant or not rest:
        return None
    return tenant, rest


def job_id_for(bucket: str, key: str, obj: S3Object) -> str:
    """The same object version -> the same job id, whichever delivery of its event we see."""
    version = obj.sequencer or obj.etag or obj.version_id or ""
    return str(uuid.uuid5(_JOB_ID_NAMESPACE, f"{s3_url(bucket, key)}#{version}"))


@dataclass
class IngestOutcome:
    action: str  # created | rejected | duplicate | ignored
    job_id: str | None = None
    detail: str = ""


def _size(head: Mapping[str, Any]) -> int | None:
    try:
        return int(head["ContentLength"])
    except (KeyError, TypeError, ValueError):
        return None


@dataclass
class Ingestor:
    store: JobStore
    queue: JobQueue
    objects: ObjectStore
    events: EventBus
    media_bucket: str
    results_bucket: str
    retention_days: int = 1
    allow_http_webhooks: bool = False

    def handle(self, event: S3ObjectCreatedEvent | Mapping[str, Any]) -> IngestOutcome:
        if not isinstance(event, S3ObjectCreatedEvent):
            event = S3ObjectCreatedEvent.model_validate(event)
        outcome = self._handle(event)
        log.info(
            "ingest", extra={"action": outcome.action, "job_id": outcome.job_id, "detail": outcome.detail}
        )
        return outcome

    def _handle(self, event: S3ObjectCreatedEvent) -> IngestOutcome:
        bucket, obj = event.detail.bucket.name, event.detail.object
        if bucket != self.media_bucket:
            return IngestOutcome("ignored", detail=f"bucket {bucket} is not the media bucket")
        key, head = self._resolve(bucket, obj.key)
        where = split_incoming_key(key)
        if where is None:
            return IngestOutcome("ignored", detail=f"{key} is not incoming/<tenant>/<name>")
        if head is None:
            return IngestOutcome("ignored", detail=f"{s3_url(bucket, key)} no longer exists")
        tenant, rest = where
        job_id = job_id_for(bucket, key, obj)
        parsed = parse_object_metadata(head.get("Metadata") or {}, allow_http=self.allow_http_webhooks)
        now = utcnow()
        job = Job(
            job_id=job_id,
            tenant_id=tenant,
            source="s3",
            input_url=s3_url(bucket, key),
            params=parsed.params,
            webhook_url=parsed.webhook_url,
            result_prefix=s3_url(self.results_bucket, f"{RESULTS_PREFIX}{tenant}/{rest}"),
            input_bytes=_size(head),  # picks its work lane (domain.lanes)
            created_at=now,
            updated_at=now,
            expires_at=int((now + timedelta(days=self.retention_days + 1)).timestamp()),
        )
        with job_context(job_id, tenant):
            try:
                self.store.create(job)
            except Conflict:
                return self._duplicate(job_id, tenant, parsed)
            if parsed.errors:
                fail_job(self.store, self.events, job_id, INVALID_METADATA, parsed.error_message())
                return IngestOutcome("rejected", job_id, parsed.error_message())
            self.queue.send(DispatchMessage(job_id=job_id, tenant_id=tenant))
            return IngestOutcome("created", job_id)

    def _resolve(self, bucket: str, key: str) -> tuple[str, Mapping[str, Any] | None]:
        """Keys may arrive URL-encoded (S3 notifications encode them; moto's EventBridge ones do not)."""
        head = self.objects.head(bucket, key)
        if head is None:
            decoded = unquote_plus(key)
            if decoded != key:
                head = self.objects.head(bucket, decoded)
                if head is not None:
                    return decoded, head
        return key, head

    def _duplicate(self, job_id: str, tenant: str, parsed: ParsedMetadata) -> IngestOutcome:
        existing = self.store.get(job_id)
        if existing is not None and existing.status is JobStatus.PENDING and not existing.launch_id:
            # the first delivery may have died before finishing: redo its last step (both idempotent)
            if parsed.errors:
                fail_job(self.store, self.events, job_id, INVALID_METADATA, parsed.error_message())
                return IngestOutcome("duplicate", job_id, "rejected")
            self.queue.send(DispatchMessage(job_id=job_id, tenant_id=tenant))
            return IngestOutcome("duplicate", job_id, "dispatch message re-sent")
        return IngestOutcome("duplicate", job_id)
