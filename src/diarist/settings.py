"""Configuration as pydantic settings, read from the environment and checked at start-up.

No silent defaults for anything that names a resource: a missing variable fails fast with the
variable's name. Each function composes only what it needs.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Annotated, Any, Literal, TypeVar

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from diarist.domain.fleet import FleetPolicy
from diarist.domain.input_buckets import InputBucketRule, parse_rules, split_rules
from diarist.domain.job_kinds import MAX_COMPARISON_PAIRS
from diarist.domain.lanes import DEFAULT_LONG_EVERY
from diarist.domain.limits import MAX_ACTIVE_JOBS_LIMIT, MAX_LIMIT, TenantLimits
from diarist.domain.model_choice import DEFAULT_EMBEDDING_MODEL_ID, DEFAULT_ENGINE, DeploymentEngine
from diarist.domain.transcription import DEFAULT_ASR, DeploymentAsr
from diarist.resources import WEBHOOK_SECRET_PREFIX


class _Base(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DIARIST_", extra="ignore", frozen=True)


class StoreSettings(_Base):
    table_name: str = Field(description="DynamoDB single table (jobs, API keys, idempotency)")
    media_bucket: str = Field(description="Inputs: media://, Phonexia uploads, incoming/ (S3 trigger)")
    results_bucket: str
    retention_days: int = Field(default=1, ge=1, le=3650)


class QueueSettings(_Base):
    job_queue_url: str


class EventSettings(_Base):
    event_bus_name: str


class FleetSettings(_Base):
    """The drain-worker fleet (``domain.fleet``): shared by the dispatcher (the capacity decision),
    the sweeper and the workers (their reports)."""

    fleet_max_workers: int = Field(default=4, ge=1, le=1000, description="never more workers than this")
    fleet_jobs_per_worker: int = Field(
        default=1,
        ge=1,
        le=1000,
        description="the backlog one worker is expected to take before another is launched",
    )
    fleet_start_grace_s: float = Field(
        default=900.0,
        ge=1,
        description="a launched worker counts this long before its first report (Batch placement)",
    )
    fleet_report_every_s: float = Field(
        default=30.0, gt=0, description="a worker reports it is alive this often"
    )
    fleet_lease_s: float = Field(
        default=120.0, gt=0, description="... and counts this long after each report (above report_every_s)"
    )

    def fleet_policy(self) -> FleetPolicy:
        return FleetPolicy(
            max_workers=self.fleet_max_workers,
            jobs_per_worker=self.fleet_jobs_per_worker,
            start_grace_s=self.fleet_start_grace_s,
            report_every_s=self.fleet_report_every_s,
            lease_s=self.fleet_lease_s,
        )


class WorkQueueSettings(_Base):
    work_queue_url: str = Field(description="the queue drain workers take jobs from (the long lane)")
    short_work_queue_url: str | None = Field(
        default=None,
        description="the short lane's work queue (domain.lanes); unset: one lane, every job on work_queue_url",
    )
    long_lane_every: int = Field(
        default=DEFAULT_LONG_EVERY,
        ge=0,
        le=1000,
        description="a worker looks at the long lane first after this many short jobs in a row (0: only "
        "when the short lane is empty)",
    )


class NetworkPolicySettings(_Base):
    """SSRF policy for input URLs and webhooks. Only local mode turns these on."""

    allow_http: bool = False
    allow_private_networks: bool = False


class TenantLimitSettings(_Base):
    """The default per-tenant limits (``services.limits``): the API's, and what ``diarist tenants
    show`` reports as the defaults (set the same variables in its shell when the stack sets them)."""

    max_active_jobs_per_tenant: int = Field(
        default=100,
        ge=0,
        le=MAX_ACTIVE_JOBS_LIMIT,
        description="jobs a tenant may have pending or running at once (0 = no limit); a tenant's "
        "override (diarist tenants set-limits) wins; diarist.services.limits",
    )
    requests_per_minute_per_tenant: int = Field(
        default=600,
        ge=0,
        le=MAX_LIMIT,
        description="authenticated API requests per tenant per UTC minute (0 = no limit); a tenant's "
        "override wins",
    )
    tenant_limits_cache_ttl_s: float = Field(
        default=10.0, ge=0, le=3600, description="a tenant's limit overrides are re-read this often"
    )

    def tenant_limits(self) -> TenantLimits:
        """The default limits (``domain.limits``): a tenant's overrides win over these."""
        return TenantLimits(
            max_active_jobs=self.max_active_jobs_per_tenant,
            requests_per_minute=self.requests_per_minute_per_tenant,
        )


class ApiSettings(StoreSettings, QueueSettings, EventSettings, NetworkPolicySettings, TenantLimitSettings):
    allowed_input_buckets: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="s3:// input rules, comma-separated: 'bucket/prefix/{tenant}/' (each tenant its own "
        "folder), 'bucket[/prefix/]=t1+t2' (these tenants), 'bucket[/prefix/]=*' (every tenant); "
        "see diarist.domain.input_buckets",
    )
    result_inline_max_bytes: int = Field(default=256 * 1024, ge=0)
    presign_expiry_s: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    public_base_url: str | None = Field(default=None, description="For X-Location; else from the request")
    apikey_cache_ttl_s: float = Field(
        default=30.0, ge=0, le=3600, description="API key lookups cached this long"
    )
    engine_model: DeploymentEngine = Field(
        default=DEFAULT_ENGINE,
        description="What the worker image runs (diarist | community-1): a job asking for another "
        "model gets a warning (diarist.domain.model_choice)",
    )
    transcription_model: DeploymentAsr = Field(
        default=DEFAULT_ASR,
        description="The faster-whisper model the worker image runs: a job asking for another "
        "transcription model gets a warning (diarist.domain.transcription)",
    )
    embedding_model_id: str = Field(
        default=DEFAULT_EMBEDDING_MODEL_ID,
        pattern=r"^[A-Za-z0-9._:+-]{1,64}$",
        description="The embedding model id of the worker image's weights: voiceprints of any other "
        "model are refused at submission (the default is the pinned CAM++ weights')",
    )
    comparison_max_pairs: int = Field(
        default=MAX_COMPARISON_PAIRS // 2,
        ge=1,
        le=MAX_COMPARISON_PAIRS,
        description="Phonexia's voiceprint comparison: at most this many pairs (len(a) * len(b)); "
        "the API computes them itself and a result over ~6 MB could not be returned by Lambda",
    )

    @field_validator("allowed_input_buckets", mode="before")
    @classmethod
    def _split(cls, v: object) -> object:
        if isinstance(v, str):
            return split_rules(v)
        return v

    @model_validator(mode="after")
    def _check_input_rules(self) -> ApiSettings:
        try:
            self.input_rules()
        except ValueError as e:
            raise ValueError(f"DIARIST_ALLOWED_INPUT_BUCKETS: {e}") from None
        return self

    def input_rules(self) -> tuple[InputBucketRule, ...]:
        """``allowed_input_buckets`` parsed (``domain.input_buckets``); checked at start-up."""
        return parse_rules(self.allowed_input_buckets, media_bucket=self.media_bucket)


class LauncherSettings(_Base):
    launcher: Literal["batch", "ecs", "local"]
    batch_job_queue: str | None = None
    batch_job_definition: str | None = None
    ecs_cluster: str | None = None
    ecs_task_definition: str | None = None
    ecs_subnets: Annotated[list[str], NoDecode] = Field(default_factory=list)
    ecs_container_name: str = "worker"
    local_launch_dir: str | None = Field(default=None, description="local mode: where launch requests go")

    @field_validator("ecs_subnets", mode="before")
    @classmethod
    def _split(cls, v: object) -> object:
        if isinstance(v, str):
            return [b.strip() for b in v.split(",") if b.strip()]
        return v

    def model_post_init(self, __context: object) -> None:
        needed = {
            "batch": ("batch_job_queue", "batch_job_definition"),
            "ecs": ("ecs_cluster", "ecs_task_definition"),
            "local": ("local_launch_dir",),
        }[self.launcher]
        missing = [f"DIARIST_{n.upper()}" for n in needed if not getattr(self, n)]
        if missing:
            raise ValueError(f"launcher={self.launcher} needs {', '.join(missing)}")


class DispatcherSettings(StoreSettings, QueueSettings, LauncherSettings, WorkQueueSettings, FleetSettings):
    """The job queue's consumer: puts each job on the work queue and keeps the worker fleet big
    enough. ``job_queue_url``: a throttled launch delays its own message."""

    launch_claim_stale_s: int = Field(
        default=300,
        ge=30,
        description="A launch claim older than this (its dispatcher died mid-launch) may be taken over; "
        "keep it above the dispatcher function's timeout",
    )


class SigningSecretSettings(_Base):
    """Where the tenants' webhook signing secrets live (delivery, the API-key CLI, local mode)."""

    webhook_secret_prefix: str = WEBHOOK_SECRET_PREFIX


class WebhookSettings(StoreSettings, EventSettings, NetworkPolicySettings, SigningSecretSettings):
    webhook_queue_url: str
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=60)
    webhook_retry_delays_s: Annotated[list[int], NoDecode] = Field(default_factory=lambda: [0, 60, 300])

    @field_validator("webhook_retry_delays_s", mode="before")
    @classmethod
    def _split(cls, v: object) -> object:
        if isinstance(v, str):
            return [int(x) for x in v.split(",") if x.strip()]
        return v


class DispatchDlqSettings(StoreSettings, EventSettings):
    """The dispatcher's DLQ consumer: fails the job of a message that kept failing."""


class BatchEventsSettings(StoreSettings, EventSettings):
    """Batch job state changes: fails jobs whose container died without reporting."""


class IngestSettings(StoreSettings, QueueSettings, EventSettings, NetworkPolicySettings):
    """S3-upload trigger. The event bus is for jobs that fail at once (bad object metadata)."""


class SweeperSettings(
    StoreSettings, QueueSettings, EventSettings, FleetSettings, LauncherSettings, WorkQueueSettings
):
    """The sweeper (``services.sweeper``): deadlines per state, after which a job is resolved. With
    a launcher it asks about the worker of a silent job, resumes a job whose worker is gone, and
    keeps the fleet big enough for the waiting jobs."""

    launcher: Literal["batch", "ecs", "local"] | None = None  # type: ignore[assignment]
    work_queue_url: str | None = None  # type: ignore[assignment]
    sweep_max_worker_takes: int = Field(
        default=3,
        ge=1,
        le=100,
        description="resume a job whose worker vanished until it was taken this often",
    )
    sweep_max_worker_start_failures: int = Field(
        default=3,
        ge=1,
        le=100,
        description="fail the waiting jobs worker_start_failed after this many worker starts failed in a row",
    )

    def model_post_init(self, __context: object) -> None:
        if self.launcher is not None:
            super().model_post_init(__context)

    sweep_interval_s: float = Field(
        default=10.0, gt=0, le=3600, description="local mode: run the sweeper this often (AWS: the schedule)"
    )
    sweep_outbox_after_s: float = Field(
        default=10.0, ge=1, description="publish a completion event still owed after this long"
    )
    sweep_pending_after_s: float = Field(
        default=300.0, ge=30, description="requeue a pending job not launched after this long"
    )
    sweep_max_requeues: int = Field(
        default=3, ge=0, le=100, description="... this many times, then fail it launch_failed"
    )
    sweep_capacity_timeout_s: float = Field(
        default=3600.0,
        ge=60,
        description="fail a created job (no GPU capacity came) after this long: no_capacity",
    )
    sweep_worker_lost_after_s: float = Field(
        default=600.0,
        ge=30,
        description="fail a running job with no write (heartbeat) for this long: worker_lost; keep it "
        "well above the worker's DIARIST_PROGRESS_INTERVAL_S",
    )
    launch_claim_stale_s: int = Field(
        default=300, ge=30, description="the dispatcher's: a younger launch claim means a launch is under way"
    )


class WorkerSettings(StoreSettings, EventSettings, NetworkPolicySettings):
    engine: Literal["pyannote", "fake"] = Field(
        default="pyannote", description="fake = diarist.testing.fake_engine (local-mode tests)"
    )
    progress_interval_s: float = Field(default=10.0, gt=0, description="progress write at most this often")
    progress_min_step: int = Field(default=5, ge=1, le=100, description="... or when this many % were gained")
    worker_stale_s: float = Field(
        default=120.0,
        gt=0,
        description="a running job whose worker wrote nothing for this long may be taken over by another "
        "worker that receives its message (the holder died); keep it well above DIARIST_PROGRESS_INTERVAL_S",
    )


class DrainSettings(WorkerSettings, WorkQueueSettings, FleetSettings):
    """``diarist worker --drain``: one warm worker taking jobs from the work queue."""

    worker_id: str | None = Field(default=None, description="set by the launcher; a random one otherwise")
    idle_timeout_s: float = Field(default=120.0, gt=0, description="exit after this long without a job")
    max_lifetime_s: float = Field(
        default=6 * 3600.0, gt=0, description="take no new job after this long (then exit)"
    )
    poll_wait_s: float = Field(default=10.0, ge=0, le=20, description="long-polling wait of one receive")
    message_visibility_s: int = Field(
        default=120,
        ge=1,
        le=43200,
        description="the job's message stays invisible this long from each heartbeat (a worker that died "
        "lets it come back after at most this)",
    )
    worker_log_prefix: str | None = Field(
        default=None, description="AWS: the awslogs stream prefix and container name ('worker/default')"
    )
    worker_current_file: str | None = Field(
        default=None,
        description="local mode: the worker writes the id of the job it runs here (a crash is then "
        "reported against that job)",
    )
    worker_log_file: str | None = Field(default=None, description="local mode: the worker's log file")
    batch_job_id: str | None = Field(
        default=None, validation_alias="AWS_BATCH_JOB_ID", description="set by AWS Batch in the container"
    )
    ecs_metadata_uri: str | None = Field(
        default=None,
        validation_alias="ECS_CONTAINER_METADATA_URI_V4",
        description="set by ECS: the task metadata endpoint (the log stream's task id)",
    )


S = TypeVar("S", bound=BaseSettings)
T = TypeVar("T")


@cache
def load(cls: type[S]) -> S:
    """Read and check settings once per warm container. Raises with the missing variables' names."""
    return cls()


_BUILT: dict[tuple[type, Callable[..., Any]], tuple[BaseSettings, Any]] = {}


def per_settings(cls: type[S], build: Callable[[S], T]) -> T:
    """``build(settings)`` once per warm container, and again when the settings were reloaded
    (``load.cache_clear()``: tests and local mode switching environments)."""
    settings = load(cls)
    cached = _BUILT.get((cls, build))
    if cached is None or cached[0] is not settings:
        cached = (settings, build(settings))
        _BUILT[(cls, build)] = cached
    return cached[1]


def forget_built() -> None:
    """Drop everything ``per_settings`` built (tests that switch environments)."""
    _BUILT.clear()
