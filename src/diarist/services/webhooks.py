"""Webhook delivery: signed, retried, recorded, SSRF-safe.

One delivery *round* per job completion (and one more per ``redeliver``): attempt 0 right away,
then one retry per entry of ``WebhookSettings.webhook_retry_delays_s`` (default 0 s, 60 s, 300 s:
pyannoteAI's "retried 3 times, immediately, +1 min, +5 min"), each re-enqueued on the webhook
queue with ``DelaySeconds``. Every attempt lands in ``Job.webhook_attempts`` (which the tenant
reads: its error is fixed text, e.g. the status and its standard reason, never the receiver's
answer nor an exception's message); ``webhook_delivery``
says where the round stands. A 2xx answer delivers; 410 Gone stops; a URL the SSRF policy refuses
stops; anything else (other status, timeout, connection/DNS/TLS error, no signing secret yet,
result unreadable) is retried. When the last retry fails the job is marked ``failed`` and the SQS
message fails, again on each receive, so the queue's redrive policy moves it to the DLQ.

Request: ``POST <webhook_url>`` with ``Content-Type: application/json`` and body
``{"jobId", "status", "output"}`` (``{"jobId", "status"}`` when ``webhookStatusOnly``); headers
``X-Request-Timestamp``, ``X-Signature`` (+ ``X-Signature-Previous`` during a secret rotation)
and, on retries, ``x-retry-num`` / ``x-retry-reason``. ``output`` is the result in pyannoteAI's
shape, for succeeded jobs only: pyannoteAI sends no output for failed and canceled jobs. A failed
job's body has Diarist's ``error: {code, message}`` instead (the same as ``GET /v1/jobs/{jobId}``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from http import HTTPStatus
from typing import Any

from diarist.domain import signing
from diarist.domain.errors import Conflict, JobNotFound
from diarist.domain.jobs import Job, JobStatus, WebhookAttempt
from diarist.domain.messages import JobFinishedDetail, WebhookRetryMessage
from diarist.domain.results import parse_result
from diarist.netpolicy import PRODUCTION, FetchError, NetworkPolicy, Resolver, UnsafeUrl, safe_request
from diarist.ports import Claim, JobStore, ObjectStore, RetryQueue, SecretStore, WebhookLedger, is_placeholder
from diarist.services.reading import render_pyannote_output

log = logging.getLogger(__name__)

USER_AGENT = "Diarist-Webhook/1"
REDELIVER_REASON = "redeliver"
REFUSED_PREFIX = "refused: "  # attempt error of a URL the SSRF policy refused (not retried)
MAX_RECORDED_ATTEMPTS = 100  # the job item must stay far below DynamoDB's 400 KB
_MAX_ERROR_CHARS = 500


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRY_SCHEDULED = "retry_scheduled"
    FAILED = "failed"  # permanent (410, refused URL): no more retries, message done
    EXHAUSTED = "exhausted"  # last retry failed: the handler fails the SQS message (-> DLQ)
    SKIPPED = "skipped"  # no webhook, duplicate, replay of a delivered event ...


class WebhookDeliveryExhausted(Exception):
    """Raised by the handler so the SQS message fails and ends in the DLQ."""


@dataclass(frozen=True)
class DeliveryConfig:
    timeout_s: float = 10.0
    retry_delays_s: Sequence[int] = (0, 60, 300)
    policy: NetworkPolicy = PRODUCTION
    resolver: Resolver | None = None  # tests: resolve names without network
    ca_certs: str | None = None  # tests / private CAs in local mode
    stale_claim_s: float | None = None  # default: 2 x timeout + 5 s

    @property
    def max_retries(self) -> int:
        return len(self.retry_delays_s)

    @property
    def stale_after_s(self) -> float:
        return self.stale_claim_s if self.stale_claim_s is not None else 2 * self.timeout_s + 5

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> DeliveryConfig:
        """From ``settings.WebhookSettings``: timeout, retry delays and the network policy."""
        values: dict[str, Any] = {
            "timeout_s": settings.webhook_timeout_s,
            "retry_delays_s": tuple(settings.webhook_retry_delays_s),
            "policy": settings,
        }
        values.update(overrides)
        return cls(**values)


# -- the service ----------------------------------------------------------------------------------------


@dataclass
class WebhookService:
    jobs: JobStore
    ledger: WebhookLedger
    objects: ObjectStore
    secrets: SecretStore
    retries: RetryQueue
    config: DeliveryConfig = field(default_factory=DeliveryConfig)
    clock: Callable[[], float] = time.time

    # entry points -----------------------------------------------------------------------------
    def handle(self, message: JobFinishedDetail | WebhookRetryMessage) -> Outcome:
        """One message of the webhook queue (a completion event's detail or a retry message).
        Raises ``WebhookDeliveryExhausted`` when the message must fail (to reach the DLQ)."""
        if isinstance(message, WebhookRetryMessage):
            outcome = self.on_retry(message)
        else:
            outcome = self.on_job_finished(message)
        if outcome is Outcome.EXHAUSTED:
            raise WebhookDeliveryExhausted("webhook delivery failed after every retry")
        return outcome

    def on_job_finished(self, detail: JobFinishedDetail) -> Outcome:
        return self._attempt(detail.job_id, detail.tenant_id, attempt=0, seq=0, reason="")

    def on_retry(self, message: WebhookRetryMessage) -> Outcome:
        return self._attempt(
            message.job_id, message.tenant_id, attempt=message.attempt, seq=message.seq, reason=message.reason
        )

    def redeliver(self, job_id: str, tenant_id: str) -> Job:
        """Start a new delivery round for a finished job (``POST /v1/jobs/{jobId}/webhook``).

        Raises ``JobNotFound`` (no such job for this tenant), ``Conflict`` (not finished yet, or
        no webhook URL). Returns the job with ``webhook_delivery = "pending"``; the attempt itself
        runs in the delivery function, right away.
        """
        job = self.jobs.get(job_id)
        if job is None or job.tenant_id != tenant_id:
            raise JobNotFound(f"job {job_id} not found")
        if not job.status.is_terminal:
            raise Conflict(f"job {job_id} is {job.status.value}: its webhook is sent when it finishes")
        if not job.webhook_url:
            raise Conflict(f"job {job_id} has no webhook URL")
        if len(job.webhook_attempts) + self.config.max_retries + 1 > MAX_RECORDED_ATTEMPTS:
            raise Conflict(f"job {job_id} has had too many webhook attempts to start another round")
        # "pending" first: the attempt may run (and deliver) before this function returns
        self.ledger.set_delivery(job_id, "pending")
        self.retries.send_retry(
            WebhookRetryMessage(
                job_id=job_id,
                tenant_id=tenant_id,
                attempt=0,
                seq=len(job.webhook_attempts),
                reason=REDELIVER_REASON,
            ),
            0,
        )
        return job.model_copy(update={"webhook_delivery": "pending"})

    # one attempt -----------------------------------------------------------------------------
    def _attempt(self, job_id: str, tenant_id: str, *, attempt: int, seq: int, reason: str) -> Outcome:
        ctx = {"job_id": job_id, "attempt": attempt, "seq": seq}
        job = self.jobs.get(job_id)
        if job is None or job.tenant_id != tenant_id:
            log.warning("webhook for an unknown job", extra=ctx)
            return Outcome.SKIPPED
        if not job.webhook_url:
            return Outcome.SKIPPED
        if not job.status.is_terminal:
            log.warning("webhook for an unfinished job", extra={**ctx, "status": job.status.value})
            return Outcome.SKIPPED

        started = datetime.fromtimestamp(self.clock(), UTC)
        claim = self.ledger.claim(
            job_id, seq=seq, attempt=attempt, at=started, stale_after_s=self.config.stale_after_s
        )
        if claim is not Claim.CLAIMED:
            return self._already_handled(job_id, attempt=attempt, seq=seq)

        status_code, error, retry_reason = None, None, ""
        t0 = time.monotonic()
        try:
            body = self.payload(job)
            headers = self._headers(job, body, attempt=attempt, reason=reason)
            with safe_request(
                "POST",
                job.webhook_url,
                body=body,
                headers=headers,
                timeout=self.config.timeout_s,
                policy=self.config.policy,
                stream=True,
                resolver=self.config.resolver,
                ca_certs=self.config.ca_certs,
            ) as response:
                status_code = response.status
                if not 200 <= status_code < 300:
                    # the status and its standard reason only: the receiver's body (or its own
                    # reason phrase) is never read into the attempt record the tenant sees
                    error = http_error(status_code)
                    retry_reason = f"http_{status_code}"
        except UnsafeUrl as e:
            error, retry_reason = f"{REFUSED_PREFIX}{e.reason}", ""
        except FetchError as e:
            error, retry_reason = e.message, e.kind
        except Exception as e:  # no secret yet, result unreadable, ...: retried, never lost
            log.exception("webhook attempt could not be made", extra=ctx)  # the detail: logs only
            error, retry_reason = (
                f"internal error preparing the webhook ({type(e).__name__})",
                "internal_error",
            )
        latency_ms = int((time.monotonic() - t0) * 1000)

        if error is not None:
            error = error[:_MAX_ERROR_CHARS]
        result = WebhookAttempt(
            at=started, attempt=attempt, status_code=status_code, latency_ms=latency_ms, error=error
        )
        if error is None:
            return self._finish(job_id, seq, started, result, "delivered", Outcome.DELIVERED)
        if status_code == 410 or not retry_reason:
            return self._finish(job_id, seq, started, result, "failed", Outcome.FAILED)
        if attempt >= self.config.max_retries:
            return self._finish(job_id, seq, started, result, "failed", Outcome.EXHAUSTED)
        # enqueue first: a failure to record must not lose the retry
        self.retries.send_retry(
            WebhookRetryMessage(
                job_id=job_id, tenant_id=tenant_id, attempt=attempt + 1, seq=seq + 1, reason=retry_reason
            ),
            self.config.retry_delays_s[attempt],
        )
        return self._finish(job_id, seq, started, result, "pending", Outcome.RETRY_SCHEDULED)

    def _finish(
        self,
        job_id: str,
        seq: int,
        started: datetime,
        result: WebhookAttempt,
        delivery: Any,
        outcome: Outcome,
    ) -> Outcome:
        if not self.ledger.record(job_id, seq=seq, claimed_at=started, result=result, delivery=delivery):
            log.warning(
                "webhook attempt taken over before its outcome was recorded", extra={"job_id": job_id}
            )
        log.info(
            "webhook attempt",
            extra={
                "job_id": job_id,
                "seq": seq,
                "attempt": result.attempt,
                "status_code": result.status_code,
                "latency_ms": result.latency_ms,
                "error": result.error,
                "outcome": outcome.value,
            },
        )
        return outcome

    def _already_handled(self, job_id: str, *, attempt: int, seq: int) -> Outcome:
        """The slot is taken: a duplicate. Keep failing only the message of an exhausted round,
        so that it reaches the DLQ instead of being silently dropped on its next receive."""
        job = self.jobs.get(job_id)
        if job is None:
            return Outcome.SKIPPED
        attempts = job.webhook_attempts
        if (
            job.webhook_delivery == "failed"
            and len(attempts) == seq + 1
            and attempts[seq].attempt == attempt >= self.config.max_retries
            and not is_placeholder(attempts[seq])
            and attempts[seq].status_code != 410
            and not (attempts[seq].error or "").startswith(REFUSED_PREFIX)
        ):
            return Outcome.EXHAUSTED
        log.info("duplicate webhook message ignored", extra={"job_id": job_id, "seq": seq})
        return Outcome.SKIPPED

    # request --------------------------------------------------------------------------------------
    def payload(self, job: Job) -> bytes:
        data: dict[str, Any] = {"jobId": job.job_id, "status": job.status.value}
        if not job.webhook_status_only:
            if job.status is JobStatus.SUCCEEDED:
                data["output"] = self._output(job)
            elif job.error is not None:
                data["error"] = job.error.model_dump(mode="json")
        return json.dumps(data, separators=(",", ":")).encode("utf-8")

    def _output(self, job: Job) -> dict[str, Any]:
        from diarist.domain.locations import split_s3_url

        if not job.result_location:
            raise RuntimeError(f"job {job.job_id} succeeded without a result location")
        bucket, key = split_s3_url(job.result_location)
        return render_pyannote_output(job, parse_result(job.kind, self.objects.get_bytes(bucket, key)))

    def _headers(self, job: Job, body: bytes, *, attempt: int, reason: str) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        headers.update(
            signing.signature_headers(
                self.secrets.signing_secrets(job.tenant_id), body, timestamp=int(self.clock())
            )
        )
        if attempt > 0:
            headers["x-retry-num"] = str(attempt)
            headers["x-retry-reason"] = reason or "unknown"
        return headers


def http_error(status_code: int) -> str:
    """An attempt's error for a non-2xx answer: ``HTTP 500 Internal Server Error``. Fixed text
    from the status code alone, whatever the receiver sent."""
    try:
        return f"HTTP {status_code} {HTTPStatus(status_code).phrase}"
    except ValueError:
        return f"HTTP {status_code}"


def completion_detail(job: Job) -> JobFinishedDetail:
    """The completion event's detail for a finished job (as ``services.lifecycle.finish_job`` sends)."""
    return JobFinishedDetail.of(job)
