"""DynamoJobStore against the moto server: conditional writes enforce the state machine."""

from __future__ import annotations

import pytest

from diarist.adapters.dynamo_jobs import DynamoJobStore
from diarist.domain.errors import Conflict, InvalidTransition, JobNotFound, ValidationFailed
from diarist.domain.jobs import Job, JobStatus

pytestmark = pytest.mark.integration


@pytest.fixture
def store(aws) -> DynamoJobStore:
    return DynamoJobStore(aws.table)


def _job(job_id: str, tenant: str = "t1") -> Job:
    return Job(job_id=job_id, tenant_id=tenant, input_url="s3://b/k")


def test_create_get_roundtrip(store: DynamoJobStore) -> None:
    store.create(_job("j1"))
    job = store.get("j1")
    assert job is not None and job.status is JobStatus.PENDING and job.tenant_id == "t1"
    with pytest.raises(Conflict):
        store.create(_job("j1"))


def test_transitions_are_conditional(store: DynamoJobStore) -> None:
    store.create(_job("j2"))
    with pytest.raises(InvalidTransition, match="pending"):
        store.transition("j2", JobStatus.SUCCEEDED)
    store.transition("j2", JobStatus.CREATED, launch_id="batch-1")
    running = store.transition("j2", JobStatus.RUNNING)
    assert running.started_at is not None and running.launch_id == "batch-1"
    store.transition("j2", JobStatus.CANCELED)
    # a canceled job stays canceled: the worker's late success is refused
    with pytest.raises(InvalidTransition, match="canceled"):
        store.transition("j2", JobStatus.SUCCEEDED, result_location="s3://r/x")
    final = store.get("j2")
    assert final is not None and final.status is JobStatus.CANCELED and final.result_location is None


def test_update_only_if_status(store: DynamoJobStore) -> None:
    store.create(_job("j3"))
    store.transition("j3", JobStatus.RUNNING)
    assert store.update("j3", only_if_status=[JobStatus.RUNNING], progress=40).progress == 40
    store.transition("j3", JobStatus.FAILED)
    with pytest.raises(InvalidTransition):
        store.update("j3", only_if_status=[JobStatus.RUNNING], progress=50)
    with pytest.raises(JobNotFound):
        store.update("missing", progress=1)


def test_tenant_listing_newest_first_with_cursor(store: DynamoJobStore) -> None:
    for i in range(5):
        store.create(_job(f"a{i}", "tA"))
    store.create(_job("b0", "tB"))
    page1, cursor = store.list_for_tenant("tA", limit=3, cursor=None, status=None)
    assert [j.job_id for j in page1] == ["a4", "a3", "a2"]
    assert cursor
    page2, cursor2 = store.list_for_tenant("tA", limit=3, cursor=cursor, status=None)
    assert [j.job_id for j in page2] == ["a1", "a0"]
    assert cursor2 is None
    store.transition("a1", JobStatus.CANCELED)
    only, _ = store.list_for_tenant("tA", limit=10, cursor=None, status=JobStatus.CANCELED)
    assert [j.job_id for j in only] == ["a1"]
    with pytest.raises(ValidationFailed):
        store.list_for_tenant("tA", limit=3, cursor="garbage!", status=None)
