"""SQS queues, each with its dead-letter queue: jobs (→ dispatcher), ingest (→ ingest function),
webhooks (→ webhook function), and a DLQ for Batch state-change events the handler could not take."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

# Lambda timeouts the queues are sized against (visibility >= 6 x the consumer's timeout, as AWS
# recommends for SQS event sources, so a retried batch is not redelivered while still running).
DISPATCHER_TIMEOUT = Duration.seconds(60)
INGEST_TIMEOUT = Duration.seconds(60)
WEBHOOK_TIMEOUT = Duration.seconds(60)
VISIBILITY_FACTOR = 6
MAX_RECEIVE_COUNT = 5
DLQ_RETENTION = Duration.days(14)


@dataclass(frozen=True)
class QueuePair:
    queue: sqs.Queue
    dlq: sqs.Queue


class Queues(Construct):
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        self.jobs = self._pair("Jobs", DISPATCHER_TIMEOUT)
        self.ingest = self._pair("Ingest", INGEST_TIMEOUT)
        self.webhooks = self._pair("Webhooks", WEBHOOK_TIMEOUT)
        # EventBridge → batch-events function is a direct (asynchronous) invocation: events the
        # rule could not deliver and invocations that failed all retries land here.
        self.batch_events_dlq = _queue(self, "BatchEventsDlq", retention_period=DLQ_RETENTION)

    def _pair(self, name: str, consumer_timeout: Duration) -> QueuePair:
        visibility = Duration.seconds(consumer_timeout.to_seconds() * VISIBILITY_FACTOR)
        # DLQs get the same visibility: the job DLQ has a consumer (functions.dispatcher.dlq_handler).
        dlq = _queue(self, f"{name}Dlq", retention_period=DLQ_RETENTION, visibility_timeout=visibility)
        queue = _queue(
            self,
            name,
            visibility_timeout=visibility,
            dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=MAX_RECEIVE_COUNT),
        )
        return QueuePair(queue=queue, dlq=dlq)

    @property
    def unconsumed_dlqs(self) -> dict[str, sqs.Queue]:
        """DLQs nothing reads (the job DLQ has a consumer: functions.dispatcher.dlq_handler)."""
        return {
            "IngestDlq": self.ingest.dlq,
            "WebhookDlq": self.webhooks.dlq,
            "BatchEventsDlq": self.batch_events_dlq,
        }


def _queue(scope: Construct, id: str, **kwargs: object) -> sqs.Queue:
    return sqs.Queue(
        scope,
        id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        **kwargs,  # type: ignore[arg-type]
    )
