"""Ports: what the services need from the outside world. Adapters (boto3) implement them.

Services take these as constructor arguments, so tests can pass fakes and local mode the same
boto3 adapters pointed at the emulator.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from diarist.domain.jobs import Job, JobStatus
from diarist.domain.messages import DispatchMessage, JobFinishedDetail, WorkerSpec


class JobStore(Protocol):
    def create(self, job: Job) -> None:
        """Insert a new job; raises Conflict if the id exists."""

    def get(self, job_id: str) -> Job | None: ...

    def transition(self, job_id: str, new: JobStatus, **changes: Any) -> Job:
        """Conditional write: only from a status that may reach ``new``. Raises InvalidTransition."""

    def update(
        self, job_id: str, *, only_if_status: Iterable[JobStatus] | None = None, **changes: Any
    ) -> Job:
        """Set fields (progress, launch_id, webhook attempts ...), optionally only in given statuses."""

    def list_for_tenant(
        self, tenant_id: str, *, limit: int, cursor: str | None, status: JobStatus | None
    ) -> tuple[list[Job], str | None]: ...

    def delete(self, job_id: str) -> None: ...


class JobQueue(Protocol):
    def send(self, message: DispatchMessage) -> None: ...

    def delay_redelivery(self, receipt_handle: str, seconds: int) -> None:
        """A received message comes back (is visible again) only ``seconds`` from now."""


class Launcher(Protocol):
    def launch(self, spec: WorkerSpec) -> str:
        """Start a container job; returns its id (Batch job id, ECS task ARN, local pid ...)."""

    def terminate(self, launch_id: str, reason: str) -> None: ...


class ObjectStore(Protocol):
    def put_bytes(self, bucket: str, key: str, data: bytes, content_type: str) -> None: ...

    def get_bytes(self, bucket: str, key: str) -> bytes: ...

    def exists(self, bucket: str, key: str) -> bool: ...

    def head(self, bucket: str, key: str) -> Mapping[str, Any] | None: ...

    def delete(self, bucket: str, key: str) -> None: ...

    def presign_get(self, bucket: str, key: str, expires_s: int) -> str: ...

    def presign_put(self, bucket: str, key: str, expires_s: int, content_type: str | None = None) -> str: ...


class EventBus(Protocol):
    def job_finished(self, detail: JobFinishedDetail) -> None: ...


class SecretStore(Protocol):
    def signing_secrets(self, tenant_id: str) -> list[str]:
        """Current secret first, then the previous one while a rotation is under way."""
