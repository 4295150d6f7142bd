"""Fixtures for the pipeline tests: the moto-backed store, a recording event bus, job factories."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from diarist.domain.jobs import Job
from diarist.domain.messages import JobFinishedDetail
from tests import events

EVENTS = Path(__file__).parent / "events"


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


class RecordingEventBus:
    """An in-memory ``ports.EventBus`` that keeps every published detail."""

    def __init__(self) -> None:
        self.published: list[JobFinishedDetail] = []

    def job_finished(self, detail: JobFinishedDetail) -> None:
        self.published.append(detail)


@pytest.fixture(scope="package", autouse=True)
def _one_boto3_session():
    """Speed: ``diarist.adapters.aws.client`` builds every client from a new ``boto3`` Session, which
    reloads the service models (~0.3 s per client; the ``aws`` fixture resets the clients before each
    test). Here, argument-less ``Session()`` calls share one session, so only the clients are rebuilt.
    Scoped to this package; nothing else changes (same endpoint, credentials and client config)."""
    import boto3.session

    real = boto3.session.Session
    shared: dict[str, Any] = {}

    def session(*args: Any, **kwargs: Any) -> Any:
        if args or kwargs:
            return real(*args, **kwargs)
        if "s" not in shared:
            shared["s"] = real()
        return shared["s"]

    boto3.session.Session = session  # type: ignore[misc]
    yield
    boto3.session.Session = real  # type: ignore[misc]


@pytest.fixture
def store(aws):
    from diarist.adapters.dynamo_jobs import DynamoJobStore

    return DynamoJobStore(aws.table)


@pytest.fixture
def bus() -> RecordingEventBus:
    return RecordingEventBus()


def make_job(job_id: str, tenant: str = "t1", **kw: Any) -> Job:
    kw.setdefault("input_url", "s3://diarist-media/media/t1/a.wav")
    return Job(job_id=job_id, tenant_id=tenant, **kw)


def sqs_record(
    body: str, *, message_id: str | None = None, arn: str | None = None, receive_count: int = 1
) -> dict[str, Any]:
    """An SQS Lambda record (the shape in ``events/sqs_dispatch_record.json``) around ``body``."""
    import hashlib
    import uuid

    record = load_event("sqs_dispatch_record.json")
    record["body"] = body
    record["md5OfBody"] = hashlib.md5(body.encode()).hexdigest()  # noqa: S324 - SQS's own digest
    record["messageId"] = message_id or str(uuid.uuid4())
    record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
    if arn:
        record["eventSourceARN"] = arn
    return record


def sqs_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def receive_as_lambda_event(queue_url: str, *, max_messages: int = 10, wait_s: int = 0) -> dict[str, Any]:
    """Receive from a real (moto) queue and shape the messages as the SQS -> Lambda event."""
    from diarist.adapters.aws import client

    sqs = client("sqs")
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    resp = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=max_messages, WaitTimeSeconds=wait_s, AttributeNames=["All"]
    )
    return events.sqs_event(resp.get("Messages", []), arn)


def wav_bytes(seconds: float = 5.0, rate: int = 16000, channels: int = 1) -> bytes:
    """A real (silent) PCM WAV file."""
    import io
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * channels * int(seconds * rate))
    return buf.getvalue()
