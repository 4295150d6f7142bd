"""Create, on the emulator, the resources the CDK stack defines (names from ``diarist.resources``).

Used by local mode and by the integration tests, so both run against the same shapes as AWS:
the single table with its two GSIs (``by_tenant``, the sweeper's sparse ``by_state``) and TTL, the queues with their DLQs (jobs, work, webhooks), the buckets with EventBridge
notifications (and, once the API's address is known, the web console's CORS: ``allow_browser_origins``), the event bus and the rules that route to queues.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

from diarist import resources
from diarist.adapters.aws import client


@dataclass(frozen=True)
class LocalResources:
    table: str
    media_bucket: str
    results_bucket: str
    event_bus: str
    job_queue_url: str
    job_dlq_url: str
    work_queue_url: str
    work_dlq_url: str
    webhook_queue_url: str
    webhook_dlq_url: str
    ingest_queue_url: str
    short_work_queue_url: str = ""  # the short lane (domain.lanes); "" = one lane
    short_work_dlq_url: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        """The DIARIST_* variables every function and the worker read (see ``diarist.settings``)."""
        env = {
            "DIARIST_TABLE_NAME": self.table,
            "DIARIST_MEDIA_BUCKET": self.media_bucket,
            "DIARIST_RESULTS_BUCKET": self.results_bucket,
            "DIARIST_EVENT_BUS_NAME": self.event_bus,
            "DIARIST_JOB_QUEUE_URL": self.job_queue_url,
            "DIARIST_WORK_QUEUE_URL": self.work_queue_url,
            "DIARIST_SHORT_WORK_QUEUE_URL": self.short_work_queue_url,
            "DIARIST_WEBHOOK_QUEUE_URL": self.webhook_queue_url,
            "DIARIST_WEBHOOK_SECRET_PREFIX": resources.WEBHOOK_SECRET_PREFIX,
            # one machine, one tenant: no default per-tenant limits (a tenant's override still applies)
            "DIARIST_MAX_ACTIVE_JOBS_PER_TENANT": "0",
            "DIARIST_REQUESTS_PER_MINUTE_PER_TENANT": "0",
        }
        env.update(self.extra_env)
        return env


def _queue(
    sqs: Any, name: str, *, visibility_s: int, dlq_arn: str | None = None, max_receives: int = 3
) -> str:
    attrs = {"VisibilityTimeout": str(visibility_s)}
    if dlq_arn:
        attrs["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receives)}
        )
    return str(sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"])


def _arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def _work_lane(sqs: Any, name: str, dlq_name: str) -> tuple[str, str]:
    """A work queue and its DLQ (after 5 receives): their URLs."""
    dlq = _queue(sqs, dlq_name, visibility_s=120)
    return _queue(sqs, name, visibility_s=120, dlq_arn=_arn(sqs, dlq), max_receives=5), dlq


def provision(prefix: str = "") -> LocalResources:
    """Create everything (idempotent). ``prefix`` keeps parallel test sessions apart."""
    ddb, sqs, s3, events = client("dynamodb"), client("sqs"), client("s3"), client("events")
    table = prefix + resources.LOCAL_TABLE
    existing = ddb.list_tables().get("TableNames", [])
    if table not in existing:
        ddb.create_table(
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": resources.TABLE_PK, "AttributeType": "S"},
                {"AttributeName": resources.TABLE_GSI_PK, "AttributeType": "S"},
                {"AttributeName": resources.TABLE_GSI_SK, "AttributeType": "S"},
                {"AttributeName": resources.TABLE_GSI2_PK, "AttributeType": "S"},
                {"AttributeName": resources.TABLE_GSI2_SK, "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": resources.TABLE_PK, "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": resources.TABLE_GSI_TENANT,
                    "KeySchema": [
                        {"AttributeName": resources.TABLE_GSI_PK, "KeyType": "HASH"},
                        {"AttributeName": resources.TABLE_GSI_SK, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                },
                {
                    "IndexName": resources.TABLE_GSI_STATE,
                    "KeySchema": [
                        {"AttributeName": resources.TABLE_GSI2_PK, "KeyType": "HASH"},
                        {"AttributeName": resources.TABLE_GSI2_SK, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                },
            ],
        )
        ddb.update_time_to_live(
            TableName=table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": resources.TABLE_TTL_ATTRIBUTE},
        )

    job_dlq = _queue(sqs, prefix + resources.LOCAL_JOB_DLQ, visibility_s=30)
    job_q = _queue(sqs, prefix + resources.LOCAL_JOB_QUEUE, visibility_s=30, dlq_arn=_arn(sqs, job_dlq))
    # the work lanes: a worker keeps the message of the job it runs invisible (heartbeat)
    work_q, work_dlq = _work_lane(sqs, prefix + resources.LOCAL_WORK_QUEUE, prefix + resources.LOCAL_WORK_DLQ)
    short_q, short_dlq = _work_lane(
        sqs, prefix + resources.LOCAL_SHORT_WORK_QUEUE, prefix + resources.LOCAL_SHORT_WORK_DLQ
    )
    wh_dlq = _queue(sqs, prefix + resources.LOCAL_WEBHOOK_DLQ, visibility_s=30)
    wh_q = _queue(sqs, prefix + resources.LOCAL_WEBHOOK_QUEUE, visibility_s=30, dlq_arn=_arn(sqs, wh_dlq))
    ingest_q = _queue(sqs, prefix + resources.LOCAL_INGEST_QUEUE, visibility_s=30)

    media, results = prefix + resources.LOCAL_MEDIA_BUCKET, prefix + resources.LOCAL_RESULTS_BUCKET
    for bucket in (media, results):
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
            s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=media, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )

    bus = prefix + resources.LOCAL_EVENT_BUS
    if bus not in [b["Name"] for b in events.list_event_buses().get("EventBuses", [])]:
        events.create_event_bus(Name=bus)
    # Job finished (our bus) -> webhook queue.
    events.put_rule(
        Name=prefix + "diarist-job-finished",
        EventBusName=bus,
        EventPattern=json.dumps(
            {"source": [resources.EVENT_SOURCE], "detail-type": [{"prefix": "Diarization Job"}]}
        ),
    )
    events.put_targets(
        Rule=prefix + "diarist-job-finished",
        EventBusName=bus,
        Targets=[{"Id": "webhooks", "Arn": _arn(sqs, wh_q)}],
    )
    # S3 object created under incoming/ (S3 sends to the default bus) -> ingest queue.
    events.put_rule(
        Name=prefix + "diarist-incoming",
        EventPattern=json.dumps(
            {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {
                    "bucket": {"name": [media]},
                    "object": {"key": [{"prefix": resources.INCOMING_PREFIX}]},
                },
            }
        ),
    )
    events.put_targets(
        Rule=prefix + "diarist-incoming", Targets=[{"Id": "ingest", "Arn": _arn(sqs, ingest_q)}]
    )

    return LocalResources(
        table=table,
        media_bucket=media,
        results_bucket=results,
        event_bus=bus,
        job_queue_url=job_q,
        job_dlq_url=job_dlq,
        work_queue_url=work_q,
        work_dlq_url=work_dlq,
        webhook_queue_url=wh_q,
        webhook_dlq_url=wh_dlq,
        ingest_queue_url=ingest_q,
        short_work_queue_url=short_q,
        short_work_dlq_url=short_dlq,
    )


def allow_browser_origins(res: LocalResources, origins: list[str]) -> None:
    """The web console's CORS on the emulator's buckets, as the stack sets it in AWS
    (``infra.constructs.storage.Storage.allow_browser_origins``): uploads to and reads from the media
    bucket, reads from the results bucket, for ``origins`` (local mode's API) only."""
    s3 = client("s3")
    for bucket, methods in (
        (res.media_bucket, ["GET", "HEAD", "PUT"]),
        (res.results_bucket, ["GET", "HEAD"]),
    ):
        s3.put_bucket_cors(
            Bucket=bucket,
            CORSConfiguration={
                "CORSRules": [
                    {
                        "AllowedMethods": methods,
                        "AllowedOrigins": origins,
                        "AllowedHeaders": list(resources.CONSOLE_CORS_ALLOWED_HEADERS),
                        "ExposeHeaders": list(resources.CONSOLE_CORS_EXPOSED_HEADERS),
                        "MaxAgeSeconds": resources.CONSOLE_CORS_MAX_AGE_S,
                    }
                ]
            },
        )
