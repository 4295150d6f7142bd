"""Ingest: an object created under ``incoming/`` of the media bucket becomes a job.

S3 "Object Created" (default bus) -> rule -> ingest queue -> ingest function -> job queue.

Invariants:

- The rule targets the queue, not the function: the queue absorbs bursts of uploads, and the
  function gets SQS retries, partial batch failures and a DLQ (the same shape local mode
  provisions). Events the rule cannot deliver go to that DLQ too.
- The ingest function reads only the new object's metadata (s3:GetObject under ``incoming/``)
  and writes nothing to S3; it enqueues the job like the API does, and publishes the event of a
  job that fails at once (bad object metadata).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from diarist import resources
from infra import table_access
from infra.constructs.dispatch import JobDispatch
from infra.constructs.eventbridge import bus_environment, queue_target
from infra.constructs.function import FunctionFactory
from infra.constructs.queues import work_queue
from infra.constructs.storage import Storage

INGEST_HANDLER = "functions.ingest.handler.lambda_handler"
INGEST_TIMEOUT = Duration.seconds(60)


class Ingest(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        functions: FunctionFactory,
        storage: Storage,
        bus: events.IEventBus,
        dispatch: JobDispatch,
    ) -> None:
        super().__init__(scope, id)
        uploads = work_queue(self, consumer_timeout=INGEST_TIMEOUT)
        self.queue, self.dlq = uploads.queue, uploads.dlq

        self.function = functions.create(
            self,
            "IngestFunction",
            service="diarist-ingest",
            handler=INGEST_HANDLER,
            description="Diarist ingest: an object under incoming/ becomes a job",
            environment={**storage.environment, **dispatch.environment, **bus_environment(bus)},
            timeout=INGEST_TIMEOUT,
        )
        self.function.function.add_event_source(
            sources.SqsEventSource(self.queue, batch_size=10, report_batch_item_failures=True)
        )
        role = self.function.role
        storage.grant_table(role, table_access.INGEST)
        bus.grant_put_events_to(role)
        dispatch.grant_enqueue(role)
        # HEAD the new object under incoming/.
        storage.grant_objects(role, storage.media_bucket, ["s3:GetObject"], resources.INCOMING_PREFIX)

        self.rule = events.Rule(
            self,
            "IncomingObject",
            description="Diarist: an upload under incoming/ starts a job",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [storage.media_bucket.bucket_name]},
                    "object": {"key": [{"prefix": resources.INCOMING_PREFIX}]},
                },
            ),
            targets=[queue_target(self.queue, dead_letter_queue=self.dlq)],
        )
