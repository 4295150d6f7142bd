"""``DiaristService``: the whole service as one L3 construct, for ``app.py`` or any other CDK app.

    from infra.props import DiaristServiceProps, GpuProps
    from infra.service import DiaristService

    svc = DiaristService(stack, "Diarist", DiaristServiceProps(gpu=GpuProps(max_vcpus=32)))
    svc.api.url, svc.storage.table, svc.gpu.job_queue ...

Each function gets a role of its own with only the statements listed in ``_grant_*`` below.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import ArnFormat, Duration, IgnoreMode, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from constructs import Construct

from diarist import resources as R
from infra.constructs.api import Api
from infra.constructs.events import Events
from infra.constructs.function import DiaristFunction, observability_environment
from infra.constructs.gpu_batch import GpuBatch
from infra.constructs.monitoring import Monitoring
from infra.constructs.queues import DISPATCHER_TIMEOUT, INGEST_TIMEOUT, WEBHOOK_TIMEOUT, Queues
from infra.constructs.storage import Storage
from infra.nag import suppress_service_findings
from infra.packaging import build_lambda_asset
from infra.props import DiaristServiceProps

# Each function's POWERTOOLS_SERVICE_NAME, and the worker's (the image's default too).
SERVICE_NAMES = {
    "Api": "diarist-api",
    "Dispatcher": "diarist-dispatcher",
    "DispatchDlq": "diarist-dispatcher-dlq",
    "Ingest": "diarist-ingest",
    "BatchEvents": "diarist-batch-events",
    "Webhook": "diarist-webhook",
}
WORKER_SERVICE = "diarist-worker"
# Handler module paths (the functions themselves are written elsewhere; these paths are fixed).
HANDLERS = {
    "Api": "functions.api.handler.lambda_handler",
    "Dispatcher": "functions.dispatcher.handler.lambda_handler",
    "DispatchDlq": "functions.dispatcher.dlq_handler.lambda_handler",
    "Ingest": "functions.ingest.handler.lambda_handler",
    "BatchEvents": "functions.batch_events.handler.lambda_handler",
    "Webhook": "functions.webhook.handler.lambda_handler",
}
API_TIMEOUT = Duration.seconds(29)  # API Gateway's integration timeout
BATCH_EVENTS_TIMEOUT = Duration.seconds(30)
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


class DiaristService(Construct):
    def __init__(self, scope: Construct, id: str, props: DiaristServiceProps | None = None) -> None:
        super().__init__(scope, id)
        self.props = props = props or DiaristServiceProps()
        self.worker_asset: ecr_assets.DockerImageAsset | None = None  # set when built from the repo
        stack = Stack.of(self)

        self.storage = Storage(
            self, "Storage", retention_days=props.retention_days, removal_policy=props.removal_policy
        )
        self.queues = Queues(self, "Queues")
        self.bus = events.EventBus(self, "Bus", description="Diarist job events (source 'diarist')")
        self.vpc, subnets = self._network()
        self.allowed_input_buckets = (self.storage.media_bucket.bucket_name, *props.allowed_input_buckets)

        store_env = {
            "DIARIST_TABLE_NAME": self.storage.table.table_name,
            "DIARIST_MEDIA_BUCKET": self.storage.media_bucket.bucket_name,
            "DIARIST_RESULTS_BUCKET": self.storage.results_bucket.bucket_name,
            "DIARIST_RETENTION_DAYS": str(props.retention_days),
        }
        bus_env = {"DIARIST_EVENT_BUS_NAME": self.bus.event_bus_name}

        # GPU worker (AWS Batch). Env = diarist.settings.WorkerSettings.
        self.gpu = GpuBatch(
            self,
            "Gpu",
            props=props.gpu,
            vpc=self.vpc,
            vpc_subnets=subnets,
            image=props.worker_image or self._worker_image(),
            # cuda, not the image's "auto": on a GPU host without a usable GPU, fail fast instead
            # of diarizing on CPU until the timeout.
            environment={
                **store_env,
                **observability_environment(WORKER_SERVICE),
                **bus_env,
                "DIARIST_DEVICE": "cuda",
                "PYANNOTE_METRICS_ENABLED": "0",
            },
            log_retention_days=props.log_retention_days,
        )

        code = props.lambda_code or lambda_.Code.from_asset(
            str(build_lambda_asset(root=props.source_root, light=_light_from_context(self)))
        )

        def fn(name: str, env: Mapping[str, str], timeout: Duration, **kw: object) -> DiaristFunction:
            return DiaristFunction(
                self,
                f"{name}Function",
                service=SERVICE_NAMES[name],
                code=code,
                handler=HANDLERS[name],
                environment={**store_env, **env},
                timeout=timeout,
                log_retention_days=props.log_retention_days,
                **kw,  # type: ignore[arg-type]
            )

        # Env of each function = the settings class it loads (diarist.settings).
        public_url = f"https://{props.api.domain_name}" if props.api.domain_name else None
        launcher_env = {
            "DIARIST_LAUNCHER": "batch",
            "DIARIST_BATCH_JOB_QUEUE": self.gpu.job_queue.job_queue_arn,
            "DIARIST_BATCH_JOB_DEFINITION": self.gpu.job_definition.job_definition_arn,
        }
        webhook_env = {
            "DIARIST_WEBHOOK_QUEUE_URL": self.queues.webhooks.queue.queue_url,
            "DIARIST_WEBHOOK_SECRET_PREFIX": props.webhook_secret_prefix,
        }
        self.api_function = fn(
            "Api",
            {
                "DIARIST_JOB_QUEUE_URL": self.queues.jobs.queue.queue_url,
                **bus_env,
                "DIARIST_ALLOWED_INPUT_BUCKETS": ",".join(self.allowed_input_buckets),
                **({"DIARIST_PUBLIC_BASE_URL": public_url} if public_url else {}),
                **launcher_env,  # cancel terminates the Batch job
                **webhook_env,  # POST /v1/jobs/{id}/webhook re-queues a delivery
            },
            API_TIMEOUT,
            description="Diarist REST API (API Gateway proxy)",
            memory_size=1024,
            reserved_concurrency=props.api.reserved_concurrency,
        )
        self.dispatcher = fn(
            "Dispatcher",
            launcher_env,
            DISPATCHER_TIMEOUT,
            description="Diarist dispatcher: job queue -> AWS Batch SubmitJob",
        )
        self.dispatch_dlq = fn(
            "DispatchDlq",
            bus_env,
            DISPATCHER_TIMEOUT,
            description="Diarist: a job that could not be launched ends failed (job DLQ consumer)",
            memory_size=256,
        )
        self.ingest = fn(
            "Ingest",
            {"DIARIST_JOB_QUEUE_URL": self.queues.jobs.queue.queue_url, **bus_env},
            INGEST_TIMEOUT,
            description="Diarist ingest: an object under incoming/ becomes a job",
        )
        self.batch_events = fn(
            "BatchEvents",
            bus_env,
            BATCH_EVENTS_TIMEOUT,
            description="Diarist: AWS Batch job FAILED -> job failed",
            memory_size=256,
            dead_letter_queue=self.queues.batch_events_dlq,
        )
        self.webhook = fn(
            "Webhook",
            {**bus_env, **webhook_env},
            WEBHOOK_TIMEOUT,
            description="Diarist webhooks: signed POST per finished job",
        )
        self.functions: dict[str, lambda_.Function] = {
            "Api": self.api_function.function,
            "Dispatcher": self.dispatcher.function,
            "DispatchDlq": self.dispatch_dlq.function,
            "Ingest": self.ingest.function,
            "BatchEvents": self.batch_events.function,
            "Webhook": self.webhook.function,
        }

        self.dispatcher.function.add_event_source(
            sources.SqsEventSource(
                self.queues.jobs.queue, batch_size=10, report_batch_item_failures=True, max_concurrency=5
            )
        )
        # The job DLQ is consumed: a message that kept failing ends its job "failed" (with a
        # webhook). If that consumer fails too, the message stays and the DLQ age alarm fires.
        self.dispatch_dlq.function.add_event_source(
            sources.SqsEventSource(self.queues.jobs.dlq, batch_size=10, report_batch_item_failures=True)
        )
        self.ingest.function.add_event_source(
            sources.SqsEventSource(self.queues.ingest.queue, batch_size=10, report_batch_item_failures=True)
        )
        self.webhook.function.add_event_source(
            sources.SqsEventSource(
                self.queues.webhooks.queue, batch_size=5, report_batch_item_failures=True, max_concurrency=10
            )
        )
        self._grant(stack)

        self.api = Api(
            self,
            "Api",
            handler=self.api_function.function,
            props=props.api,
            log_retention_days=props.log_retention_days,
        )
        self.events = Events(
            self,
            "Events",
            media_bucket=self.storage.media_bucket,
            batch_job_queue_arn=self.gpu.job_queue.job_queue_arn,
            ingest_queue=self.queues.ingest.queue,
            ingest_dlq=self.queues.ingest.dlq,
            webhook_queue=self.queues.webhooks.queue,
            webhook_dlq=self.queues.webhooks.dlq,
            batch_events_function=self.batch_events.function,
            batch_events_dlq=self.queues.batch_events_dlq,
            bus=self.bus,
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            functions=self.functions,
            dlqs=self.queues.unconsumed_dlqs,
            consumed_dlqs={"JobDlq": (self.queues.jobs.dlq, self.dispatch_dlq.function)},
            job_queue=self.queues.jobs.queue,
            rest_api=self.api.rest_api,
            batch_failed_rule=self.events.batch_failed_rule,
            alarm_email=props.alarm_email,
        )
        suppress_service_findings(self)

    # ------------------------------------------------------------------ network and image

    def _network(self) -> tuple[ec2.IVpc, ec2.SubnetSelection]:
        props = self.props
        if props.vpc is not None:
            return props.vpc, props.vpc_subnets or ec2.SubnetSelection(
                subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS
            )
        vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=props.max_azs,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=20)
            ],
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3),
                "DynamoDb": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.DYNAMODB),
            },
            restrict_default_security_group=True,
        )
        vpc.add_flow_log(
            "RejectedTraffic",
            destination=ec2.FlowLogDestination.to_s3(self.storage.logs_bucket, "vpc-flow-logs/"),
            traffic_type=ec2.FlowLogTrafficType.REJECT,
        )
        return vpc, ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC)

    def _worker_image(self) -> ecs.ContainerImage:
        """Built from the repository root (the image needs src/ too) with the engine's Dockerfile;
        see containers/gpu-worker/README.md. Docker runs at ``cdk deploy``, not at synth."""
        dockerfile = self.props.source_root / self.props.worker_dockerfile
        if not dockerfile.is_file():
            raise FileNotFoundError(
                f"worker Dockerfile not found: {dockerfile}. Build files come with the repository "
                "(containers/gpu-worker/); or pass DiaristServiceProps(worker_image=...) with a prebuilt image."
            )
        self.worker_asset = ecr_assets.DockerImageAsset(
            self,
            "WorkerImage",
            directory=str(self.props.source_root),
            file=self.props.worker_dockerfile,
            platform=ecr_assets.Platform.LINUX_AMD64,
            ignore_mode=IgnoreMode.DOCKER,
            # The Dockerfile itself too: CDK stages the context in cdk.out and builds from there.
            exclude=[*WORKER_CONTEXT_EXCLUDES, f"!{self.props.worker_dockerfile}"],
            build_args=dict(self.props.worker_build_args) or None,
            build_secrets=dict(self.props.worker_build_secrets) or None,
        )
        return ecs.ContainerImage.from_docker_image_asset(self.worker_asset)

    # ------------------------------------------------------------------ permissions

    def _grant(self, stack: Stack) -> None:
        table = self.storage.table
        media, results = self.storage.media_bucket, self.storage.results_bucket
        api, dispatcher, ingest = self.api_function.role, self.dispatcher.role, self.ingest.role
        dispatch_dlq, batch_events = self.dispatch_dlq.role, self.batch_events.role
        webhook, worker = self.webhook.role, self.gpu.job_role

        for role in (api, dispatcher, dispatch_dlq, ingest, batch_events, webhook, worker):
            table.grant_read_write_data(role)
        # Completion events (job failed/canceled/succeeded) come from whoever ends a job.
        for role in (api, dispatch_dlq, ingest, batch_events, worker):
            self.bus.grant_put_events_to(role)
        for role in (api, ingest):
            self.queues.jobs.queue.grant_send_messages(role)
        # Webhook retries are re-queued with a delay; the API re-queues on redelivery requests.
        for role in (api, webhook):
            self.queues.webhooks.queue.grant_send_messages(role)

        # API: presigned uploads to media/ and incoming/, results read (inline or presigned),
        # deletes when a job is deleted; HEAD on s3:// inputs to check their size.
        _objects(
            api, media, ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], R.MEDIA_PREFIX, R.INCOMING_PREFIX
        )
        _objects(api, results, ["s3:GetObject", "s3:DeleteObject"], R.RESULTS_PREFIX)
        _list(api, media, R.MEDIA_PREFIX, R.INCOMING_PREFIX)
        _list(api, results, R.RESULTS_PREFIX)
        _extra_inputs(api, stack, self.props.allowed_input_buckets)
        # Ingest: HEAD the new object under incoming/.
        _objects(ingest, media, ["s3:GetObject"], R.INCOMING_PREFIX)
        # Webhook: presigned result links in the payload.
        _objects(webhook, results, ["s3:GetObject"], R.RESULTS_PREFIX)
        # Worker: read inputs, write results.
        _objects(worker, media, ["s3:GetObject"], R.MEDIA_PREFIX, R.INCOMING_PREFIX)
        _extra_inputs(worker, stack, self.props.allowed_input_buckets)
        _objects(
            worker, results, ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"], R.RESULTS_PREFIX
        )

        # Dispatcher: submit to our queue with our job definition, tagging the job with its
        # Diarist ids (SubmitJob with tags needs batch:TagResource on the new job).
        dispatcher.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["batch:SubmitJob"],
                resources=[self.gpu.job_queue.job_queue_arn, self.gpu.job_definition.job_definition_arn],
            )
        )
        # A job's ARN is unknown until submit: this account's jobs in this region is the
        # narrowest scope IAM can express. Dispatcher and API terminate canceled jobs.
        batch_jobs = stack.format_arn(service="batch", resource="job", resource_name="*")
        dispatcher.add_to_principal_policy(
            iam.PolicyStatement(actions=["batch:TagResource", "batch:TerminateJob"], resources=[batch_jobs])
        )
        api.add_to_principal_policy(
            iam.PolicyStatement(actions=["batch:TerminateJob"], resources=[batch_jobs])
        )
        # Webhook signing secrets: only names under the prefix (Secrets Manager appends "-xxxxxx").
        webhook.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue"],
                resources=[self.webhook_secret_arn_pattern(stack)],
            )
        )

    def webhook_secret_arn_pattern(self, stack: Stack) -> str:
        return stack.format_arn(
            service="secretsmanager",
            resource="secret",
            resource_name=f"{self.props.webhook_secret_prefix}*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )


def _objects(role: iam.IRole, bucket: s3.IBucket, actions: list[str], *prefixes: str) -> None:
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=actions, resources=[bucket.arn_for_objects(f"{p}*") for p in prefixes])
    )


def _list(role: iam.IRole, bucket: s3.IBucket, *prefixes: str) -> None:
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{p}*" for p in prefixes]}},
        )
    )


def _extra_inputs(role: iam.IRole, stack: Stack, buckets: tuple[str, ...]) -> None:
    if buckets:
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[f"arn:{stack.partition}:s3:::{b}/*" for b in buckets]
            )
        )


def _light_from_context(scope: Construct) -> bool | None:
    from infra.packaging import light_asset_requested

    value = scope.node.try_get_context("lightAsset")
    return True if light_asset_requested(value) else None
