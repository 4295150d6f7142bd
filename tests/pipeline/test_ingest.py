"""S3-upload trigger: real S3 -> EventBridge -> SQS deliveries from moto, and the bare AWS event shape."""

from __future__ import annotations

import json

import pytest

from diarist.adapters.aws import client
from diarist.adapters.s3_store import S3ObjectStore
from diarist.adapters.sqs_queue import SqsJobQueue
from diarist.domain.jobs import JobStatus
from diarist.services.ingest import Ingestor, parse_object_metadata
from functions.ingest import handler as ingest_handler
from tests.pipeline.conftest import load_event, receive_as_lambda_event

pytestmark = pytest.mark.integration


@pytest.fixture
def ingestor(aws, store, bus) -> Ingestor:
    return Ingestor(
        store=store,
        queue=SqsJobQueue(aws.job_queue_url),
        objects=S3ObjectStore(),
        events=bus,
        media_bucket=aws.media_bucket,
        results_bucket=aws.results_bucket,
    )


def _upload(aws, key: str, metadata: dict[str, str]) -> None:
    client("s3").put_object(Bucket=aws.media_bucket, Key=key, Body=b"RIFF....WAVE", Metadata=metadata)


def _dispatch_bodies(aws) -> list[dict]:
    return [json.loads(r["body"]) for r in receive_as_lambda_event(aws.job_queue_url)["Records"]]


def test_upload_creates_one_job_with_metadata_params(aws, store, ingestor) -> None:
    key = "incoming/acme/calls/2026-11-21/call 42.wav"
    _upload(
        aws,
        key,
        {
            "num-speakers": "2",
            "confidence": "true",
            "channel-mode": "split",
            "webhook": "https://hooks.example.com/diarist",
            "uploaded-by": "scanner-7",
        },
    )
    event = receive_as_lambda_event(aws.ingest_queue_url, wait_s=1)
    assert event["Records"], "moto delivered no S3 -> EventBridge -> SQS event"
    # every record twice: S3 -> EventBridge may deliver an event more than once
    doubled = {"Records": event["Records"] + event["Records"]}
    out = ingest_handler.process(doubled, ingestor)
    assert out == {"batchItemFailures": []}
    jobs, _ = store.list_for_tenant("acme", limit=10, cursor=None, status=None)
    assert len(jobs) == 1
    job = jobs[0]
    assert job.source == "s3" and job.status is JobStatus.PENDING
    assert job.input_url == f"s3://{aws.media_bucket}/{key}"
    assert job.params.num_speakers == 2 and job.params.confidence and job.params.channel_mode == "split"
    assert job.webhook_url == "https://hooks.example.com/diarist"
    assert job.result_prefix == f"s3://{aws.results_bucket}/results/acme/calls/2026-11-21/call 42.wav"
    bodies = _dispatch_bodies(aws)
    assert bodies and {b["jobId"] for b in bodies} == {job.job_id}


def test_bare_eventbridge_event_and_its_duplicate(aws, store, ingestor) -> None:
    event = load_event("s3_object_created.json")
    event["detail"]["bucket"]["name"] = aws.media_bucket
    # AWS URL-encodes keys in S3 notifications: "call+42.wav" is the object "call 42.wav"
    _upload(aws, "incoming/acme/calls/2026-11-21/call 42.wav", {})
    first = ingest_handler.process(event, ingestor)
    second = ingest_handler.process(event, ingestor)
    assert first["action"] == "created" and second == {"action": "duplicate", "jobId": first["jobId"]}
    job = store.get(first["jobId"])
    assert job.tenant_id == "acme" and job.input_url.endswith("/call 42.wav")
    # a new upload of the same key (a new sequencer) is a new job
    event["detail"]["object"]["sequencer"] = "00617F08299329D200"
    assert ingest_handler.process(event, ingestor)["action"] == "created"


def test_bad_metadata_creates_a_failed_job_naming_the_key(aws, store, bus, ingestor) -> None:
    _upload(aws, "incoming/acme/bad.wav", {"num-speakers": "two", "webhook": "https://hooks.example.com/x"})
    event = receive_as_lambda_event(aws.ingest_queue_url, wait_s=1)
    assert ingest_handler.process(event, ingestor) == {"batchItemFailures": []}
    jobs, _ = store.list_for_tenant("acme", limit=10, cursor=None, status=None)
    assert len(jobs) == 1
    job = jobs[0]
    assert job.status is JobStatus.FAILED and job.error.code == "input_invalid_metadata"
    assert "x-amz-meta-num-speakers" in job.error.message and "'two'" in job.error.message
    assert job.webhook_url == "https://hooks.example.com/x"  # the failure is still announced
    assert [(d.job_id, d.status) for d in bus.published] == [(job.job_id, JobStatus.FAILED)]
    assert _dispatch_bodies(aws) == []


def test_objects_outside_incoming_tenant_are_ignored(aws, store, ingestor) -> None:
    event = load_event("s3_object_created.json")
    event["detail"]["bucket"]["name"] = aws.media_bucket
    for key in ("media/acme/a.wav", "incoming/acme/", "incoming/a.wav"):
        event["detail"]["object"]["key"] = key
        assert ingest_handler.process(event, ingestor)["action"] == "ignored"
    event["detail"]["object"]["key"] = "incoming/acme/gone.wav"  # deleted before we looked
    assert ingest_handler.process(event, ingestor)["action"] == "ignored"


@pytest.mark.parametrize(
    ("meta", "expect", "error_key"),
    [
        ({"x-amz-meta-min-speakers": "2", "MAX-SPEAKERS": "4"}, {"min_speakers": 2, "max_speakers": 4}, None),
        (
            {"confidence": "yes", "turn-level-confidence": "0", "exclusive": "TRUE"},
            {"confidence": True, "turn_level_confidence": False, "exclusive": True},
            None,
        ),
        ({"num-speakers": "0"}, None, "x-amz-meta-num-speakers"),
        ({"min-speakers": "5", "max-speakers": "2"}, None, "x-amz-meta-min-speakers"),
        ({"num-speakers": "2", "max-speakers": "3"}, None, "x-amz-meta-num-speakers"),
        ({"channel-mode": "stereo"}, None, "x-amz-meta-channel-mode"),
        ({"confidence": "maybe"}, None, "x-amz-meta-confidence"),
        ({"webhook": "http://hooks.example.com/x"}, None, "x-amz-meta-webhook"),
        ({"webhook": "ftp://x"}, None, "x-amz-meta-webhook"),
    ],
)
def test_metadata_parsing(meta, expect, error_key) -> None:
    parsed = parse_object_metadata(meta)
    if error_key is None:
        assert parsed.errors == []
        for k, v in expect.items():
            assert getattr(parsed.params, k) == v
    else:
        assert [k for k, _ in parsed.errors] == [error_key], parsed.errors
        assert error_key in parsed.error_message()
    assert parse_object_metadata({"webhook": "http://localhost:9/x"}, allow_http=True).errors == []


def test_queued_events_that_are_not_object_created_are_dropped(aws, store, ingestor) -> None:
    from tests.pipeline.conftest import sqs_event, sqs_record

    other = {
        "version": "0",
        "id": "x",
        "detail-type": "Object Deleted",
        "source": "aws.s3",
        "detail": {"bucket": {"name": aws.media_bucket}, "object": {"key": "incoming/acme/a.wav"}},
    }
    broken = {"detail-type": "Object Created", "source": "aws.s3", "detail": {"bucket": {}}}
    event = sqs_event(sqs_record(json.dumps(other)), sqs_record(json.dumps(broken)))
    assert ingest_handler.process(event, ingestor) == {"batchItemFailures": []}
    assert store.list_for_tenant("acme", limit=5, cursor=None, status=None)[0] == []
    # nor is a body that is not JSON at all retried forever
    assert ingest_handler.process(sqs_event(sqs_record("not json")), ingestor) == {"batchItemFailures": []}
