"""``DiaristServiceProps``: everything a platform team can tune, with defaults that deploy as-is."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_lambda as lambda_

from diarist import resources
from diarist.domain.input_buckets import parse_rules
from diarist.domain.limits import MAX_ACTIVE_JOBS_LIMIT, MAX_LIMIT, limit_problem
from diarist.domain.model_choice import (
    COMMUNITY_1,
    DEFAULT_EMBEDDING_MODEL_ID,
    DEFAULT_ENGINE,
    DeploymentEngine,
)
from diarist.domain.transcription import ASR_MODELS, DEFAULT_ASR, DeploymentAsr
from infra.packaging import REPO_ROOT

COMMUNITY_PIPELINE = "pyannote/speaker-diarization-community-1"  # the worker Dockerfile's HF_PIPELINE


@dataclass(frozen=True)
class ApiProps:
    """API Gateway throttling, quotas and the optional custom domain.

    Throttling applies to every request at the stage, so excess load gets a 429 from API Gateway
    before any Lambda runs. Quotas are counted per API Gateway API key: they are enforced only with
    ``require_api_gateway_key=True`` (callers then send ``x-api-key`` in addition to their Diarist
    bearer key, which the API function checks).
    """

    rate_limit: float = 20.0  # steady requests per second for the whole stage
    burst_limit: int = 40
    quota_per_day: int | None = 100_000
    require_api_gateway_key: bool = False
    stage_name: str = "prod"
    domain_name: str | None = None  # e.g. diarist.example.com
    certificate_arn: str | None = None  # ACM certificate in the stack's region (REGIONAL endpoint)
    hosted_zone_id: str | None = None  # Route 53 zone for the alias record (optional)
    hosted_zone_name: str | None = None
    web_acl_arn: str | None = None  # an existing WAFv2 web ACL (REGIONAL) to associate
    reserved_concurrency: int | None = None  # cap on API Lambda concurrency (None: account pool)
    # per-tenant limit defaults (diarist.settings.TenantLimitSettings; 0 = no limit; None: the
    # settings' defaults); a tenant's own override (diarist tenants set-limits) wins
    max_active_jobs_per_tenant: int | None = None
    requests_per_minute_per_tenant: int | None = None

    def __post_init__(self) -> None:
        for name, value, maximum in (
            ("maxActiveJobsPerTenant", self.max_active_jobs_per_tenant, MAX_ACTIVE_JOBS_LIMIT),
            ("requestsPerMinutePerTenant", self.requests_per_minute_per_tenant, MAX_LIMIT),
        ):
            problem = None if value is None else limit_problem(name, value, maximum)
            if problem:
                raise ValueError(problem)

    @property
    def tenant_limit_environment(self) -> dict[str, str]:
        """The API function's ``DIARIST_*`` for the limit defaults that were set."""
        env = {}
        if self.max_active_jobs_per_tenant is not None:
            env["DIARIST_MAX_ACTIVE_JOBS_PER_TENANT"] = str(self.max_active_jobs_per_tenant)
        if self.requests_per_minute_per_tenant is not None:
            env["DIARIST_REQUESTS_PER_MINUTE_PER_TENANT"] = str(self.requests_per_minute_per_tenant)
        return env


@dataclass(frozen=True)
class GpuProps:
    """AWS Batch GPU capacity. Minimum vCPUs are always 0: no job, no instance, no cost."""

    instance_types: tuple[str, ...] = ("g6.xlarge", "g5.xlarge")
    spot: bool = True  # a spot compute environment, first in the job queue
    on_demand_fallback: bool = True  # an on-demand compute environment, second in the job queue
    max_vcpus: int = 16  # per compute environment: 4 xlarge instances (1 GPU each)
    on_demand_max_vcpus: int | None = None  # None: same as max_vcpus
    spot_bid_percentage: int | None = None  # None: pay up to the on-demand price
    job_vcpus: float = 4
    job_memory_mib: int = 14_336  # fits a 16 GiB xlarge after the ECS agent's reservation
    job_gpus: int = 1
    # a Batch job is one drain worker (``diarist worker --drain``): it takes jobs from the work
    # queue until idle for ``worker_idle_timeout``, and takes no new one after ``worker_max_lifetime``
    job_timeout: Duration = field(default_factory=lambda: Duration.hours(6))  # above max lifetime + a job
    worker_idle_timeout: Duration = field(default_factory=lambda: Duration.minutes(2))
    worker_max_lifetime: Duration | None = None  # None: job_timeout - 2 h (at least half of it)
    max_workers: int | None = None  # None: as many as max_vcpus holds (max_vcpus // job_vcpus)
    jobs_per_worker: int = 1  # the backlog one worker is expected to take before another is launched
    job_attempts: int = 3  # attempts in total; only spot reclaims ("Host EC2*") are retried
    root_volume_gib: int = 100  # the image (CUDA, torch, weights) plus scratch audio
    max_runnable_wait: Duration = field(default_factory=lambda: Duration.hours(6))


@dataclass(frozen=True)
class DiaristServiceProps:
    """Props of the ``DiaristService`` construct. Every field has a working default."""

    # Network: None creates a VPC with public subnets only (no NAT gateway to pay for while idle;
    # the instances get public IPs and a security group with no inbound rule) plus free S3 and
    # DynamoDB gateway endpoints. Pass an existing VPC (and subnets) to use yours.
    vpc: ec2.IVpc | None = None
    vpc_subnets: ec2.SubnetSelection | None = None
    max_azs: int = 3
    gpu: GpuProps = field(default_factory=GpuProps)
    api: ApiProps = field(default_factory=ApiProps)
    # Data.
    retention_days: int = resources.RESULT_RETENTION_DAYS_DEFAULT  # media, incoming/ and results expire
    # s3:// input rules (diarist.domain.input_buckets), each saying who may read: per-tenant folders
    # "bucket/prefix/{tenant}/", named tenants "bucket/prefix/=acme+globex", every tenant "bucket=*"
    allowed_input_buckets: tuple[str, ...] = ()
    webhook_secret_prefix: str = resources.WEBHOOK_SECRET_PREFIX  # Secrets Manager names: <prefix><tenant>
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN  # table and buckets
    log_retention_days: int = 30
    # Operations.
    alarm_email: str | None = None  # subscribed to the alarm topic (confirm the e-mail once)
    # Code: None builds the Lambda asset (infra.packaging) and the worker image from the repository.
    lambda_code: lambda_.Code | None = None
    worker_image: ecs.ContainerImage | None = None  # e.g. ecs.ContainerImage.from_registry(uri)
    source_root: Path = REPO_ROOT  # a Diarist checkout: functions/, src/, containers/gpu-worker/
    worker_dockerfile: str = "containers/gpu-worker/Dockerfile"  # relative to source_root (context)
    # docker build --build-arg / --secret for the worker image, e.g. the pyannote community-1 weights:
    # worker_build_args={"WEIGHTS": "hf"}, worker_build_secrets={"hf_token": "env=HF_TOKEN"}
    worker_build_args: Mapping[str, str] = field(default_factory=dict)
    worker_build_secrets: Mapping[str, str] = field(default_factory=dict)
    # What the worker image runs, told to the API (DIARIST_ENGINE_MODEL) so that a job naming another
    # pyannoteAI model gets a warning. None: from worker_build_args (WEIGHTS=hf with the default
    # HF_PIPELINE is community-1); set it when worker_image is a prebuilt image.
    engine_model: DeploymentEngine | None = None
    # The embedding model id of the worker image's weights, told to the API (DIARIST_EMBEDDING_MODEL_ID)
    # so that it refuses voiceprints of any other model at submission. None: the pinned CAM++ weights'
    # id (the default image). An image with other weights (WEIGHTS=hf) must say which: docs/deploy.md.
    embedding_model_id: str | None = None
    # The faster-whisper model the worker image runs, told to the API (DIARIST_TRANSCRIPTION_MODEL) so
    # that a job naming another transcription model gets a warning. None: from worker_build_args
    # (TRANSCRIPTION_MODEL, the Dockerfile's build argument; default faster-whisper-base).
    transcription_model: DeploymentAsr | None = None

    @property
    def deployment_transcription_model(self) -> DeploymentAsr:
        if self.transcription_model is not None:
            return self.transcription_model
        arg = self.worker_build_args.get("TRANSCRIPTION_MODEL")
        if self.worker_image is None and arg in ASR_MODELS:
            return arg
        return DEFAULT_ASR

    @property
    def deployment_embedding_model(self) -> str:
        return self.embedding_model_id or DEFAULT_EMBEDDING_MODEL_ID

    @property
    def deployment_engine(self) -> DeploymentEngine:
        if self.engine_model is not None:
            return self.engine_model
        args = self.worker_build_args
        pipeline = args.get("HF_PIPELINE", COMMUNITY_PIPELINE)
        if self.worker_image is None and args.get("WEIGHTS") == "hf" and pipeline == COMMUNITY_PIPELINE:
            return COMMUNITY_1
        return DEFAULT_ENGINE

    def __post_init__(self) -> None:
        if self.embedding_model_id is not None and not re.fullmatch(
            r"[A-Za-z0-9._:+-]{1,64}", self.embedding_model_id
        ):
            raise ValueError("embedding_model_id: 1-64 characters of [A-Za-z0-9._:+-] (see docs/deploy.md)")
        if not (self.gpu.spot or self.gpu.on_demand_fallback):
            raise ValueError("at least one of gpu.spot and gpu.on_demand_fallback must be true")
        if not 1 <= self.retention_days <= 3650:
            raise ValueError("retention_days must be between 1 and 3650")
        if self.gpu.max_vcpus < self.gpu.job_vcpus:
            raise ValueError("gpu.max_vcpus is smaller than one job's vCPUs: no job could ever run")
        lifetime = self.gpu.worker_max_lifetime
        if lifetime is not None and lifetime.to_seconds() >= self.gpu.job_timeout.to_seconds():
            raise ValueError(
                "gpu.worker_max_lifetime must be shorter than gpu.job_timeout (a job runs after it)"
            )
        if bool(self.api.domain_name) != bool(self.api.certificate_arn):
            raise ValueError("api.domain_name and api.certificate_arn go together")
        if bool(self.api.hosted_zone_id) != bool(self.api.hosted_zone_name):
            raise ValueError("api.hosted_zone_id and api.hosted_zone_name go together")
        if self.api.hosted_zone_id and not self.api.domain_name:
            raise ValueError("a hosted zone needs api.domain_name")
        parse_rules(self.allowed_input_buckets)  # ValueError: which rule, and how to write it
