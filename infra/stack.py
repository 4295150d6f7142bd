"""``DiaristStack``: the ``DiaristService`` construct plus the stack outputs (names in infra.outputs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_cdk import CfnOutput, Stack, Tags
from constructs import Construct

from infra import outputs
from infra.config import props_from_context
from infra.props import DiaristServiceProps
from infra.service import DiaristService


class DiaristStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        service_props: DiaristServiceProps | Callable[[Stack], DiaristServiceProps] | None = None,
        **kwargs: Any,
    ) -> None:
        """``service_props``: the props, or a function of this stack returning them (to import a VPC
        or a certificate into it); None reads them from the cdk context (-c key=value, infra.config)."""
        super().__init__(scope, id, **kwargs)
        Tags.of(self).add("app", "diarist")
        if service_props is None:
            props = props_from_context(self)
        elif callable(service_props):
            props = service_props(self)
        else:
            props = service_props
        self.service = svc = DiaristService(self, "Diarist", props)

        values = {
            outputs.API_URL: (svc.api.url, "Base URL of the REST API"),
            outputs.API_USAGE_PLAN_ID: (svc.api.usage_plan.usage_plan_id, "Usage plan to attach API keys to"),
            outputs.TABLE_NAME: (
                svc.storage.table.table_name,
                "DynamoDB table (jobs, API keys, idempotency)",
            ),
            outputs.MEDIA_BUCKET: (
                svc.storage.media_bucket.bucket_name,
                "Inputs; uploads under incoming/ start jobs",
            ),
            outputs.RESULTS_BUCKET: (svc.storage.results_bucket.bucket_name, "Diarization results"),
            outputs.JOB_QUEUE_URL: (svc.dispatch.queue.queue_url, "Job queue (dispatcher)"),
            outputs.JOB_DLQ_URL: (svc.dispatch.dlq.queue_url, "Job dead-letter queue"),
            outputs.INGEST_QUEUE_URL: (svc.ingest.queue.queue_url, "S3 incoming/ events (ingest)"),
            outputs.WEBHOOK_QUEUE_URL: (svc.webhooks.queue.queue_url, "Webhook deliveries"),
            outputs.WEBHOOK_DLQ_URL: (svc.webhooks.dlq.queue_url, "Webhook dead-letter queue"),
            outputs.EVENT_BUS_NAME: (svc.bus.event_bus_name, "EventBridge bus of job events"),
            outputs.BATCH_JOB_QUEUE: (svc.gpu.job_queue.job_queue_arn, "AWS Batch job queue"),
            outputs.BATCH_JOB_DEFINITION: (
                svc.gpu.job_definition.job_definition_arn,
                "AWS Batch job definition",
            ),
            outputs.ALARM_TOPIC_ARN: (svc.monitoring.topic.topic_arn, "SNS topic the alarms publish to"),
            outputs.DASHBOARD_NAME: (svc.monitoring.dashboard.dashboard_name, "CloudWatch dashboard"),
        }
        if svc.api.custom_url:
            values[outputs.CUSTOM_DOMAIN_URL] = (svc.api.custom_url, "API on the custom domain")
        for name, (value, description) in values.items():
            CfnOutput(self, name, value=value, description=description).override_logical_id(name)
