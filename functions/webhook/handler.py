"""Webhook delivery function: SQS (completion events + its own retry messages) -> signed POSTs.

Thin: each record's body is parsed by the record model (``WebhookRecord``: a completion event's
detail or a retry message; anything else fails that record) and handed to ``services.webhooks``
in the job's log context. Partial batch responses: only the records whose delivery is
exhausted (or that hit an unexpected error, or are not a webhook message) are reported as
failures, so SQS redelivers them and, after ``maxReceiveCount``, moves them to the DLQ.
Configure the event source mapping with ``ReportBatchItemFailures`` and a small batch size (each
attempt may take up to ``DIARIST_WEBHOOK_TIMEOUT_S``); visibility timeout 6x the function timeout.

Metrics (EMF, namespace ``POWERTOOLS_METRICS_NAMESPACE``, default ``Diarist``): one count per
outcome: ``WebhookDelivered``, ``WebhookRetryScheduled``, ``WebhookFailed`` (410 or refused URL),
``WebhookExhausted`` (-> DLQ), ``WebhookSkipped`` (duplicates, jobs without webhook).
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BeforeValidator

from diarist import wiring
from diarist.domain.messages import JobFinishedDetail, WebhookRetryMessage, parse_webhook_queue_body
from diarist.observability import job_context, logger, metrics, tracer
from diarist.services import webhooks


class WebhookRecord(SqsRecordModel):
    body: Annotated[JobFinishedDetail | WebhookRetryMessage, BeforeValidator(parse_webhook_queue_body)]


# every record failing is reported like a partial failure (same effect on SQS, no error raised)
processor = BatchProcessor(event_type=EventType.SQS, model=WebhookRecord, raise_on_entire_batch_failure=False)


def _count(outcome: webhooks.Outcome) -> None:
    name = "Webhook" + "".join(part.capitalize() for part in outcome.value.split("_"))
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def record_handler(record: WebhookRecord) -> str:
    with job_context(record.body.job_id, record.body.tenant_id):
        try:
            outcome = wiring.webhook_service().handle(record.body)
        except webhooks.WebhookDeliveryExhausted:
            _count(webhooks.Outcome.EXHAUSTED)
            logger.warning(
                "webhook delivery exhausted: failing the message (DLQ)", message_id=record.messageId
            )
            raise
        _count(outcome)
        logger.info("webhook message handled", message_id=record.messageId, outcome=outcome.value)
        return outcome.value


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
