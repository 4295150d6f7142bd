"""Versioned messages between the parts: the SQS dispatch message and the EventBridge events."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from diarist.domain.jobs import JobError, JobStatus

EVENT_SOURCE = "diarist"


class DispatchMessage(BaseModel):
    """Body of a message on the job queue: 'launch this job'. Redelivery must be harmless."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    version: Literal[1] = 1
    job_id: str = Field(alias="jobId")
    tenant_id: str = Field(alias="tenantId")


class JobFinishedDetail(BaseModel):
    """``detail`` of the EventBridge event sent once per terminal job state."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    version: Literal[1] = 1
    job_id: str = Field(alias="jobId")
    tenant_id: str = Field(alias="tenantId")
    status: JobStatus
    output_location: str | None = Field(default=None, alias="outputLocation")
    error: JobError | None = None


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


class WorkerSpec(BaseModel):
    """What a launcher passes to the container job (as environment / command)."""

    job_id: str
    tenant_id: str

    def command(self) -> list[str]:
        return ["diarist", "worker", "--job-id", self.job_id, "--tenant-id", self.tenant_id]
