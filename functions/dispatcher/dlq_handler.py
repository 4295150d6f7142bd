"""Dispatcher DLQ consumer: a dispatch message that kept failing ends its job ``failed``.

The job gets ``error.code = launch_failed`` and a message with the last launch error the
dispatcher recorded (``Job.launch_error``), and the completion event goes out like for any other
end of a job. Records whose body is not a dispatch message are logged and dropped (nothing to fail).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from diarist.domain.messages import DispatchMessage
from diarist.ports import EventBus, JobStore
from diarist.services.dispatch import fail_undispatchable
from diarist.settings import DispatchDlqSettings, load

logger = Logger(service="diarist-dispatcher-dlq")


def process(
    event: dict[str, Any], store: JobStore, events: EventBus, context: LambdaContext | None = None
) -> dict[str, Any]:
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    def record_handler(record: SQSRecord) -> str:
        try:
            message = DispatchMessage.model_validate_json(record.body)
        except ValidationError as e:
            logger.error("dropping a DLQ record that is not a dispatch message", extra={"error": str(e)})
            return "dropped"
        job = fail_undispatchable(store, events, message)
        return "failed_job" if job is not None else "nothing_to_do"

    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    )


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from diarist.adapters.dynamo_jobs import DynamoJobStore
    from diarist.adapters.events import EventBridgeBus

    settings = load(DispatchDlqSettings)
    return process(
        event, DynamoJobStore(settings.table_name), EventBridgeBus(settings.event_bus_name), context
    )
