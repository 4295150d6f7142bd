"""The Lambda entry points as deployed: settings from DIARIST_* env, Powertools context injection."""

from __future__ import annotations

import pytest

from diarist.adapters.aws import client
from diarist.domain.jobs import JobStatus
from diarist.domain.messages import DispatchMessage
from functions.batch_events import handler as batch_handler
from functions.dispatcher import dlq_handler
from functions.ingest import handler as ingest_handler
from tests.events import LambdaContext
from tests.pipeline.conftest import load_event, make_job, receive_as_lambda_event, sqs_event, sqs_record

pytestmark = pytest.mark.integration


def test_lambda_handlers_read_their_settings(aws, store) -> None:
    ctx = LambdaContext()
    # ingest: a real upload, delivered by moto through EventBridge -> SQS
    client("s3").put_object(
        Bucket=aws.media_bucket, Key="incoming/acme/x.wav", Body=b"RIFF", Metadata={"num-speakers": "1"}
    )
    out = ingest_handler.lambda_handler(receive_as_lambda_event(aws.ingest_queue_url, wait_s=1), ctx)
    assert out == {"batchItemFailures": []}
    (job,), _ = store.list_for_tenant("acme", limit=5, cursor=None, status=None)
    assert job.params.num_speakers == 1
    # the DLQ consumer fails it (as if its launch kept failing) and the event reaches the webhook queue
    body = DispatchMessage(job_id=job.job_id, tenant_id="acme").model_dump_json(by_alias=True)
    assert dlq_handler.lambda_handler(sqs_event(sqs_record(body)), ctx) == {"batchItemFailures": []}
    assert store.get(job.job_id).error.code == "launch_failed"
    events = receive_as_lambda_event(aws.webhook_queue_url, wait_s=1)["Records"]
    assert len(events) == 1 and job.job_id in events[0]["body"]
    # batch events: a failure for a running job
    oom = load_event("batch_failed_oom.json")
    store.create(make_job("job-oom"))
    store.transition("job-oom", JobStatus.RUNNING)
    assert batch_handler.lambda_handler(oom, ctx) == {"failedJob": "job-oom"}
