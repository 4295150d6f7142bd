"""EventBridge wiring.

- Default bus, S3 "Object Created" under ``incoming/`` of the media bucket → the ingest queue
  (not the function directly: the queue absorbs bursts of uploads, and the function gets SQS
  retries, partial batch failures and a DLQ — the same shape local mode provisions).
- Default bus, "Batch Job State Change" to FAILED on our job queue → the batch-events function
  (direct, asynchronous; undeliverable events and failed invocations go to a DLQ).
- Diarist's own bus, source ``diarist`` and detail-type prefix "Diarization Job" → the webhook queue.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from diarist import resources as R
from diarist.domain.messages import DETAIL_TYPES

JOB_EVENT_DETAIL_TYPE_PREFIX = "Diarization Job"
assert all(t.startswith(JOB_EVENT_DETAIL_TYPE_PREFIX) for t in DETAIL_TYPES.values())

_RETRY = {"retry_attempts": 185, "max_event_age": Duration.hours(24)}  # EventBridge's maximum


class Events(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        media_bucket: s3.IBucket,
        batch_job_queue_arn: str,
        ingest_queue: sqs.IQueue,
        ingest_dlq: sqs.IQueue,
        webhook_queue: sqs.IQueue,
        webhook_dlq: sqs.IQueue,
        batch_events_function: lambda_.IFunction,
        batch_events_dlq: sqs.IQueue,
        bus: events.IEventBus,
    ) -> None:
        super().__init__(scope, id)

        self.incoming_rule = events.Rule(
            self,
            "IncomingObject",
            description="Diarist: an upload under incoming/ starts a job",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [media_bucket.bucket_name]},
                    "object": {"key": [{"prefix": R.INCOMING_PREFIX}]},
                },
            ),
            targets=[targets.SqsQueue(ingest_queue, dead_letter_queue=ingest_dlq, **_RETRY)],  # type: ignore[arg-type]
        )
        self.batch_failed_rule = events.Rule(
            self,
            "BatchJobFailed",
            description="Diarist: a GPU job failed in AWS Batch (crash, timeout, canceled while queued)",
            event_pattern=events.EventPattern(
                source=["aws.batch"],
                detail_type=["Batch Job State Change"],
                detail={"jobQueue": [batch_job_queue_arn], "status": ["FAILED"]},
            ),
            targets=[
                targets.LambdaFunction(batch_events_function, dead_letter_queue=batch_events_dlq, **_RETRY)  # type: ignore[arg-type]
            ],
        )
        self.job_finished_rule = events.Rule(
            self,
            "JobFinished",
            description="Diarist: a job reached a terminal state; notify its webhook",
            event_bus=bus,
            event_pattern=events.EventPattern(
                source=[R.EVENT_SOURCE],
                detail_type=events.Match.prefix(JOB_EVENT_DETAIL_TYPE_PREFIX),
            ),
            targets=[targets.SqsQueue(webhook_queue, dead_letter_queue=webhook_dlq, **_RETRY)],  # type: ignore[arg-type]
        )
