"""Fixtures for the pipeline tests: the moto-backed store, a recording event bus, job factories."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from diarist.domain.jobs import Job
from diarist.domain.messages import JobFinishedDetail

EVENTS = Path(__file__).parent / "events"


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


class RecordingEventBus:
    """An in-memory ``ports.EventBus`` that keeps every published detail."""

    def __init__(self) -> None:
        self.published: list[JobFinishedDetail] = []

    def job_finished(self, detail: JobFinishedDetail) -> None:
        self.published.append(detail)


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
