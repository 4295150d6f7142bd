"""Dispatcher Lambda: SQS job queue -> one container job per Diarist job (see ``services.dispatch``).

Thin: parse each record (``DispatchRecord``: body is a ``DispatchMessage``), call the service,
report failed records as batch item failures so only they are redelivered. The event source
mapping must enable ``ReportBatchItemFailures``; the queue's redrive policy sends a record that
kept failing to the DLQ, consumed by ``functions.dispatcher.dlq_handler``.
"""

from __future__ import annotations

import logging
import random
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Json

from diarist.domain.messages import DispatchMessage
from diarist.ports import LaunchThrottled
from diarist.services.dispatch import Dispatcher
from diarist.settings import DispatcherSettings, per_settings

logger = Logger(service="diarist-dispatcher")
logging.getLogger("diarist").setLevel(logging.INFO)


class DispatchRecord(SqsRecordModel):
    body: Json[DispatchMessage]


def _build_dispatcher(settings: DispatcherSettings) -> Dispatcher:
    from diarist.adapters.dynamo_jobs import DynamoJobStore
    from diarist.adapters.dynamo_launch_claims import DynamoLaunchClaims
    from diarist.launchers import build_launcher

    return Dispatcher(
        store=DynamoJobStore(settings.table_name),
        launcher=build_launcher(settings),
        claims=DynamoLaunchClaims(settings.table_name),
        claim_stale_s=settings.launch_claim_stale_s,
    )


def get_dispatcher() -> Dispatcher:
    """Built once per warm container (and again if the settings were reloaded, e.g. in tests)."""
    return per_settings(DispatcherSettings, _build_dispatcher)


def process(
    event: dict[str, Any], dispatcher: Dispatcher, context: LambdaContext | None = None
) -> dict[str, Any]:
    """The handler's body with its dependencies passed in (tests and local mode call this)."""
    processor = BatchProcessor(
        event_type=EventType.SQS, model=DispatchRecord, raise_on_entire_batch_failure=False
    )

    def record_handler(record: DispatchRecord) -> str:
        try:
            outcome = dispatcher.dispatch(record.body)
        except LaunchThrottled:
            back_off(record)
            raise
        return outcome.action

    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    )


def back_off(record: SqsRecordModel, *, base_s: int = 30, max_s: int = 900) -> int | None:
    """Throttled: keep the record invisible longer on each receive (30 s, 60 s, 120 s ... 15 min).

    Best effort: without it the record simply comes back after the queue's visibility timeout.
    """
    try:
        receives = int(record.attributes.ApproximateReceiveCount)
        delay = min(max_s, base_s * 2 ** max(0, receives - 1)) + random.randint(0, 5)
        _, _, _, region, account, name = record.eventSourceARN.split(":", 5)
        from diarist.adapters.aws import client

        sqs = client("sqs")
        url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=record.receiptHandle, VisibilityTimeout=delay
        )
        return delay
    except Exception as e:  # noqa: BLE001 - best effort
        logger.warning("could not extend the visibility of a throttled record", extra={"error": str(e)})
        return None


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process(event, get_dispatcher(), context)
