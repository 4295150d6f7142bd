"""Dispatcher Lambda: SQS job queue -> the work queue, and enough drain workers for the backlog
(see ``services.dispatch`` and ``services.fleet``).

Thin: parse each record (``DispatchRecord``: body is a ``DispatchMessage``), call the service
inside the job's log context, report failed records as batch item failures so only they are
redelivered. A throttled launch also pushes its record's next delivery back (``throttle_delay_s``)
through the job queue port. The event source mapping must enable ``ReportBatchItemFailures``; the
queue's redrive policy sends a record that kept failing to the DLQ, consumed by
``functions.dispatcher.dlq_handler``.
"""

from __future__ import annotations

import random
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Json

from diarist.domain.messages import DispatchMessage
from diarist.observability import job_context, logger, tracer
from diarist.ports import JobQueue, LaunchThrottled
from diarist.services.dispatch import Dispatcher
from diarist.settings import DispatcherSettings, per_settings

THROTTLE_BASE_S = 30
THROTTLE_MAX_S = 900
THROTTLE_JITTER_S = 5


class DispatchRecord(SqsRecordModel):
    body: Json[DispatchMessage]


def _build(settings: DispatcherSettings) -> tuple[Dispatcher, JobQueue]:
    from diarist.adapters.dynamo_fleet import DynamoWorkerFleet
    from diarist.adapters.dynamo_jobs import DynamoJobStore
    from diarist.adapters.dynamo_launch_claims import DynamoLaunchClaims
    from diarist.adapters.sqs_queue import SqsJobQueue
    from diarist.launchers import build_launcher
    from diarist.services.fleet import FleetScaler
    from diarist.wiring import build_work_queue

    dispatcher = Dispatcher(
        store=DynamoJobStore(settings.table_name),
        claims=DynamoLaunchClaims(settings.table_name),
        work=build_work_queue(
            settings.work_queue_url, settings.short_work_queue_url, settings.long_lane_every
        ),
        scaler=FleetScaler(
            DynamoWorkerFleet(settings.table_name), build_launcher(settings), settings.fleet_policy()
        ),
        claim_stale_s=settings.launch_claim_stale_s,
    )
    return dispatcher, SqsJobQueue(settings.job_queue_url)


def service() -> tuple[Dispatcher, JobQueue]:
    """The dispatch service and the job queue its records come from, built once per warm container."""
    return per_settings(DispatcherSettings, _build)


def throttle_delay_s(receive_count: int) -> int:
    """How long a throttled record stays invisible: 30 s, 60 s, 120 s ... 15 min on successive
    receives, plus up to 5 s of jitter so throttled records do not all come back at once."""
    backoff = min(THROTTLE_MAX_S, THROTTLE_BASE_S * 2 ** max(0, receive_count - 1))
    return backoff + random.randint(0, THROTTLE_JITTER_S)


def process(
    event: dict[str, Any], dispatcher: Dispatcher, queue: JobQueue, context: LambdaContext | None = None
) -> dict[str, Any]:
    """The handler's body with its dependencies passed in (the tests call it with fakes)."""
    processor = BatchProcessor(
        event_type=EventType.SQS, model=DispatchRecord, raise_on_entire_batch_failure=False
    )

    def record_handler(record: DispatchRecord) -> str:
        with job_context(record.body.job_id, record.body.tenant_id):
            try:
                return dispatcher.dispatch(record.body).action
            except LaunchThrottled:
                _back_off(queue, record)
                raise

    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    )


def _back_off(queue: JobQueue, record: DispatchRecord) -> None:
    """Best effort: without it the record simply comes back after the queue's visibility timeout."""
    try:
        delay = throttle_delay_s(int(record.attributes.ApproximateReceiveCount))
        queue.delay_redelivery(record.receiptHandle, delay)
    except Exception as e:  # noqa: BLE001 - best effort
        logger.warning("could not extend the visibility of a throttled record", extra={"error": str(e)})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    dispatcher, queue = service()
    return process(event, dispatcher, queue, context)
