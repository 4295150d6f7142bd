"""S3-upload trigger Lambda: "Object Created" under ``incoming/<tenant>/`` -> a job (``services.ingest``).

Accepts both deliveries of the S3 EventBridge event:
- an SQS event whose record bodies are the EventBridge events (rule -> SQS queue -> Lambda, as in
  local mode), with partial batch failures;
- a bare EventBridge event (rule -> Lambda); a failure raises so EventBridge retries it.

The job id is derived by the service from the object (after it resolved the key), so the job's
log context is opened there, once the job id is known.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from diarist.domain.aws_events import S3ObjectCreatedEvent
from diarist.observability import logger, tracer
from diarist.services.ingest import Ingestor
from diarist.settings import IngestSettings, per_settings


class IngestRecord(SqsRecordModel):
    """Lenient: the body (an EventBridge event) is checked by ``handle_event``, which drops
    anything but an S3 "Object Created" event instead of failing it."""

    body: str


def _build(settings: IngestSettings) -> Ingestor:
    from diarist.adapters.dynamo_jobs import DynamoJobStore
    from diarist.adapters.events import EventBridgeBus
    from diarist.adapters.s3_store import S3ObjectStore
    from diarist.adapters.sqs_queue import SqsJobQueue

    return Ingestor(
        store=DynamoJobStore(settings.table_name),
        queue=SqsJobQueue(settings.job_queue_url),
        objects=S3ObjectStore(),
        events=EventBridgeBus(settings.event_bus_name),
        media_bucket=settings.media_bucket,
        results_bucket=settings.results_bucket,
        retention_days=settings.retention_days,
        allow_http_webhooks=settings.allow_http,
    )


def service() -> Ingestor:
    """Built once per warm container (and again if the settings were reloaded, e.g. in tests)."""
    return per_settings(IngestSettings, _build)


def process(
    event: dict[str, Any], ingestor: Ingestor, context: LambdaContext | None = None
) -> dict[str, Any]:
    if "Records" in event:
        processor = BatchProcessor(
            event_type=EventType.SQS, model=IngestRecord, raise_on_entire_batch_failure=False
        )

        def record_handler(record: IngestRecord) -> str:
            return handle_event(ingestor, record.body)

        return dict(
            process_partial_response(
                event=event, record_handler=record_handler, processor=processor, context=context
            )
        )
    outcome = ingestor.handle(S3ObjectCreatedEvent.model_validate(event))
    return {"action": outcome.action, "jobId": outcome.job_id}


def handle_event(ingestor: Ingestor, raw: str | dict[str, Any]) -> str:
    """One queued event. Anything but a well-formed S3 "Object Created" event is logged and dropped:
    retrying cannot fix it (the ingest queue may have no DLQ). Store/S3 errors still raise (retried)."""
    try:
        body = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError:
        logger.error("dropping a queued message that is not JSON", extra={"body": str(raw)[:500]})
        return "ignored"
    if not isinstance(body, dict):
        body = {}
    if body.get("source") != "aws.s3" or body.get("detail-type") != "Object Created":
        logger.warning(
            "dropping a queued event that is not an S3 Object Created", extra={"event": str(body)[:500]}
        )
        return "ignored"
    try:
        event = S3ObjectCreatedEvent.model_validate(body)
    except ValidationError as e:
        logger.error("dropping a malformed S3 event", extra={"error": str(e), "event": str(body)[:500]})
        return "ignored"
    return ingestor.handle(event).action


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process(event, service(), context)
