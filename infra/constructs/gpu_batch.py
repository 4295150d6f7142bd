"""AWS Batch on GPU instances: spot first, on-demand second, zero instances while idle.

- Compute environments use the ECS GPU AMI (``ECS_AL2023_NVIDIA``) and min vCPUs 0.
  Spot uses SPOT_PRICE_CAPACITY_OPTIMIZED (pools least likely to be reclaimed, then cheapest);
  on-demand uses BEST_FIT_PROGRESSIVE (falls through to the next listed instance type when the
  first has no capacity).
- The job queue tries the spot environment first and the on-demand one second, and cancels a job
  stuck RUNNABLE because no instance could ever fit it (misconfiguration) or none was available
  for ``max_runnable_wait``; the batch-events function then marks the job failed.
- A Batch job is one drain worker (``diarist worker --drain``): it loads the model once, takes
  jobs from the **work queue** (owned here: the worker is its consumer) until idle for
  ``worker_idle_timeout`` or older than ``worker_max_lifetime``, so the fleet scales to zero. The
  dispatcher launches workers (``grant_submit``) and sends work (``grant_enqueue_work``); the
  worker's job id, its log stream and its fleet entry are recorded on each job it takes.
- The job definition asks for one GPU, retries only when the host went away (spot reclaim:
  status reason "Host EC2 (instance i-...) terminated.") and exits on anything else.
- The worker's image is a prebuilt one or built at ``cdk deploy`` from the repository
  (``WorkerImageBuild``); its environment is diarist.settings.WorkerSettings with
  ``DIARIST_DEVICE=cuda`` and ``POWERTOOLS_SERVICE_NAME=diarist-worker``.
- The worker's job role gets exactly: the table, job events, input media (and the operator's
  extra input buckets) read, results written. Others reach the Batch job queue only through
  ``grant_submit`` and ``grant_terminate``; ``launcher_environment`` names what they reach.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aws_cdk import Duration, IgnoreMode, RemovalPolicy, Size, Stack
from aws_cdk import aws_batch as batch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from diarist import resources
from diarist.domain.launches import LAUNCH_TAG_KEYS, TAG_JOB_QUEUE
from infra import table_access
from infra.constructs.eventbridge import bus_environment
from infra.constructs.function import log_retention, observability_environment
from infra.constructs.network import Network
from infra.constructs.queues import work_queue
from infra.constructs.storage import Storage, grant_extra_inputs
from infra.nag import arn_finding, suppress
from infra.props import GpuProps

SPOT_RECLAIM_STATUS_REASON = "Host EC2*"
WORKER_SERVICE = "diarist-worker"  # POWERTOOLS_SERVICE_NAME; the image's default too
WORKER_COMMAND = ["diarist", "worker", "--drain"]
WORKER_LOG_STREAM_PREFIX = "worker"  # Batch names a job's stream <prefix>/default/<ECS task id>
# A drain worker keeps the message of the job it runs invisible (heartbeat every third of this);
# one that dies lets it come back after at most this. The queue's own visibility is the same.
WORK_MESSAGE_VISIBILITY = Duration.minutes(2)
# The worker image's build context is the repository root, but only what its Dockerfile COPYs
# goes in (Docker ignore syntax: exclude everything, re-include these). Keeps the context small
# and the image's asset hash stable: editing functions/, tests/ or docs/ does not rebuild it.
# tests/infra checks this list against the Dockerfile's COPY lines.
WORKER_CONTEXT_INCLUDES = ("pyproject.toml", "README.md", "src", "scripts/fetch_weights.py")
WORKER_CONTEXT_EXCLUDES = (
    "*",
    *(f"!{p}" for p in WORKER_CONTEXT_INCLUDES),
    "src/*.egg-info",
    "**/__pycache__",
    "**/*.pyc",
)

INSTANCE_ROLE_REASON = (
    "AmazonEC2ContainerServiceforEC2Role is the instance role AWS Batch documents for ECS "
    "compute environments (ECS agent registration, image pull, logs); the container itself "
    "runs with the separate, least-privilege job role and cannot reach the instance role (IMDSv2, hop limit 1)."
)
IMAGE_PULL_REASON = (
    "ecr:GetAuthorizationToken supports no resource-level permissions (the image pull itself "
    "is limited to the asset repository)."
)
BATCH_JOB_REASON = (
    "batch:TerminateJob (cancel) and batch:TagResource (SubmitJob with the Diarist tags) take a job "
    "ARN, which exists only after SubmitJob: job/* in this account and region, narrowed by "
    "conditions: TerminateJob only on jobs tagged diarist:job-queue=<this stack's queue ARN>, "
    "TagResource only with the Diarist tag keys and that tag value. SubmitJob itself is limited "
    "to this stack's job queue and job definition."
)


def worker_max_lifetime_s(props: GpuProps) -> int:
    """After this a worker takes no new job: the Batch job timeout minus 2 h for the last job
    (at least half the timeout), unless set."""
    if props.worker_max_lifetime is not None:
        return int(props.worker_max_lifetime.to_seconds())
    timeout = props.job_timeout.to_seconds()
    return int(max(timeout / 2, timeout - 7200))


@dataclass(frozen=True)
class WorkerImageBuild:
    """The worker image built from a Diarist checkout at ``cdk deploy`` (Docker runs then, not at
    synth); see containers/gpu-worker/README.md. ``dockerfile`` is relative to ``source_root``,
    the build context."""

    source_root: Path
    dockerfile: str
    build_args: Mapping[str, str] = field(default_factory=dict)
    build_secrets: Mapping[str, str] = field(default_factory=dict)


class GpuBatch(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        props: GpuProps,
        network: Network,
        image: ecs.ContainerImage | WorkerImageBuild,
        storage: Storage,
        bus: events.IEventBus,
        extra_input_buckets: tuple[str, ...],
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, id)
        self.worker_asset: ecr_assets.DockerImageAsset | None = None  # set when built here
        if isinstance(image, WorkerImageBuild):
            image = self._build_image(image)
        instance_types = [ec2.InstanceType(t) for t in props.instance_types]
        images = [batch.EcsMachineImage(image_type=batch.EcsMachineImageType.ECS_AL2023_NVIDIA)]

        # IMDSv2 only, hop limit 1: containers use the job role, never the instance's.
        # A bigger encrypted root volume: AL2023 keeps Docker images on it and ours is large.
        self.launch_template = ec2.LaunchTemplate(
            self,
            "LaunchTemplate",
            require_imdsv2=True,
            http_put_response_hop_limit=1,
            block_devices=[
                ec2.BlockDevice(
                    device_name="/dev/xvda",
                    volume=ec2.BlockDeviceVolume.ebs(
                        props.root_volume_gib, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3
                    ),
                )
            ],
        )

        # One instance role for both environments: the ECS agent's managed policy, nothing more.
        self.instance_role = iam.Role(
            self,
            "InstanceRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(
                    "service-role/AmazonEC2ContainerServiceforEC2Role"
                )
            ],
        )

        def environment_(name: str, *, spot: bool, max_vcpus: int) -> batch.ManagedEc2EcsComputeEnvironment:
            return batch.ManagedEc2EcsComputeEnvironment(
                self,
                name,
                vpc=network.vpc,
                vpc_subnets=network.subnets,
                spot=spot,
                spot_bid_percentage=props.spot_bid_percentage if spot else None,
                allocation_strategy=(
                    batch.AllocationStrategy.SPOT_PRICE_CAPACITY_OPTIMIZED
                    if spot
                    else batch.AllocationStrategy.BEST_FIT_PROGRESSIVE
                ),
                instance_types=instance_types,
                use_optimal_instance_classes=False,  # "optimal" means CPU instances
                images=images,
                minv_cpus=0,
                maxv_cpus=max_vcpus,
                launch_template=self.launch_template,
                instance_role=self.instance_role,
                update_to_latest_image_version=True,
                terminate_on_update=False,  # never kill running jobs on a deploy
                replace_compute_environment=False,
            )

        ordered: list[batch.OrderedComputeEnvironment] = []
        self.spot_environment: batch.ManagedEc2EcsComputeEnvironment | None = None
        self.on_demand_environment: batch.ManagedEc2EcsComputeEnvironment | None = None
        if props.spot:
            self.spot_environment = environment_("Spot", spot=True, max_vcpus=props.max_vcpus)
            ordered.append(
                batch.OrderedComputeEnvironment(compute_environment=self.spot_environment, order=1)
            )
        if props.on_demand_fallback:
            self.on_demand_environment = environment_(
                "OnDemand", spot=False, max_vcpus=props.on_demand_max_vcpus or props.max_vcpus
            )
            ordered.append(
                batch.OrderedComputeEnvironment(compute_environment=self.on_demand_environment, order=2)
            )

        cancel = batch.JobStateTimeLimitActionsAction.CANCEL
        runnable = batch.JobStateTimeLimitActionsState.RUNNABLE
        self.job_queue = batch.JobQueue(
            self,
            "JobQueue",
            priority=1,
            compute_environments=ordered,
            job_state_time_limit_actions=[
                batch.JobStateTimeLimitAction(
                    action=cancel,
                    state=runnable,
                    max_time=Duration.minutes(10),
                    reason=batch.JobStateTimeLimitActionsReason.JOB_RESOURCE_REQUIREMENT,
                ),
                batch.JobStateTimeLimitAction(
                    action=cancel,
                    state=runnable,
                    max_time=props.max_runnable_wait,
                    reason=batch.JobStateTimeLimitActionsReason.INSUFFICIENT_INSTANCE_CAPACITY,
                ),
                batch.JobStateTimeLimitAction(
                    action=cancel,
                    state=runnable,
                    max_time=props.max_runnable_wait,
                    reason=batch.JobStateTimeLimitActionsReason.COMPUTE_ENVIRONMENT_MAX_RESOURCE,
                ),
            ],
        )

        work = work_queue(
            self, "Work", consumer_timeout=Duration.seconds(WORK_MESSAGE_VISIBILITY.to_seconds() // 6)
        )
        self.work_queue, self.work_dlq = work.queue, work.dlq
        # the short lane (domain.lanes): inputs known to be short; workers look at it first
        short = work_queue(
            self, "ShortWork", consumer_timeout=Duration.seconds(WORK_MESSAGE_VISIBILITY.to_seconds() // 6)
        )
        self.short_work_queue, self.short_work_dlq = short.queue, short.dlq
        max_workers = props.max_workers or max(1, int(props.max_vcpus // props.job_vcpus))
        self.fleet_environment = {
            "DIARIST_WORK_QUEUE_URL": self.work_queue.queue_url,
            "DIARIST_SHORT_WORK_QUEUE_URL": self.short_work_queue.queue_url,
            "DIARIST_FLEET_MAX_WORKERS": str(max_workers),
            "DIARIST_FLEET_JOBS_PER_WORKER": str(props.jobs_per_worker),
        }

        self.log_group = logs.LogGroup(
            self,
            "WorkerLogs",
            retention=log_retention(log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.job_role = iam.Role(
            self,
            "JobRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="Diarist GPU worker: job table, input media, results, job events",
        )
        self.container = batch.EcsEc2ContainerDefinition(
            self,
            "Worker",
            image=image,
            gpu=props.job_gpus,
            cpu=props.job_vcpus,
            memory=Size.mebibytes(props.job_memory_mib),
            # the dispatcher launches workers with the same command (container overrides)
            command=WORKER_COMMAND,
            environment={
                **storage.environment,
                **observability_environment(WORKER_SERVICE),
                **bus_environment(bus),
                **self.fleet_environment,
                "DIARIST_IDLE_TIMEOUT_S": str(int(props.worker_idle_timeout.to_seconds())),
                "DIARIST_MAX_LIFETIME_S": str(worker_max_lifetime_s(props)),
                "DIARIST_POLL_WAIT_S": "20",
                "DIARIST_MESSAGE_VISIBILITY_S": str(int(WORK_MESSAGE_VISIBILITY.to_seconds())),
                "DIARIST_WORKER_LOG_PREFIX": f"{WORKER_LOG_STREAM_PREFIX}/default",
                # cuda, not the image's "auto": on a GPU host without a usable GPU, fail fast
                # instead of diarizing on CPU until the timeout.
                "DIARIST_DEVICE": "cuda",
                "PYANNOTE_METRICS_ENABLED": "0",
            },
            job_role=self.job_role,
            logging=ecs.LogDriver.aws_logs(stream_prefix=WORKER_LOG_STREAM_PREFIX, log_group=self.log_group),
        )
        self.job_definition = batch.EcsJobDefinition(
            self,
            "JobDefinition",
            container=self.container,
            timeout=props.job_timeout,
            retry_attempts=props.job_attempts,
            retry_strategies=[
                batch.RetryStrategy.of(
                    batch.Action.RETRY, batch.Reason.custom(on_status_reason=SPOT_RECLAIM_STATUS_REASON)
                ),
                batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.custom(on_reason="*")),
            ],
            propagate_tags=True,
        )
        suppress(
            self.instance_role,
            "AwsSolutions-IAM4",
            INSTANCE_ROLE_REASON,
            ["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"],
        )
        suppress(self.container.execution_role, "AwsSolutions-IAM5", IMAGE_PULL_REASON, ["Resource::*"])

        # The worker: the work queue (receive, keep invisible, give back, delete); the records of
        # the jobs it takes and its fleet entry; the jobs' completion events; inputs read (media/
        # and incoming/, the operator's extra buckets), results written.
        self.work_queue.grant_consume_messages(self.job_role)
        self.short_work_queue.grant_consume_messages(self.job_role)
        storage.grant_table(self.job_role, table_access.WORKER)
        bus.grant_put_events_to(self.job_role)
        storage.grant_objects(
            self.job_role,
            storage.media_bucket,
            ["s3:GetObject"],
            resources.MEDIA_PREFIX,
            resources.INCOMING_PREFIX,
        )
        grant_extra_inputs(self.job_role, extra_input_buckets)
        storage.grant_objects(
            self.job_role,
            storage.results_bucket,
            ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
            resources.RESULTS_PREFIX,
        )

    def grant_enqueue_work(self, role: iam.IRole) -> None:
        """Send jobs to the drain workers, on either lane (the dispatcher, the sweeper)."""
        self.work_queue.grant_send_messages(role)
        self.short_work_queue.grant_send_messages(role)

    @property
    def launcher_environment(self) -> dict[str, str]:
        """diarist.settings.LauncherSettings for launching (and terminating) jobs on this queue."""
        return {
            "DIARIST_LAUNCHER": "batch",
            "DIARIST_BATCH_JOB_QUEUE": self.job_queue.job_queue_arn,
            "DIARIST_BATCH_JOB_DEFINITION": self.job_definition.job_definition_arn,
        }

    def grant_submit(self, role: iam.IRole) -> None:
        """SubmitJob to this job queue with this job definition only, tagging the job with its
        Diarist ids and this queue (SubmitJob with tags needs batch:TagResource on the new job):
        only the Diarist tag keys, and the queue tag only with this queue's ARN."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["batch:SubmitJob"],
                resources=[self.job_queue.job_queue_arn, self.job_definition.job_definition_arn],
            )
        )
        self._grant_on_jobs(
            role,
            "batch:TagResource",
            {
                "StringEquals": {f"aws:RequestTag/{TAG_JOB_QUEUE}": self.job_queue.job_queue_arn},
                "ForAllValues:StringEquals": {"aws:TagKeys": list(LAUNCH_TAG_KEYS)},
            },
        )

    def grant_terminate(self, role: iam.IRole) -> None:
        """TerminateJob (the sweeper stops a worker it gave up on), only on jobs this stack's
        launcher submitted: tagged ``diarist:job-queue`` = this job queue's ARN (``domain.launches``)."""
        self._grant_on_jobs(
            role,
            "batch:TerminateJob",
            {"StringEquals": {f"aws:ResourceTag/{TAG_JOB_QUEUE}": self.job_queue.job_queue_arn}},
        )

    def _grant_on_jobs(self, role: iam.IRole, action: str, conditions: dict[str, Any]) -> None:
        # A job's ARN is unknown until submit: job/* in this account and region, narrowed by
        # the tag conditions.
        jobs = Stack.of(self).format_arn(service="batch", resource="job", resource_name="*")
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=[action], resources=[jobs], conditions=conditions)
        )
        suppress(role, "AwsSolutions-IAM5", BATCH_JOB_REASON, [arn_finding("batch", r"job/\*")])

    def _build_image(self, build: WorkerImageBuild) -> ecs.ContainerImage:
        dockerfile = build.source_root / build.dockerfile
        if not dockerfile.is_file():
            raise FileNotFoundError(
                f"worker Dockerfile not found: {dockerfile}. Build files come with the repository "
                "(containers/gpu-worker/); or pass DiaristServiceProps(worker_image=...) with a prebuilt image."
            )
        self.worker_asset = ecr_assets.DockerImageAsset(
            self,
            "WorkerImage",
            directory=str(build.source_root),
            file=build.dockerfile,
            platform=ecr_assets.Platform.LINUX_AMD64,
            ignore_mode=IgnoreMode.DOCKER,
            # The Dockerfile itself too: CDK stages the context in cdk.out and builds from there.
            exclude=[*WORKER_CONTEXT_EXCLUDES, f"!{build.dockerfile}"],
            build_args=dict(build.build_args) or None,
            build_secrets=dict(build.build_secrets) or None,
        )
        return ecs.ContainerImage.from_docker_image_asset(self.worker_asset)
