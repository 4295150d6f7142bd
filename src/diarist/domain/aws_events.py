"""The AWS events Diarist consumes, as EventBridge delivers them: S3 "Object Created" (the S3
trigger, ``services.ingest``) and "Batch Job State Change" (``services.failures``).

All are parsed leniently (``LenientEvent``): unknown fields are ignored (real events carry more
than we read) and what moto's events lack (``account``, ``time`` ...) is optional.
"""

from __future__ import annotations

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from diarist.domain.launches import TAG_JOB_ID, job_id_from_name

BATCH_SOURCE = "aws.batch"
BATCH_DETAIL_TYPE = "Batch Job State Change"


class LenientEvent(BaseModel):
    """Base of every AWS event model: extra fields ignored, fields settable by name or alias."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


# --- S3 -> EventBridge "Object Created" ------------------------------------------------------------
class S3Bucket(LenientEvent):
    name: str


class S3Object(LenientEvent):
    key: str
    size: int | None = None
    etag: str | None = Field(default=None, validation_alias=AliasChoices("etag", "eTag", "ETag"))
    version_id: str | None = Field(default=None, validation_alias=AliasChoices("version-id", "versionId"))
    sequencer: str | None = None


class S3ObjectCreatedDetail(LenientEvent):
    bucket: S3Bucket
    object: S3Object
    reason: str | None = None


class S3ObjectCreatedEvent(LenientEvent):
    """EventBridge "Object Created" from S3 (``account`` optional: moto may omit it)."""

    id: str | None = None
    source: str = "aws.s3"
    detail_type: str = Field(default="Object Created", alias="detail-type")
    account: str | None = None
    time: str | None = None
    detail: S3ObjectCreatedDetail


# --- AWS Batch "Batch Job State Change" ------------------------------------------------------------
class BatchContainer(LenientEvent):
    exit_code: int | None = Field(default=None, alias="exitCode")
    reason: str | None = None
    log_stream_name: str | None = Field(default=None, alias="logStreamName")
    command: list[str] = Field(default_factory=list)


class BatchAttempt(LenientEvent):
    container: BatchContainer = Field(default_factory=BatchContainer)
    status_reason: str | None = Field(default=None, alias="statusReason")
    started_at: int | None = Field(default=None, alias="startedAt")
    stopped_at: int | None = Field(default=None, alias="stoppedAt")


class BatchJobDetail(LenientEvent):
    job_id: str = Field(alias="jobId")
    job_name: str | None = Field(default=None, alias="jobName")
    job_queue: str | None = Field(default=None, alias="jobQueue")
    status: str
    status_reason: str | None = Field(default=None, alias="statusReason")
    attempts: list[BatchAttempt] = Field(default_factory=list)
    container: BatchContainer = Field(default_factory=BatchContainer)
    parameters: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)

    def diarist_job_id(self) -> str | None:
        """Our job id (``domain.launches``): Batch parameters, then tags, then the job name, then
        the command line."""
        for candidate in (
            self.parameters.get("jobId"),
            self.tags.get(TAG_JOB_ID),
            job_id_from_name(self.job_name),
            _arg_after(self.container.command, "--job-id"),
        ):
            if candidate:
                return candidate
        return None


class BatchJobStateChange(LenientEvent):
    """The EventBridge envelope; ``account``, ``time`` ... are optional (moto omits some)."""

    id: str | None = None
    source: str = BATCH_SOURCE
    detail_type: str = Field(default=BATCH_DETAIL_TYPE, alias="detail-type")
    account: str | None = None
    region: str | None = None
    detail: BatchJobDetail


def _arg_after(argv: list[str], flag: str) -> str | None:
    try:
        return argv[argv.index(flag) + 1]
    except (ValueError, IndexError):
        return None
