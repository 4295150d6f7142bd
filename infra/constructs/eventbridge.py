"""EventBridge as every concern uses it.

Invariants:

- Job events (a job failed, was canceled, succeeded) go to Diarist's own bus with source
  ``diarist`` and a detail type starting with ``JOB_EVENT_DETAIL_TYPE_PREFIX``. A function or the
  worker that reads ``EventSettings`` gets the bus name from ``bus_environment``; whoever ends a
  job also gets events:PutEvents on that bus (nothing else may publish).
- Every rule target retries as long as EventBridge allows (``RETRY_ATTEMPTS``, ``MAX_EVENT_AGE``)
  and then dead-letters to an SQS queue: no event is dropped silently.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs

from diarist.domain.messages import DETAIL_TYPES

JOB_EVENT_DETAIL_TYPE_PREFIX = "Diarization Job"
assert all(t.startswith(JOB_EVENT_DETAIL_TYPE_PREFIX) for t in DETAIL_TYPES.values())

RETRY_ATTEMPTS = 185  # EventBridge's maximum
MAX_EVENT_AGE = Duration.hours(24)  # EventBridge's maximum


def bus_environment(bus: events.IEventBus) -> dict[str, str]:
    """diarist.settings.EventSettings."""
    return {"DIARIST_EVENT_BUS_NAME": bus.event_bus_name}


def queue_target(queue: sqs.IQueue, *, dead_letter_queue: sqs.IQueue) -> targets.SqsQueue:
    return targets.SqsQueue(
        queue, dead_letter_queue=dead_letter_queue, retry_attempts=RETRY_ATTEMPTS, max_event_age=MAX_EVENT_AGE
    )


def function_target(function: lambda_.IFunction, *, dead_letter_queue: sqs.IQueue) -> targets.LambdaFunction:
    return targets.LambdaFunction(
        function,
        dead_letter_queue=dead_letter_queue,
        retry_attempts=RETRY_ATTEMPTS,
        max_event_age=MAX_EVENT_AGE,
    )
