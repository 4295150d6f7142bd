"""The job: its statuses, the allowed transitions between them, and the stored record.

Statuses follow pyannoteAI: ``pending -> created -> running -> succeeded | failed | canceled``.

A job has a *kind* (``JobKind``): what it computes. Every kind goes through the same statuses, the
same queue, dispatcher, worker, webhooks, listing, cancel and delete; only its parameters, what the
worker runs and how its result is rendered differ (``domain.job_kinds`` has the kind rules):

- ``diarize`` (the default, so stored items without a kind still load): who spoke when;
- ``voiceprint``: the voiceprint of the speaker of <= 30 s of audio (pyannoteAI ``/v1/voiceprint``);
- ``identify``: a diarization whose speakers are matched to given voiceprints (``/v1/identify``);
- ``voiceprint_extraction``: one voiceprint per channel (Phonexia);
- ``voiceprint_comparison``: every voiceprint of one list against every one of another (Phonexia);
  it needs no audio and is computed by the API itself (it is never queued).

- ``pending``: accepted and queued for the dispatcher.
- ``created``: the dispatcher put the job on the work queue (after its launch claim) and made
  sure the worker fleet has capacity for it; a drain worker will take it.
- ``running``: a worker took the job (``worker_id``, ``launch_id``: the container that runs it,
  ``worker_log``: where its log lines are) and works on it. A worker that is stopped (SIGTERM)
  gives the job back: it stays ``running`` without a ``worker_id`` and another worker resumes it
  (``running -> running``, the take in ``JobStore.take``).
- terminal: ``succeeded``, ``failed``, ``canceled``. Nothing leaves a terminal status.

The Phonexia dialect's task states are a *view* of the same status (``phonexia_state``).
The table below is enforced in DynamoDB by conditional writes (see ``adapters.dynamo_jobs``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from diarist.domain.errors import ErrorCode, InvalidTransition
from diarist.domain.speakers import MAX_SPEAKERS, check_speaker_counts
from diarist.domain.transcription import TranscriptionParams


class JobStatus(StrEnum):
    PENDING = "pending"
    CREATED = "created"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES: frozenset[JobStatus] = frozenset(
    {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED}
)

ALLOWED_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.PENDING: frozenset(
        {JobStatus.CREATED, JobStatus.RUNNING, JobStatus.FAILED, JobStatus.CANCELED}
    ),
    JobStatus.CREATED: frozenset({JobStatus.RUNNING, JobStatus.FAILED, JobStatus.CANCELED}),
    JobStatus.RUNNING: frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED}),
    JobStatus.SUCCEEDED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELED: frozenset(),
}
# PENDING -> RUNNING is allowed because a worker may start before the dispatcher's
# "created" write lands (the write is then refused, which is fine).


def can_transition(current: JobStatus, new: JobStatus) -> bool:
    return new in ALLOWED_TRANSITIONS[current]


def sources_of(new: JobStatus) -> frozenset[JobStatus]:
    """The statuses from which ``new`` may be reached (used to build conditional writes)."""
    return frozenset(s for s, targets in ALLOWED_TRANSITIONS.items() if new in targets)


def check_transition(current: JobStatus, new: JobStatus) -> None:
    if not can_transition(current, new):
        raise InvalidTransition(f"job cannot go from {current.value} to {new.value}")


PhonexiaState = Literal["pending", "running", "done", "failed", "rejected"]


def phonexia_state(status: JobStatus, error_code: str | None = None) -> PhonexiaState:
    """Phonexia's task state for a job status. Input errors show as ``rejected``."""
    if status in (JobStatus.PENDING, JobStatus.CREATED):
        return "pending"
    if status is JobStatus.RUNNING:
        return "running"
    if status is JobStatus.SUCCEEDED:
        return "done"
    if status is JobStatus.FAILED and error_code and error_code.startswith("input_"):
        return "rejected"
    return "failed"


def utcnow() -> datetime:
    return datetime.now(UTC)


class JobError(BaseModel):
    code: ErrorCode | str
    message: str


class WebhookAttempt(BaseModel):
    """One webhook delivery attempt, recorded on the job and shown by GET /v1/jobs/{id}."""

    at: datetime
    attempt: int
    status_code: int | None = Field(default=None, alias="statusCode")
    latency_ms: int | None = Field(default=None, alias="latencyMs")
    error: str | None = None
    model_config = ConfigDict(populate_by_name=True)


JobKind = Literal["diarize", "voiceprint", "identify", "voiceprint_extraction", "voiceprint_comparison"]
JOB_KINDS: tuple[JobKind, ...] = (
    "diarize",
    "voiceprint",
    "identify",
    "voiceprint_extraction",
    "voiceprint_comparison",
)


class LabeledVoiceprint(BaseModel):
    """One voiceprint an identify job matches speakers against (``domain.voiceprints`` blob)."""

    model_config = ConfigDict(extra="forbid")

    label: str
    voiceprint: str


class Matching(BaseModel):
    """How an identify job matches speakers to voiceprints (``domain.voiceprints.match_speakers``):
    ``exclusive`` one voiceprint per speaker and one speaker per voiceprint; no match scoring under
    ``threshold`` (0-100; pyannoteAI's default 0 lets every pair match)."""

    model_config = ConfigDict(extra="forbid")

    exclusive: bool = True
    threshold: float = Field(default=0.0, ge=0, le=100)


class JobParams(BaseModel):
    """What the job should do. Same for every dialect and for S3-triggered jobs.

    The speaker counts, confidence and exclusive flags and ``channel_mode`` serve every kind that
    diarizes; ``voiceprints`` and ``matching`` are identify's, ``transcription`` diarize's (left out
    of the stored item and of ``model_dump`` when unset, so a diarization's parameters are what they
    always were). The rules of
    each kind's parameters are ``domain.job_kinds.param_problems``.
    """

    model_config = ConfigDict(extra="forbid")

    num_speakers: int | None = Field(default=None, ge=1, le=MAX_SPEAKERS)
    min_speakers: int | None = Field(default=None, ge=1, le=MAX_SPEAKERS)
    max_speakers: int | None = Field(default=None, ge=1, le=MAX_SPEAKERS)
    confidence: bool = False
    turn_level_confidence: bool = False
    exclusive: bool = False
    channel_mode: Literal["split", "mix"] = "mix"
    voiceprints: list[LabeledVoiceprint] | None = Field(
        default=None, description="identify: the voiceprints to match, labels in the order given"
    )
    matching: Matching | None = Field(default=None, description="identify: the matching options")
    transcription: TranscriptionParams | None = Field(
        default=None, description="diarize: transcribe too (domain.transcription); None: do not"
    )

    @model_validator(mode="after")
    def _speaker_counts(self) -> JobParams:
        check_speaker_counts(self.num_speakers, self.min_speakers, self.max_speakers)
        return self

    @model_serializer(mode="wrap")
    def _serialize(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if not (k in _KIND_ONLY and v is None)}


_KIND_ONLY = ("voiceprints", "matching", "transcription")


JobSource = Literal["api", "phonexia", "s3"]
WebhookDelivery = Literal["none", "pending", "delivered", "failed"]
"""Where a job's webhook stands: none asked, attempts under way, delivered, or given up."""


class Job(BaseModel):
    """The job record as stored (DynamoDB item, minus the key attributes the adapter adds)."""

    model_config = ConfigDict(extra="ignore")

    job_id: str
    tenant_id: str
    status: JobStatus = JobStatus.PENDING
    kind: JobKind = "diarize"
    source: JobSource = "api"
    input_url: str = Field(description="s3://bucket/key or https://... (media:// is resolved at submit)")
    params: JobParams = Field(default_factory=JobParams)
    requested_model: str | None = Field(
        default=None, description="the model the request named (pyannoteAI's; domain.model_choice)"
    )
    result_model: str | None = Field(default=None, description="the weights that produced the result")
    webhook_url: str | None = None
    webhook_status_only: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    progress: int = Field(default=0, ge=0, le=100)
    warnings: list[str] = Field(default_factory=list)
    error: JobError | None = None
    launch_id: str | None = Field(
        default=None,
        description="the container job (Batch job id, ECS task ARN, local-<pid>) of the worker that took the job",
    )
    queued_at: datetime | None = Field(
        default=None, description="when the dispatcher put the job on the work queue (created)"
    )
    worker_id: str | None = Field(
        default=None,
        description="the drain worker holding the job while it runs (removed when it gives the job back)",
    )
    last_worker_id: str | None = Field(
        default=None, description="the worker that took the job last (kept when it gives the job back)"
    )
    worker_log: str | None = Field(
        default=None, description="where the worker's log lines are (CloudWatch log stream, local file)"
    )
    worker_takes: int = Field(
        default=0, ge=0, description="how many times a worker took the job (more than 1: resumed)"
    )
    launch_claim: str | None = Field(
        default=None,
        description="dispatcher: token of the delivery that claimed the launch (no double launch)",
    )
    launch_claimed_at: datetime | None = Field(
        default=None, description="dispatcher: when the launch was claimed"
    )
    launch_error: str | None = Field(
        default=None, description="dispatcher: why the last launch attempt failed"
    )
    event_owed_at: datetime | None = Field(
        default=None,
        description="outbox: set by the terminal write, removed once the completion event was published",
    )
    sweep_requeues: int = Field(
        default=0, ge=0, description="sweeper: dispatch messages sent again for this pending job"
    )
    input_bytes: int | None = Field(
        default=None, ge=0, description="the input's size, when known at submission (picks its lane)"
    )
    input_seconds: float | None = Field(
        default=None, ge=0, description="the input's duration, when its header stated it at submission"
    )
    result_location: str | None = Field(default=None, description="s3://bucket/key of the result JSON")
    result_prefix: str | None = Field(default=None, description="where extra result files go (s3 trigger)")
    idempotency_key: str | None = None
    request_hash: str | None = None
    webhook_delivery: WebhookDelivery = "none"
    webhook_attempts: list[WebhookAttempt] = Field(default_factory=list)
    expires_at: int | None = Field(default=None, description="epoch seconds; DynamoDB TTL")

    @model_validator(mode="after")
    def _kind_params(self) -> Job:
        # identify needs its voiceprints; no other kind carries any
        if (self.kind == "identify") != (self.params.voiceprints is not None):
            raise ValueError(
                f"a {self.kind} job {'needs' if self.kind == 'identify' else 'has no'} voiceprints"
            )
        return self
