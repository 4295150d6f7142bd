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


def test_take_runs_a_job_on_one_worker_at_a_time(store: DynamoJobStore) -> None:
    """``take``: from pending/created; a running job only when given back or its holder is silent."""
    from datetime import timedelta

    from diarist.domain.jobs import utcnow

    long_ago = utcnow() - timedelta(hours=1)
    store.create(_job("t1"))
    store.transition("t1", JobStatus.CREATED)
    taken = store.take("t1", "w-a", stale_before=long_ago, launch_id="batch-a")
    assert (taken.status, taken.worker_id, taken.launch_id, taken.worker_takes) == (
        JobStatus.RUNNING,
        "w-a",
        "batch-a",
        1,
    )
    # held by a live worker: another worker's take is refused and changes nothing
    with pytest.raises(InvalidTransition):
        store.take("t1", "w-b", stale_before=long_ago)
    # only the holder writes progress
    with pytest.raises(InvalidTransition):
        store.update("t1", only_if_status=[JobStatus.RUNNING], only_if_held_by="w-b", progress=10)
    store.update("t1", only_if_status=[JobStatus.RUNNING], only_if_held_by="w-a", progress=40)
    # given back (SIGTERM): the next take resumes it from 0
    store.update("t1", only_if_status=[JobStatus.RUNNING], only_if_held_by="w-a", worker_id=None)
    resumed = store.take("t1", "w-b", stale_before=long_ago, launch_id="batch-b")
    assert (resumed.worker_id, resumed.last_worker_id, resumed.progress, resumed.worker_takes) == (
        "w-b",
        "w-b",
        0,
        2,
    )
    # a holder silent since before stale_before (it died) is taken over
    over = store.take("t1", "w-c", stale_before=utcnow() + timedelta(seconds=1))
    assert over.worker_id == "w-c" and over.worker_takes == 3
    # a terminal job is never taken
    store.transition("t1", JobStatus.CANCELED)
    with pytest.raises(InvalidTransition):
        store.take("t1", "w-d", stale_before=utcnow() + timedelta(hours=1))
    with pytest.raises(JobNotFound):
        store.take("missing", "w-d", stale_before=long_ago)
