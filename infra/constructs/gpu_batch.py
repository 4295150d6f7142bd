"""AWS Batch on GPU instances: spot first, on-demand second, zero instances while idle.

- Compute environments use the ECS GPU AMI (``ECS_AL2023_NVIDIA``) and min vCPUs 0.
  Spot uses SPOT_PRICE_CAPACITY_OPTIMIZED (pools least likely to be reclaimed, then cheapest);
  on-demand uses BEST_FIT_PROGRESSIVE (falls through to the next listed instance type when the
  first has no capacity).
- The job queue tries the spot environment first and the on-demand one second, and cancels a job
  stuck RUNNABLE because no instance could ever fit it (misconfiguration) or none was available
  for ``max_runnable_wait``; the batch-events function then marks the job failed.
- The job definition asks for one GPU, retries only when the host went away (spot reclaim:
  status reason "Host EC2 (instance i-...) terminated.") and exits on anything else, so a bad
  file is not diarized three times.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy, Size
from aws_cdk import aws_batch as batch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constructs.function import _retention
from infra.props import GpuProps

SPOT_RECLAIM_STATUS_REASON = "Host EC2*"


class GpuBatch(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        props: GpuProps,
        vpc: ec2.IVpc,
        vpc_subnets: ec2.SubnetSelection,
        image: ecs.ContainerImage,
        environment: Mapping[str, str],
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, id)
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
                vpc=vpc,
                vpc_subnets=vpc_subnets,
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

        self.log_group = logs.LogGroup(
            self, "WorkerLogs", retention=_retention(log_retention_days), removal_policy=RemovalPolicy.DESTROY
        )
        # The worker's AWS permissions; the service adds statements (table, buckets, event bus).
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
            # The dispatcher overrides the command per job (container overrides); these parameter
            # placeholders only matter if a job is submitted by hand with parameters jobId/tenantId.
            command=["diarist", "worker", "--job-id", "Ref::jobId", "--tenant-id", "Ref::tenantId"],
            environment=dict(environment),
            job_role=self.job_role,
            logging=ecs.LogDriver.aws_logs(stream_prefix="worker", log_group=self.log_group),
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
