"""Fixtures for the API tests: the moto-backed environment, two tenants with keys, and ``call``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.api.events import LambdaContext, rest_event


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any
    raw: dict[str, Any] = field(repr=False, default_factory=dict)
    raw_event: dict[str, Any] = field(repr=False, default_factory=dict)

    def fields(self) -> list[str]:
        """The ``field`` of each error (pyannote dialect)."""
        return [e["field"] for e in self.body.get("errors", [])]


@dataclass
class Api:
    resources: Any
    key_a: str
    key_b: str

    def call(self, method: str, path: str, *, token: str | None | bool = True, **kwargs: Any) -> Reply:
        from functions.api.handler import lambda_handler

        tok = self.key_a if token is True else (None if token is False else token)
        event = rest_event(method, path, token=tok, **kwargs)
        resp = lambda_handler(event, LambdaContext())
        body = resp.get("body")
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = body
        headers = {k.lower(): v for k, v in (resp.get("headers") or {}).items()}
        for k, vs in (resp.get("multiValueHeaders") or {}).items():
            headers.setdefault(k.lower(), vs[0])
        return Reply(resp["statusCode"], headers, parsed, resp, event)

    @property
    def store(self):
        from functions.api import deps

        return deps.job_store()

    def queue_messages(self) -> list[dict[str, Any]]:
        from diarist.adapters.aws import client

        msgs = (
            client("sqs")
            .receive_message(QueueUrl=self.resources.job_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            .get("Messages", [])
        )
        return [json.loads(m["Body"]) for m in msgs]


@pytest.fixture
def api(aws) -> Iterator[Api]:
    from functions.api import deps

    deps.reset()
    keys = deps.apikey_service()
    _, key_a = keys.create("tenant-a", "test A")
    _, key_b = keys.create("tenant-b", "test B")
    yield Api(aws, key_a, key_b)
    deps.reset()


def small_result(channels: int = 1, *, confidence: bool = False) -> Any:
    from diarist.domain.results import ChannelResult, Confidence, DiarizationResult, Turn

    chans = []
    for c in range(channels):
        turns = [
            Turn(speaker="SPEAKER_00", start=0.5, end=4.0, confidence=91.0),
            Turn(speaker="SPEAKER_01", start=3.5, end=7.25, confidence=80.0),
            Turn(speaker="SPEAKER_00", start=8.0, end=9.5, confidence=77.5),
        ]
        excl = [
            Turn(speaker="SPEAKER_00", start=0.5, end=3.5),
            Turn(speaker="SPEAKER_01", start=3.5, end=7.25),
            Turn(speaker="SPEAKER_00", start=8.0, end=9.5),
        ]
        chans.append(
            ChannelResult(
                channel=c if channels > 1 else None,
                speakers=["SPEAKER_00", "SPEAKER_01"],
                diarization=turns,
                exclusive_diarization=excl,
                confidence=Confidence(score=[90, 80, 70]) if confidence else None,
            )
        )
    return DiarizationResult(
        duration=10.0,
        sample_rate=16000,
        num_channels=channels,
        channel_mode="split" if channels > 1 else "mix",
        channels=chans,
        model="test",
    )


def finish_with_result(api: Api, job_id: str, tenant_id: str, result: Any) -> str:
    """Do what the worker does: store the result JSON in S3 and mark the job succeeded."""
    from diarist.adapters.aws import client
    from diarist.domain.jobs import JobStatus

    key = f"results/{tenant_id}/{job_id}/result.json"
    body = result.model_dump_json(by_alias=True).encode()  # as the worker writes it
    client("s3").put_object(
        Bucket=api.resources.results_bucket, Key=key, Body=body, ContentType="application/json"
    )
    api.store.transition(job_id, JobStatus.RUNNING, launch_id="batch-job-1")
    api.store.transition(
        job_id, JobStatus.SUCCEEDED, result_location=f"s3://{api.resources.results_bucket}/{key}"
    )
    return key
