"""Webhook delivery function: SQS (completion events + its own retry messages) -> signed POSTs.

Thin: parse each record's body and hand it to ``services.webhooks``. Partial batch responses:
only the records whose delivery is exhausted (or that hit an unexpected error) are reported as
failures, so SQS redelivers them and, after ``maxReceiveCount``, moves them to the DLQ.
Configure the event source mapping with ``ReportBatchItemFailures`` and a small batch size (each
attempt may take up to ``DIARIST_WEBHOOK_TIMEOUT_S``); visibility timeout 6x the function timeout.

Metrics (EMF, namespace ``POWERTOOLS_METRICS_NAMESPACE``, default ``Diarist``): one count per
outcome: ``WebhookDelivered``, ``WebhookRetryScheduled``, ``WebhookFailed`` (410 or refused URL),
``WebhookExhausted`` (-> DLQ), ``WebhookSkipped`` (duplicates, jobs without webhook).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from diarist.services import webhooks

logger = Logger(service="diarist-webhook")
logging.getLogger("diarist").setLevel(logging.INFO)
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "Diarist", service="diarist-webhook"
)
# every record failing is reported like a partial failure (same effect on SQS, no error raised)
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _count(outcome: webhooks.Outcome) -> None:
    name = "Webhook" + "".join(part.capitalize() for part in outcome.value.split("_"))
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def record_handler(record: SQSRecord) -> str:
    try:
        outcome = webhooks.build_service().handle_body(record.body)
    except webhooks.WebhookDeliveryExhausted:
        _count(webhooks.Outcome.EXHAUSTED)
        logger.warning("webhook delivery exhausted: failing the message (DLQ)", message_id=record.message_id)
        raise
    _count(outcome)
    logger.info("webhook message handled", message_id=record.message_id, outcome=outcome.value)
    return outcome.value


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
