"""The Batch failure handler: an AWS Batch job that ends FAILED on this stack's job queue ends its
Diarist job failed (crash, timeout, spot reclaim after the last attempt, canceled while stuck).

Invariants:

- The rule invokes the function directly (asynchronously): such events are rare, so no queue in
  between. Events the rule cannot deliver and invocations that fail all retries go to one DLQ.
- Only FAILED on this stack's job queue matches; the function reads and writes the job's record
  and publishes its completion event, nothing else.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from constructs import Construct

from infra import table_access
from infra.constructs.eventbridge import bus_environment, function_target
from infra.constructs.function import FunctionFactory
from infra.constructs.gpu_batch import GpuBatch
from infra.constructs.queues import dead_letter_queue
from infra.constructs.storage import Storage

BATCH_EVENTS_HANDLER = "functions.batch_events.handler.lambda_handler"
BATCH_EVENTS_TIMEOUT = Duration.seconds(30)


class BatchFailureHandler(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        functions: FunctionFactory,
        storage: Storage,
        bus: events.IEventBus,
        gpu: GpuBatch,
    ) -> None:
        super().__init__(scope, id)
        self.dlq = dead_letter_queue(self, "Dlq")
        self.function = functions.create(
            self,
            "BatchEventsFunction",
            service="diarist-batch-events",
            handler=BATCH_EVENTS_HANDLER,
            description="Diarist: AWS Batch job FAILED -> job failed",
            environment={**storage.environment, **bus_environment(bus)},
            timeout=BATCH_EVENTS_TIMEOUT,
            memory_size=256,
            dead_letter_queue=self.dlq,
        )
        storage.grant_table(self.function.role, table_access.BATCH_EVENTS)
        bus.grant_put_events_to(self.function.role)

        self.rule = events.Rule(
            self,
            "BatchJobFailed",
            description="Diarist: a GPU job failed in AWS Batch (crash, timeout, canceled while queued)",
            event_pattern=events.EventPattern(
                source=["aws.batch"],
                detail_type=["Batch Job State Change"],
                detail={"jobQueue": [gpu.job_queue.job_queue_arn], "status": ["FAILED"]},
            ),
            targets=[function_target(self.function.function, dead_letter_queue=self.dlq)],
        )
