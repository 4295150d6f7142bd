"""Batch state-change Lambda: EventBridge "Batch Job State Change" -> fail jobs whose worker died.

Accepts the bare EventBridge event (rule -> Lambda) and, for a rule that targets an SQS queue, the
SQS event whose record bodies are those events (partial batch failures). The logic is in
``diarist.services.failures``.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from diarist.domain.aws_events import BatchJobStateChange
from diarist.ports import EventBus, JobStore
from diarist.services.failures import handle_batch_event
from diarist.settings import BatchEventsSettings, load

logger = Logger(service="diarist-batch-events")


def process(
    event: dict[str, Any], store: JobStore, events: EventBus, context: LambdaContext | None = None
) -> dict[str, Any]:
    if "Records" in event:
        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

        def record_handler(record: SQSRecord) -> str:
            parsed = BatchJobStateChange.model_validate(json.loads(record.body))
            return "failed_job" if handle_batch_event(store, events, parsed) else "nothing_to_do"

        return dict(
            process_partial_response(
                event=event, record_handler=record_handler, processor=processor, context=context
            )
        )
    job = handle_batch_event(store, events, BatchJobStateChange.model_validate(event))
    return {"failedJob": job.job_id if job else None}


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from diarist.adapters.dynamo_jobs import DynamoJobStore
    from diarist.adapters.events import EventBridgeBus

    settings = load(BatchEventsSettings)
    return process(
        event, DynamoJobStore(settings.table_name), EventBridgeBus(settings.event_bus_name), context
    )
