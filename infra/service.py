"""``DiaristService``: the whole service as one L3 construct, for ``app.py`` or any other CDK app.

    from infra.props import DiaristServiceProps, GpuProps
    from infra.service import DiaristService

    svc = DiaristService(stack, "Diarist", DiaristServiceProps(gpu=GpuProps(max_vcpus=32)))
    svc.api.url, svc.storage.table, svc.gpu.job_queue ...

Invariants:

- This is a composition and nothing else: each concern's construct (infra/constructs/) creates its
  own resources and functions, sets their environment, grants exactly what they need and adds the
  cdk-nag suppressions of its own resources. Here each one is handed, typed, the constructs it
  uses (storage, the job-event bus, the queues of another concern, the Batch job queue).
- Construct ids make the logical ids of the deployed template: renaming one replaces resources.
  ``Vpc`` is the network construct's id so that the VPC keeps its logical ids (see
  infra/constructs/network.py); the names of ``functions`` name the alarms.
"""

from __future__ import annotations

from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.constructs.api import API_HANDLER, Api
from infra.constructs.batch_events import BATCH_EVENTS_HANDLER, BatchFailureHandler
from infra.constructs.dispatch import DISPATCH_DLQ_HANDLER, DISPATCHER_HANDLER, JobDispatch
from infra.constructs.function import FunctionFactory
from infra.constructs.gpu_batch import GpuBatch, WorkerImageBuild
from infra.constructs.ingest import INGEST_HANDLER, Ingest
from infra.constructs.monitoring import Monitoring
from infra.constructs.network import Network
from infra.constructs.storage import Storage
from infra.constructs.sweeper import SWEEPER_HANDLER, Sweeper
from infra.constructs.webhooks import WEBHOOK_HANDLER, WebhookDelivery
from infra.packaging import build_lambda_asset, light_asset_requested
from infra.props import DiaristServiceProps

# Every function's handler (module paths in the one Lambda asset), by the function's name.
HANDLERS = {
    "Api": API_HANDLER,
    "Dispatcher": DISPATCHER_HANDLER,
    "DispatchDlq": DISPATCH_DLQ_HANDLER,
    "Ingest": INGEST_HANDLER,
    "BatchEvents": BATCH_EVENTS_HANDLER,
    "Webhook": WEBHOOK_HANDLER,
    "Sweeper": SWEEPER_HANDLER,
}


class DiaristService(Construct):
    def __init__(self, scope: Construct, id: str, props: DiaristServiceProps | None = None) -> None:
        super().__init__(scope, id)
        self.props = props = props or DiaristServiceProps()
        code = props.lambda_code or lambda_.Code.from_asset(
            str(build_lambda_asset(root=props.source_root, light=_light_from_context(self)))
        )
        functions = FunctionFactory(code=code, log_retention_days=props.log_retention_days)

        self.storage = Storage(
            self, "Storage", retention_days=props.retention_days, removal_policy=props.removal_policy
        )
        self.bus = events.EventBus(self, "Bus", description="Diarist job events (source 'diarist')")
        self.network = Network(
            self,
            "Vpc",  # the VPC is its default child: logical ids as if the VPC were created here
            vpc=props.vpc,
            vpc_subnets=props.vpc_subnets,
            max_azs=props.max_azs,
            flow_logs_bucket=self.storage.logs_bucket,
        )
        self.gpu = GpuBatch(
            self,
            "Gpu",
            props=props.gpu,
            network=self.network,
            image=props.worker_image
            or WorkerImageBuild(
                source_root=props.source_root,
                dockerfile=props.worker_dockerfile,
                build_args=props.worker_build_args,
                build_secrets=props.worker_build_secrets,
            ),
            storage=self.storage,
            bus=self.bus,
            extra_input_buckets=props.allowed_input_buckets,
            log_retention_days=props.log_retention_days,
        )
        self.dispatch = JobDispatch(
            self, "Dispatch", functions=functions, storage=self.storage, bus=self.bus, gpu=self.gpu
        )
        self.webhooks = WebhookDelivery(
            self,
            "Webhooks",
            functions=functions,
            storage=self.storage,
            bus=self.bus,
            secret_prefix=props.webhook_secret_prefix,
        )
        self.ingest = Ingest(
            self, "Ingest", functions=functions, storage=self.storage, bus=self.bus, dispatch=self.dispatch
        )
        self.batch_events = BatchFailureHandler(
            self, "BatchEvents", functions=functions, storage=self.storage, bus=self.bus, gpu=self.gpu
        )
        self.sweeper = Sweeper(
            self,
            "Sweeper",
            functions=functions,
            storage=self.storage,
            bus=self.bus,
            dispatch=self.dispatch,
            gpu=self.gpu,
        )
        self.api = Api(
            self,
            "Api",
            props=props.api,
            functions=functions,
            storage=self.storage,
            bus=self.bus,
            dispatch=self.dispatch,
            webhooks=self.webhooks,
            extra_input_buckets=props.allowed_input_buckets,
            log_retention_days=props.log_retention_days,
            engine_model=props.deployment_engine,
            embedding_model_id=props.deployment_embedding_model,
            transcription_model=props.deployment_transcription_model,
        )

        self.functions: dict[str, lambda_.Function] = {
            "Api": self.api.function.function,
            "Dispatcher": self.dispatch.dispatcher.function,
            "DispatchDlq": self.dispatch.dlq_consumer.function,
            "Ingest": self.ingest.function.function,
            "BatchEvents": self.batch_events.function.function,
            "Webhook": self.webhooks.function.function,
            "Sweeper": self.sweeper.function.function,
        }
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            functions=self.functions,
            dlqs={
                "IngestDlq": self.ingest.dlq,
                "WebhookDlq": self.webhooks.dlq,
                "BatchEventsDlq": self.batch_events.dlq,
                "SweeperDlq": self.sweeper.dlq,
                # work messages received MAX_RECEIVE_COUNT times without being handled (workers
                # crashed or were stopped on them); their jobs are the sweeper's (docs/pipeline.md)
                "WorkDlq": self.gpu.work_dlq,
                "ShortWorkDlq": self.gpu.short_work_dlq,
            },
            consumed_dlqs={"JobDlq": (self.dispatch.dlq, self.dispatch.dlq_consumer.function)},
            job_queue=self.dispatch.queue,
            rest_api=self.api.rest_api,
            batch_failed_rule=self.batch_events.rule,
            alarm_email=props.alarm_email,
        )


def _light_from_context(scope: Construct) -> bool | None:
    """True with ``-c lightAsset=true``; None lets the environment variable decide."""
    return True if light_asset_requested(scope.node.try_get_context("lightAsset")) else None
