"""Ports: everything the services need from the outside world, declared here and only here.

Services take these as constructor arguments; the boto3 adapters in ``diarist.adapters`` (and
local mode's launchers in ``diarist.local``) implement them, and tests pass fakes. Every method a
service calls is declared on its port: services call them directly, never through ``getattr``.
An adapter is built once per warm container and holds its boto3 client.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from diarist.domain.errors import DiaristError, ErrorCode
from diarist.domain.fleet import FleetState
from diarist.domain.jobs import Job, JobStatus, WebhookAttempt, WebhookDelivery
from diarist.domain.limits import Slot, TenantLimits
from diarist.domain.messages import (
    DispatchMessage,
    JobFinishedDetail,
    WebhookRetryMessage,
    WorkerSpec,
    WorkMessage,
)

# --- jobs ----------------------------------------------------------------------------------------


class JobStore(Protocol):
    """The job records. Every write is conditional: a status changes only along the transition
    table (``domain.jobs``), so two parties racing can never both win."""

    def create(self, job: Job) -> None:
        """Insert a new job; raises ``Conflict`` if the id exists."""

    def get(self, job_id: str) -> Job | None:
        """The job as last written (a consistent read), or ``None``."""

    def transition(
        self,
        job_id: str,
        new: JobStatus,
        *,
        only_from: Iterable[JobStatus] | None = None,
        unchanged_since: datetime | None = None,
        **changes: Any,
    ) -> Job:
        """Conditional write: only from a status that may reach ``new`` (and is in ``only_from``
        when given; and only if ``updated_at`` still equals ``unchanged_since`` when given).
        Raises ``InvalidTransition`` (``JobNotFound`` when the job is gone). Sets ``started_at`` /
        ``finished_at`` (and progress 100 on success) unless given. A terminal transition also
        sets ``event_owed_at`` in the same write: the completion event is owed (the outbox)."""

    def mark_event_sent(self, job_id: str, owed_at: datetime) -> bool:
        """Clear the debt ``event_owed_at == owed_at`` after its event was published. False when
        it was cleared already (someone else published it)."""

    def update(
        self,
        job_id: str,
        *,
        only_if_status: Iterable[JobStatus] | None = None,
        only_if_held_by: str | None = None,
        **changes: Any,
    ) -> Job:
        """Set fields (progress, webhook attempts ...), optionally only in given statuses and only
        while the worker ``only_if_held_by`` holds the job (``worker_id``). A field set to ``None``
        is removed. Never changes ``status`` (that is ``transition``). Raises ``InvalidTransition``
        when a condition fails."""

    def take(self, job_id: str, worker_id: str, *, stale_before: datetime, **changes: Any) -> Job:
        """A worker takes the job to run it: one conditional write that sets ``worker_id`` (and
        ``changes``), counts ``worker_takes`` and makes the job ``running``. Only from ``pending`` or
        ``created``, or a ``running`` job that no worker holds (given back) or whose holder wrote
        nothing since ``stale_before`` (it died). Raises ``InvalidTransition`` otherwise (a
        duplicate message for a job another worker runs; a terminal job), ``JobNotFound``."""

    def list_for_tenant(
        self, tenant_id: str, *, limit: int, cursor: str | None, status: JobStatus | None
    ) -> tuple[list[Job], str | None]:
        """Newest first, at most ``limit``; the cursor continues where this page ended (``None``:
        no more). A cursor this store did not return raises ``ValidationFailed``."""

    def delete(self, job_id: str) -> None: ...


@dataclass(frozen=True)
class Indexed:
    """A job as the sweeper's index found it, with its sort key there (the key of a conditional
    write that resolves it)."""

    job: Job
    key: str


class SweepIndex(Protocol):
    """Jobs by state and since when (``services.sweeper``): candidates without a table scan."""

    def in_status_since_before(self, status: JobStatus, before: datetime, *, limit: int) -> list[Indexed]:
        """Jobs in ``status`` (not terminal) that entered it (or were last requeued) before ``before``."""

    def owed_since_before(self, before: datetime, *, limit: int) -> list[Indexed]:
        """Terminal jobs whose completion event has been owed since before ``before``."""

    def move_on(self, entry: Indexed, *, until: datetime, requeue: bool = False) -> bool:
        """Claim ``entry`` with one conditional write: it now counts from ``until`` (a lease for an
        owed event; a new deadline for a requeued pending job, whose ``sweep_requeues`` goes up).
        False when the job moved since it was found (another sweeper, a worker, the dispatcher)."""


class LaunchClaims(Protocol):
    """The dispatcher's claim on a job's launch, so a redelivered message never starts a second
    container job (``services.dispatch``)."""

    def claim(self, job_id: str, token: str, *, stale_before: datetime) -> bool:
        """Take the claim: only while the job is ``pending`` with no ``launch_id`` and no claim, or
        a claim taken before ``stale_before`` (its delivery died mid-launch). True when taken."""

    def release(self, job_id: str, token: str, *, error: str | None = None) -> bool:
        """Drop our claim after a failed launch, keeping ``error`` as ``Job.launch_error``. False
        when the claim is no longer ours."""


class IdempotencyStore(Protocol):
    """``Idempotency-Key`` records: two requests with one key create one job."""

    def claim(
        self, tenant_id: str, key: str, *, request_hash: str, job_id: str, now: int, ttl_s: int
    ) -> dict[str, Any] | None:
        """Store the record unless a live one exists. ``None`` when claimed, else the existing
        record ``{job_id, request_hash}``. An expired record is taken over."""

    def release(self, tenant_id: str, key: str, job_id: str) -> None:
        """Forget the record (the submission it guarded failed), only if it still names ``job_id``."""


class ApiKeyStore(Protocol):
    """API keys, stored only as SHA-256 hashes of the plaintext."""

    def put(self, key_hash: str, record: dict[str, Any]) -> None:
        """Insert a key; raises ``Conflict`` if the hash exists."""

    def get(self, key_hash: str) -> dict[str, Any] | None: ...

    def list(self, tenant_id: str | None = None) -> list[dict[str, Any]]:
        """Every key, or one tenant's."""

    def set_revoked(self, key_hash: str, revoked_at: str) -> dict[str, Any]:
        """Revoke (idempotent: the first ``revoked_at`` stays). Returns the record."""


class TenantStore(Protocol):
    """Tenants' limit overrides and usage (``services.limits``): the ``TENANT#<id>`` item holds the
    overrides and the tenant's active-job slots; ``RATE#<id>#<window>`` items count requests per
    window (removed by TTL)."""

    def get_limits(self, tenant_id: str) -> TenantLimits:
        """The tenant's overrides (``None`` fields: none); all ``None`` for an unknown tenant."""

    def set_limits(self, tenant_id: str, limits: TenantLimits, *, clear: Iterable[str] = ()) -> TenantLimits:
        """Store the set fields of ``limits`` as overrides and remove the overrides named in
        ``clear`` (``max_active_jobs``, ``requests_per_minute``); returns the overrides now stored."""

    def count_request(self, tenant_id: str, window_start: int, *, limit: int, expires_at: int) -> int | None:
        """Count one request in the tenant's window starting at ``window_start``, only while fewer
        than ``limit`` were counted (one conditional write); the count after it, or ``None`` when
        the window is full."""

    def requests_in(self, tenant_id: str, window_start: int) -> int:
        """Requests counted in that window so far."""

    def claim_slot(self, tenant_id: str, slot: Slot, *, limit: int) -> bool:
        """Add ``slot`` to the tenant's active-job slots, only while fewer than ``limit`` are held
        (one conditional write). False (nothing written) when the tenant holds ``limit`` already."""

    def slots(self, tenant_id: str) -> list[Slot]:
        """The slots held (a consistent read); some jobs may have ended since (``release``)."""

    def release(self, tenant_id: str, slots: Iterable[Slot]) -> None:
        """Give ``slots`` back (idempotent: a slot not held is no error)."""


# --- queues and events ---------------------------------------------------------------------------


class JobQueue(Protocol):
    """The job queue the dispatcher consumes."""

    def send(self, message: DispatchMessage) -> None: ...

    def delay_redelivery(self, receipt_handle: str, seconds: int) -> None:
        """Keep a received message invisible for ``seconds`` from now (back-off): it is not
        received again before then."""


class EventBus(Protocol):
    def job_finished(self, detail: JobFinishedDetail) -> None:
        """Publish a job's completion event (``services.lifecycle.finish_job`` is the only caller)."""


@dataclass(frozen=True)
class WorkItem:
    """A message received from the work queue; ``receipt`` names this delivery of it."""

    message: WorkMessage
    receipt: str
    receive_count: int = 1


class WorkQueue(Protocol):
    """The queue drain workers take jobs from (``services.dispatch`` sends, ``worker.drain`` takes)."""

    def send(self, message: WorkMessage) -> None: ...

    def receive(self, *, wait_s: float, visibility_s: int, max_messages: int = 1) -> list[WorkItem]:
        """Up to ``max_messages`` messages, waiting up to ``wait_s`` for one (long polling).
        Each is invisible to other workers for ``visibility_s`` (then the heartbeat's ``keep``)."""

    def keep(self, receipt: str, seconds: int) -> None:
        """Keep a received message invisible ``seconds`` more from now (the heartbeat)."""

    def give_back(self, receipt: str) -> None:
        """Make a received message visible again at once (another worker takes it)."""

    def done(self, receipt: str) -> None:
        """Delete a received message (its job was handled)."""


# --- launching workers ---------------------------------------------------------------------------


class WorkerFleet(Protocol):
    """The drain workers that exist (running or starting), as one versioned item: the dispatcher's
    capacity decision is a conditional write on its version (``services.fleet``), so two
    dispatchers never launch for the same shortfall."""

    def read(self) -> FleetState:
        """The fleet as last written (consistent read); an empty fleet at version 0 if none."""

    def grow(self, state: FleetState, new: Mapping[str, datetime], *, now: datetime) -> bool:
        """Add the workers ``new`` (worker id -> when it counts as gone unless it reports) and drop
        those of ``state`` expired at ``now``, only if the fleet is still at ``state.version``.
        False when another writer changed it first (read again and decide again)."""

    def report(self, worker_id: str, until: datetime, *, first: bool = False) -> None:
        """A worker is alive (and counts until ``until``): set its entry, bump the version.
        ``first``: its first report (it started): the count of failed starts goes back to 0."""

    def leave(self, worker_id: str) -> None:
        """A worker exits (or failed to launch): remove its entry, bump the version."""

    def start_failed(self, worker_id: str, reason: str, *, at: datetime) -> None:
        """A worker's container could not start (or exited before its first report): remove its
        entry, count one more failed start in a row, keep ``reason`` and ``at``; one write."""

    def active_jobs(self) -> int:
        """Jobs waiting for a worker or running (``created`` + ``running``): the backlog."""


class WorkerStatus(StrEnum):
    """What the container service says about a worker's container job (``Launcher.status``)."""

    STARTING = "starting"  # submitted, waiting for capacity, starting
    RUNNING = "running"
    ENDED = "ended"  # exited normally
    FAILED = "failed"
    GONE = "gone"  # the service does not know it (any more)


class LaunchFailed(DiaristError):
    """The container service refused to start the worker (bad definition, quota, no capacity ...)."""

    code = ErrorCode.LAUNCH_FAILED


class LaunchThrottled(LaunchFailed):
    """The container service throttled us: retry later."""


class Launcher(Protocol):
    """Starts, asks about and stops the container jobs of drain workers."""

    def launch(self, spec: WorkerSpec) -> str:
        """Start a drain worker; returns its launch id (Batch job id, ECS task ARN, ``local-<pid>``).
        Raises ``LaunchThrottled`` when throttled, ``LaunchFailed`` for any other refusal."""

    def status(self, launch_id: str) -> WorkerStatus:
        """What the container service says about this launch (Batch ``DescribeJobs`` ...)."""

    def terminate(self, launch_id: str, reason: str) -> None:
        """Stop a container job; one that already ended is no error."""


# --- objects and secrets -------------------------------------------------------------------------


class ObjectStore(Protocol):
    def put_bytes(self, bucket: str, key: str, data: bytes, content_type: str) -> None: ...

    def get_bytes(self, bucket: str, key: str) -> bytes: ...

    def get_head(self, bucket: str, key: str, length: int) -> bytes:
        """The object's first ``length`` bytes (fewer when it is shorter): a ranged read."""

    def exists(self, bucket: str, key: str) -> bool: ...

    def head(self, bucket: str, key: str) -> Mapping[str, Any] | None:
        """The object's metadata (``ContentLength``, ``Metadata`` ...), ``None`` when missing."""

    def delete(self, bucket: str, key: str) -> None: ...

    def delete_prefix(self, bucket: str, prefix: str) -> int:
        """Delete every object whose key starts with ``prefix``; returns how many were deleted."""

    def presign_get(self, bucket: str, key: str, expires_s: int) -> str: ...

    def presign_put(self, bucket: str, key: str, expires_s: int, content_type: str | None = None) -> str: ...


class SecretStore(Protocol):
    def signing_secrets(self, tenant_id: str) -> list[str]:
        """Current secret first, then the previous one while a rotation is under way."""


# --- webhook delivery ----------------------------------------------------------------------------

IN_PROGRESS = "in progress"
"""The ``error`` of a claimed attempt slot until its outcome is recorded (a placeholder)."""

Delivery = WebhookDelivery


class Claim(StrEnum):
    CLAIMED = "claimed"
    TAKEN = "taken"  # someone else has (or had) this attempt: do nothing
    MISSING = "missing"  # no such job


def is_placeholder(attempt: WebhookAttempt) -> bool:
    """A claimed attempt whose outcome was never recorded."""
    return attempt.error == IN_PROGRESS and attempt.status_code is None


class WebhookLedger(Protocol):
    """``Job.webhook_attempts`` as an append-only ledger: an attempt's index (``seq``) is its identity."""

    def claim(self, job_id: str, *, seq: int, attempt: int, at: datetime, stale_after_s: float) -> Claim:
        """Append a placeholder at ``seq`` only if the ledger holds exactly ``seq`` attempts; a
        placeholder at ``seq`` older than ``stale_after_s`` (its function died) may be taken over."""

    def record(
        self, job_id: str, *, seq: int, claimed_at: datetime, result: WebhookAttempt, delivery: Delivery
    ) -> bool:
        """Replace our placeholder with the outcome. False if someone took the slot over."""

    def set_delivery(self, job_id: str, delivery: Delivery) -> None: ...


class RetryQueue(Protocol):
    def send_retry(self, message: WebhookRetryMessage, delay_s: int) -> None:
        """Put a retry back on the webhook queue, delivered after ``delay_s`` (capped by the queue)."""
