"""Dispatcher DLQ consumer: a dispatch message that kept failing ends its job ``failed``.

The job gets ``error.code = launch_failed`` and a message with the last launch error the
dispatcher recorded (``Job.launch_error``), and the completion event goes out like for any other
end of a job. Records whose body is not a dispatch message are logged and dropped (nothing to fail;
failing them would only bring them back on every receive).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from diarist.domain.messages import DispatchMessage
from diarist.observability import job_context, logger, tracer
from diarist.ports import EventBus, JobStore
from diarist.services.dispatch import fail_undispatchable
from diarist.settings import DispatchDlqSettings, per_settings


class DlqRecord(SqsRecordModel):
    """Lenient: the body stays text and is validated by the record handler, so that a body that is
    not a ``DispatchMessage`` is dropped rather than failed."""

    body: str


def _build(settings: DispatchDlqSettings) -> tuple[JobStore, EventBus]:
    from diarist.adapters.dynamo_jobs import DynamoJobStore
    from diarist.adapters.events import EventBridgeBus

    return DynamoJobStore(settings.table_name), EventBridgeBus(settings.event_bus_name)


def service() -> tuple[JobStore, EventBus]:
    """What ``fail_undispatchable`` runs on, built once per warm container."""
    return per_settings(DispatchDlqSettings, _build)


def process(
    event: dict[str, Any], store: JobStore, events: EventBus, context: LambdaContext | None = None
) -> dict[str, Any]:
    processor = BatchProcessor(event_type=EventType.SQS, model=DlqRecord, raise_on_entire_batch_failure=False)

    def record_handler(record: DlqRecord) -> str:
        try:
            message = DispatchMessage.model_validate_json(record.body)
        except ValidationError as e:
            logger.error("dropping a DLQ record that is not a dispatch message", extra={"error": str(e)})
            return "dropped"
        with job_context(message.job_id, message.tenant_id):
            job = fail_undispatchable(store, events, message)
        return "failed_job" if job is not None else "nothing_to_do"

    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    store, events = service()
    return process(event, store, events, context)
