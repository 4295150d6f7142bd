"""The sweeper: a scheduled function that resolves jobs stuck past a deadline for their state and
publishes completion events still owed (``diarist.services.sweeper``, ``functions/sweeper``).

Invariants:

- An EventBridge schedule (``rate``, every minute by default: EventBridge's shortest) invokes the
  function asynchronously; an invocation that fails all retries goes to the DLQ. One sweep is
  idempotent and safe to run concurrently (every resolution is one conditional write), so a
  late or doubled invocation is harmless: no reserved concurrency (which a new account's
  concurrency quota of 10 could not spare).
- It reads the sparse ``by_state`` index (the ``STATUS#`` and ``OUTBOX`` partitions only), reads
  and writes job items and the fleet item (``infra.table_access.SWEEPER``), re-sends dispatch
  messages on the job queue and work messages on the work queue (a job whose worker vanished),
  publishes completion events on the job-event bus, and on AWS Batch: describes jobs (the worker
  of a silent job), submits drain workers (jobs waiting without one) and terminates a hung
  worker (only jobs tagged with this stack's queue): nothing else.
- Each resolution is a metric (namespace ``Diarist``, one per kind); the monitoring construct
  alarms on them.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra import table_access
from infra.constructs.dispatch import JobDispatch
from infra.constructs.eventbridge import bus_environment, function_target
from infra.constructs.function import FunctionFactory
from infra.constructs.gpu_batch import GpuBatch
from infra.constructs.queues import dead_letter_queue
from infra.constructs.storage import Storage
from infra.nag import suppress

SWEEPER_HANDLER = "functions.sweeper.handler.lambda_handler"
SWEEPER_TIMEOUT = Duration.seconds(60)
SWEEP_RATE = Duration.minutes(1)
SWEEPER_SERVICE = "diarist-sweeper"  # its POWERTOOLS_SERVICE_NAME: the metrics' service dimension
DESCRIBE_JOBS_REASON = (
    "batch:DescribeJobs supports no resource-level permissions; it only reads job descriptions "
    "(the sweeper asks whether the worker holding a silent job still exists)."
)


class Sweeper(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        functions: FunctionFactory,
        storage: Storage,
        bus: events.IEventBus,
        dispatch: JobDispatch,
        gpu: GpuBatch,
        rate: Duration = SWEEP_RATE,
    ) -> None:
        super().__init__(scope, id)
        self.dlq = dead_letter_queue(self, "Dlq")
        self.function = functions.create(
            self,
            "SweeperFunction",
            service=SWEEPER_SERVICE,
            handler=SWEEPER_HANDLER,
            description="Diarist sweeper: stuck jobs -> requeued or failed; owed completion events -> published",
            environment={
                **storage.environment,
                **dispatch.environment,
                **bus_environment(bus),
                **gpu.launcher_environment,
                **gpu.fleet_environment,
            },
            timeout=SWEEPER_TIMEOUT,
            memory_size=256,
            dead_letter_queue=self.dlq,
        )
        role = self.function.role
        storage.grant_table(role, table_access.SWEEPER)
        bus.grant_put_events_to(role)
        dispatch.grant_enqueue(role)  # requeue a pending job whose dispatch message was lost
        gpu.grant_enqueue_work(role)  # resume a job whose worker is gone
        gpu.grant_submit(role)  # a worker for jobs waiting without one
        gpu.grant_terminate(role)  # a hung worker
        role.add_to_principal_policy(iam.PolicyStatement(actions=["batch:DescribeJobs"], resources=["*"]))
        suppress(role, "AwsSolutions-IAM5", DESCRIBE_JOBS_REASON, ["Resource::*"])

        self.rule = events.Rule(
            self,
            "Schedule",
            description="Diarist: run the sweeper",
            schedule=events.Schedule.rate(rate),
            targets=[function_target(self.function.function, dead_letter_queue=self.dlq)],
        )
