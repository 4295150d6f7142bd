"""Batch state-change Lambda: EventBridge "Batch Job State Change" -> fail jobs whose worker died.

Accepts the bare EventBridge event (rule -> Lambda) and, for a rule that targets an SQS queue, the
SQS event whose record bodies are those events (``BatchEventRecord``; a body that is not one is a
batch item failure). The logic is in ``diarist.services.failures``; it runs inside the log context
of the job the event names (ids from the Batch job's parameters, tags or command).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Json

from diarist.domain.aws_events import BatchJobStateChange
from diarist.domain.jobs import Job
from diarist.domain.launches import TAG_TENANT_ID
from diarist.observability import job_context, logger, tracer
from diarist.ports import EventBus, JobStore, WorkerFleet
from diarist.services.failures import handle_batch_event, handle_worker_container_event
from diarist.settings import BatchEventsSettings, per_settings


class BatchEventRecord(SqsRecordModel):
    body: Json[BatchJobStateChange]


def _build(settings: BatchEventsSettings) -> tuple[JobStore, EventBus, WorkerFleet]:
    from diarist.adapters.dynamo_fleet import DynamoWorkerFleet
    from diarist.adapters.dynamo_jobs import DynamoJobStore
    from diarist.adapters.events import EventBridgeBus

    return (
        DynamoJobStore(settings.table_name),
        EventBridgeBus(settings.event_bus_name),
        DynamoWorkerFleet(settings.table_name),
    )


def service() -> tuple[JobStore, EventBus, WorkerFleet]:
    """What ``handle_batch_event`` runs on, built once per warm container."""
    return per_settings(BatchEventsSettings, _build)


def process(
    event: dict[str, Any],
    store: JobStore,
    events: EventBus,
    context: LambdaContext | None = None,
    *,
    fleet: WorkerFleet | None = None,
) -> dict[str, Any]:
    """A drain worker's event takes it out of the fleet (``handle_worker_container_event``); an
    older release's per-job container event fails its job (``handle_batch_event``)."""
    if "Records" in event:
        processor = BatchProcessor(
            event_type=EventType.SQS, model=BatchEventRecord, raise_on_entire_batch_failure=False
        )

        def record_handler(record: BatchEventRecord) -> str:
            failed = _handle(store, events, record.body, fleet)
            return "failed_job" if failed else "nothing_to_do"

        return dict(
            process_partial_response(
                event=event, record_handler=record_handler, processor=processor, context=context
            )
        )
    job = _handle(store, events, BatchJobStateChange.model_validate(event), fleet)
    return {"failedJob": job.job_id if job else None}


def _handle(
    store: JobStore, events: EventBus, event: BatchJobStateChange, fleet: WorkerFleet | None
) -> Job | None:
    detail = event.detail
    if fleet is not None and handle_worker_container_event(fleet, event):
        return None
    job_id = detail.diarist_job_id()
    if job_id is None:  # not one of ours: the service logs and ignores it
        return handle_batch_event(store, events, event)
    tenant_id = detail.parameters.get("tenantId") or detail.tags.get(TAG_TENANT_ID)
    with job_context(job_id, tenant_id):
        return handle_batch_event(store, events, event)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    store, events, fleet = service()
    return process(event, store, events, context, fleet=fleet)
