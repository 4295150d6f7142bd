"""SQS queues as every concern creates them: encrypted (SQS-managed keys), TLS only.

Invariants of a work queue (one per concern that consumes SQS: jobs, ingest, webhooks, and the
drain workers' work queue):

- visibility = ``VISIBILITY_FACTOR`` x its consumer's timeout, as AWS recommends for SQS event
  sources, so a retried batch is not redelivered while still running;
- a message received ``MAX_RECEIVE_COUNT`` times goes to the queue's DLQ, which keeps it
  ``DLQ_RETENTION`` and has the same visibility (the job DLQ has a consumer of its own).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

VISIBILITY_FACTOR = 6
MAX_RECEIVE_COUNT = 5
DLQ_RETENTION = Duration.days(14)


@dataclass(frozen=True)
class WorkQueue:
    queue: sqs.Queue
    dlq: sqs.Queue


def work_queue(scope: Construct, id: str = "", *, consumer_timeout: Duration) -> WorkQueue:
    """The work queue of a concern's construct (children ``<id>Queue`` and ``<id>Dlq`` of
    ``scope``), sized against the timeout of the function that consumes it."""
    visibility = Duration.seconds(consumer_timeout.to_seconds() * VISIBILITY_FACTOR)
    dlq = dead_letter_queue(scope, f"{id}Dlq", visibility_timeout=visibility)
    queue = _queue(
        scope,
        f"{id}Queue",
        visibility_timeout=visibility,
        dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=MAX_RECEIVE_COUNT),
    )
    return WorkQueue(queue=queue, dlq=dlq)


def dead_letter_queue(scope: Construct, id: str, *, visibility_timeout: Duration | None = None) -> sqs.Queue:
    """A queue where what could not be processed waits ``DLQ_RETENTION`` for a look and a redrive."""
    return _queue(scope, id, retention_period=DLQ_RETENTION, visibility_timeout=visibility_timeout)


def _queue(
    scope: Construct,
    id: str,
    *,
    visibility_timeout: Duration | None,
    retention_period: Duration | None = None,
    dead_letter_queue: sqs.DeadLetterQueue | None = None,
) -> sqs.Queue:
    return sqs.Queue(
        scope,
        id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        visibility_timeout=visibility_timeout,
        retention_period=retention_period,
        dead_letter_queue=dead_letter_queue,
    )
