"""Webhook delivery: one signed POST per finished job.

Job event (Diarist's bus, detail type "Diarization Job ...") -> rule -> webhook queue -> webhook
function -> the tenant's endpoint, signed with the tenant's secret.

Invariants:

- Signing secrets are per tenant, named ``<secret_prefix><tenant>`` and created by operators; the
  webhook function may only read secrets under that prefix, and nothing else may read them.
- A failed delivery is retried by re-queueing it with a delay (the function sends to its own
  queue); the API re-queues a delivery on request. Both get ``environment``
  (diarist.settings.WebhookSettings' queue and prefix) and ``grant_enqueue``.
- Payloads carry presigned result links: the function reads results, nothing else in S3.
"""

from __future__ import annotations

import re

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from diarist import resources
from infra import table_access
from infra.constructs.eventbridge import JOB_EVENT_DETAIL_TYPE_PREFIX, bus_environment, queue_target
from infra.constructs.function import FunctionFactory
from infra.constructs.queues import work_queue
from infra.constructs.storage import Storage
from infra.nag import arn_finding, suppress

WEBHOOK_HANDLER = "functions.webhook.handler.lambda_handler"
WEBHOOK_TIMEOUT = Duration.seconds(60)
SECRETS_REASON = (
    "Per-tenant webhook signing secrets are created after deployment as <prefix><tenant> and "
    "Secrets Manager appends a random suffix to every ARN; read-only access is confined to that prefix."
)


class WebhookDelivery(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        functions: FunctionFactory,
        storage: Storage,
        bus: events.IEventBus,
        secret_prefix: str,
    ) -> None:
        super().__init__(scope, id)
        self.secret_prefix = secret_prefix
        deliveries = work_queue(self, consumer_timeout=WEBHOOK_TIMEOUT)
        self.queue, self.dlq = deliveries.queue, deliveries.dlq

        self.function = functions.create(
            self,
            "WebhookFunction",
            service="diarist-webhook",
            handler=WEBHOOK_HANDLER,
            description="Diarist webhooks: signed POST per finished job",
            environment={**storage.environment, **bus_environment(bus), **self.environment},
            timeout=WEBHOOK_TIMEOUT,
        )
        self.function.function.add_event_source(
            sources.SqsEventSource(
                self.queue, batch_size=5, report_batch_item_failures=True, max_concurrency=10
            )
        )
        role = self.function.role
        storage.grant_table(role, table_access.WEBHOOK)
        self.grant_enqueue(role)  # a failed delivery is re-queued with a delay
        # Presigned result links in the payload.
        storage.grant_objects(role, storage.results_bucket, ["s3:GetObject"], resources.RESULTS_PREFIX)
        # Secrets Manager appends "-xxxxxx" to a secret's name in its ARN.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue"], resources=[self.secret_arn_pattern]
            )
        )
        suppress(
            role,
            "AwsSolutions-IAM5",
            SECRETS_REASON,
            [arn_finding("secretsmanager", "secret:" + re.escape(secret_prefix) + r"\*")],
        )

        self.rule = events.Rule(
            self,
            "JobFinished",
            description="Diarist: a job reached a terminal state; notify its webhook",
            event_bus=bus,
            event_pattern=events.EventPattern(
                source=[resources.EVENT_SOURCE],
                detail_type=events.Match.prefix(JOB_EVENT_DETAIL_TYPE_PREFIX),
            ),
            targets=[queue_target(self.queue, dead_letter_queue=self.dlq)],
        )

    @property
    def environment(self) -> dict[str, str]:
        """The delivery queue and the secrets' prefix (diarist.settings.WebhookSettings)."""
        return {
            "DIARIST_WEBHOOK_QUEUE_URL": self.queue.queue_url,
            "DIARIST_WEBHOOK_SECRET_PREFIX": self.secret_prefix,
        }

    @property
    def secret_arn_pattern(self) -> str:
        """The ARNs of every tenant's signing secret: names under the prefix, any suffix."""
        return Stack.of(self).format_arn(
            service="secretsmanager",
            resource="secret",
            resource_name=f"{self.secret_prefix}*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    def grant_enqueue(self, role: iam.IRole) -> None:
        self.queue.grant_send_messages(role)
