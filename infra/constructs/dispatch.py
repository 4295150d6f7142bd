"""Job dispatch: the job queue, the dispatcher that launches each queued job on AWS Batch, and the
consumer of the job DLQ.

Invariants:

- Jobs reach AWS Batch only through the job queue: whoever creates jobs (the API, ingest) gets
  ``environment`` (diarist.settings.QueueSettings) and ``grant_enqueue``, nothing more.
- The dispatcher sends each job to the drain workers' work queue and may submit drain workers to
  this stack's Batch job queue with its job definition only; it never touches media and never
  terminates a worker.
- The job DLQ is consumed: a message that could not be dispatched ``MAX_RECEIVE_COUNT`` times ends
  its job "failed" (with its event, hence a webhook). If that consumer fails too, the message
  stays and the DLQ age alarm fires (see Monitoring).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from infra import table_access
from infra.constructs.eventbridge import bus_environment
from infra.constructs.function import FunctionFactory
from infra.constructs.gpu_batch import GpuBatch
from infra.constructs.queues import work_queue
from infra.constructs.storage import Storage

DISPATCHER_HANDLER = "functions.dispatcher.handler.lambda_handler"
DISPATCH_DLQ_HANDLER = "functions.dispatcher.dlq_handler.lambda_handler"
DISPATCHER_TIMEOUT = Duration.seconds(60)  # both consumers; the queues' visibility follows it


class JobDispatch(Construct):
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
        jobs = work_queue(self, consumer_timeout=DISPATCHER_TIMEOUT)
        self.queue, self.dlq = jobs.queue, jobs.dlq

        self.dispatcher = functions.create(
            self,
            "DispatcherFunction",
            service="diarist-dispatcher",
            handler=DISPATCHER_HANDLER,
            description="Diarist dispatcher: job queue -> work queue, drain workers on AWS Batch",
            # the job queue URL: a throttled launch backs off on its own message (delay_redelivery)
            environment={
                **storage.environment,
                **gpu.launcher_environment,
                **gpu.fleet_environment,
                **self.environment,
            },
            timeout=DISPATCHER_TIMEOUT,
        )
        self.dispatcher.function.add_event_source(
            sources.SqsEventSource(
                self.queue, batch_size=10, report_batch_item_failures=True, max_concurrency=5
            )
        )
        storage.grant_table(self.dispatcher.role, table_access.DISPATCHER)
        gpu.grant_enqueue_work(self.dispatcher.role)
        gpu.grant_submit(self.dispatcher.role)

        self.dlq_consumer = functions.create(
            self,
            "DispatchDlqFunction",
            service="diarist-dispatcher-dlq",
            handler=DISPATCH_DLQ_HANDLER,
            description="Diarist: a job that could not be launched ends failed (job DLQ consumer)",
            environment={**storage.environment, **bus_environment(bus)},
            timeout=DISPATCHER_TIMEOUT,
            memory_size=256,
        )
        self.dlq_consumer.function.add_event_source(
            sources.SqsEventSource(self.dlq, batch_size=10, report_batch_item_failures=True)
        )
        storage.grant_table(self.dlq_consumer.role, table_access.DISPATCHER_DLQ)
        bus.grant_put_events_to(self.dlq_consumer.role)

    @property
    def environment(self) -> dict[str, str]:
        """diarist.settings.QueueSettings: where new jobs go."""
        return {"DIARIST_JOB_QUEUE_URL": self.queue.queue_url}

    def grant_enqueue(self, role: iam.IRole) -> None:
        self.queue.grant_send_messages(role)
