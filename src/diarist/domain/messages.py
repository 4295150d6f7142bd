"""Versioned messages between the parts: the SQS dispatch message and the EventBridge events."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from diarist.domain.jobs import Job, JobError, JobStatus
from diarist.domain.lanes import Lane, lane_of

EVENT_SOURCE = "diarist"


class DispatchMessage(BaseModel):
    """Body of a message on the job queue: 'launch this job'. Redelivery must be harmless."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    version: Literal[1] = 1
    job_id: str = Field(alias="jobId")
    tenant_id: str = Field(alias="tenantId")


_EVENT_NAMESPACE = uuid.UUID("0b6f2d0e-5c1a-4d8e-9a43-6f1f5e0b7a21")


def completion_event_id(job_id: str, status: JobStatus) -> str:
    """The same id every time the completion event of ``job_id`` ending ``status`` is published
    (by ``finish_job`` or again by the sweeper): a consumer drops a duplicate by this id."""
    return str(uuid.uuid5(_EVENT_NAMESPACE, f"{job_id}#{status.value}"))


class JobFinishedDetail(BaseModel):
    """``detail`` of the EventBridge event sent for a terminal job state.

    Published at least once (the outbox: ``finish_job``, then the sweeper for an event whose
    publish failed), so a consumer drops duplicates by ``eventId`` (or job id + status).
    Version 2 added ``eventId`` and ``finishedAt``; version 1 details (without them) still parse.
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    version: Literal[1, 2] = 2
    job_id: str = Field(alias="jobId")
    tenant_id: str = Field(alias="tenantId")
    status: JobStatus
    output_location: str | None = Field(default=None, alias="outputLocation")
    error: JobError | None = None
    event_id: str | None = Field(default=None, alias="eventId")
    finished_at: datetime | None = Field(default=None, alias="finishedAt")

    @classmethod
    def of(cls, job: Job) -> JobFinishedDetail:
        """The completion event of a terminal job (the same detail every time it is published)."""
        return cls(
            job_id=job.job_id,
            tenant_id=job.tenant_id,
            status=job.status,
            output_location=job.result_location,
            error=job.error,
            event_id=completion_event_id(job.job_id, job.status),
            finished_at=job.finished_at,
        )


DETAIL_TYPES: dict[JobStatus, str] = {
    JobStatus.SUCCEEDED: "Diarization Job Succeeded",
    JobStatus.FAILED: "Diarization Job Failed",
    JobStatus.CANCELED: "Diarization Job Canceled",
}


def detail_type_for(status: JobStatus) -> str:
    try:
        return DETAIL_TYPES[status]
    except KeyError:
        raise ValueError(f"no completion event for non-terminal status {status.value}") from None


class WorkMessage(BaseModel):
    """Body of a message on the work queue: 'run this job'. The dispatcher sends it after its
    launch claim; a drain worker (``diarist worker --drain``) takes it. Redelivery (or a duplicate)
    is harmless: a worker runs a job only after its conditional take (``JobStore.take``)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    version: Literal[1] = 1
    job_id: str = Field(alias="jobId")
    tenant_id: str = Field(alias="tenantId")
    lane: Lane = Field(default="long", description="the work queue it goes to (domain.lanes)")

    @classmethod
    def of(cls, job: Job) -> WorkMessage:
        """The work message of ``job``, in the lane its input's known length puts it in."""
        return cls(
            job_id=job.job_id, tenant_id=job.tenant_id, lane=lane_of(job.input_seconds, job.input_bytes)
        )


class WorkerSpec(BaseModel):
    """What a launcher starts: one drain worker of the fleet (a Batch job, an ECS task, a local
    process). It serves whatever jobs the work queue holds, not one job."""

    worker_id: str

    def command(self) -> list[str]:
        return ["diarist", "worker", "--drain"]


# --- Webhook delivery -------------------------------------------------------------------------

WEBHOOK_RETRY_KIND = "diarist.webhook.retry"


class WebhookRetryMessage(BaseModel):
    """Body of a message the webhook delivery function puts back on its own queue.

    The webhook queue also carries the EventBridge completion events themselves (the rule's
    target); this model is told apart by ``kind``. ``attempt`` is the retry number within one
    delivery round (0 = first try, sent as ``x-retry-num`` when > 0); ``seq`` is the index this
    attempt takes in ``Job.webhook_attempts`` (the claim that stops duplicates); ``reason`` is why
    the previous attempt failed (sent as ``x-retry-reason``) or ``redeliver`` for a round started
    by ``POST /v1/jobs/{jobId}/webhook``.
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    kind: Literal["diarist.webhook.retry"] = "diarist.webhook.retry"
    version: Literal[1] = 1
    job_id: str = Field(alias="jobId")
    tenant_id: str = Field(alias="tenantId")
    attempt: int = Field(ge=0)
    seq: int = Field(ge=0)
    reason: str = ""


class UnknownMessage(ValueError):
    """A body that is neither a completion event nor a retry message."""


def parse_webhook_queue_body(
    body: str | bytes | Mapping[str, Any],
) -> JobFinishedDetail | WebhookRetryMessage:
    """A webhook-queue body: the EventBridge completion event (the rule's target) or the delivery
    function's own ``WebhookRetryMessage``. ``UnknownMessage`` for anything else."""
    data = json.loads(body) if isinstance(body, str | bytes) else dict(body)
    if not isinstance(data, dict):
        raise UnknownMessage("message body is not a JSON object")
    if data.get("kind") == WEBHOOK_RETRY_KIND:
        return WebhookRetryMessage.model_validate(data)
    if "detail-type" in data and "detail" in data:
        if data.get("source") != EVENT_SOURCE or data["detail-type"] not in DETAIL_TYPES.values():
            raise UnknownMessage(
                f"not a Diarist completion event: {data.get('source')}/{data['detail-type']}"
            )
        return JobFinishedDetail.model_validate(data["detail"])
    raise UnknownMessage("neither an EventBridge completion event nor a webhook retry message")
