"""Batch state-change handler: real EventBridge event shapes -> jobs end failed with a reason."""

from __future__ import annotations

import json

import pytest

from diarist.domain.jobs import JobStatus
from diarist.services.failures import handle_worker_exit
from functions.batch_events import handler as batch_handler
from tests.pipeline.conftest import load_event, make_job, sqs_event, sqs_record

pytestmark = pytest.mark.integration


def _running(store, job_id: str, launch_id: str | None) -> None:
    store.create(make_job(job_id))
    store.transition(job_id, JobStatus.CREATED, launch_id=launch_id)
    store.transition(job_id, JobStatus.RUNNING)


@pytest.mark.parametrize(
    ("fixture", "job_id", "code", "words"),
    [
        ("batch_failed_oom.json", "job-oom", "worker_crashed", ["out of memory", "OutOfMemoryError"]),
        ("batch_failed_spot.json", "job-spot", "worker_crashed", ["i-0a1b2c3d4e5f60003", "after 3 attempts"]),
        (
            "batch_failed_timeout.json",
            "job-timeout",
            "worker_timeout",
            ["exceeded timeout"],
        ),  # no `account`, id from jobName
        ("batch_succeeded.json", "job-ok", "worker_crashed", ["without reporting"]),
    ],
)
def test_final_batch_event_fails_a_job_still_running(store, bus, fixture, job_id, code, words) -> None:
    event = load_event(fixture)
    _running(store, job_id, event["detail"]["jobId"])
    out = batch_handler.process(event, store, bus)
    assert out == {"failedJob": job_id}
    job = store.get(job_id)
    assert job.status is JobStatus.FAILED and job.error.code == code
    for w in words:
        assert w in job.error.message
    assert [(d.job_id, d.status) for d in bus.published] == [(job_id, JobStatus.FAILED)]
    # the same event again (EventBridge delivers at least once): nothing more happens
    assert batch_handler.process(event, store, bus) == {"failedJob": None}
    assert len(bus.published) == 1


def test_event_for_finished_job_older_launch_or_non_final_status_changes_nothing(store, bus) -> None:
    oom = load_event("batch_failed_oom.json")
    # the worker reported success before Batch's event arrived
    _running(store, "job-oom", oom["detail"]["jobId"])
    store.transition("job-oom", JobStatus.SUCCEEDED, result_location="s3://r/k.json")
    assert batch_handler.process(oom, store, bus) == {"failedJob": None}
    assert store.get("job-oom").status is JobStatus.SUCCEEDED
    # an older launch's failure must not fail the job a newer launch is running
    spot = load_event("batch_failed_spot.json")
    _running(store, "job-spot", "another-batch-job-id")
    assert batch_handler.process(spot, store, bus) == {"failedJob": None}
    assert store.get("job-spot").status is JobStatus.RUNNING
    runnable = load_event("batch_runnable.json")
    assert batch_handler.process(runnable, store, bus) == {"failedJob": None}
    assert bus.published == []


def test_sqs_wrapped_events_and_bad_records(store, bus) -> None:
    oom = load_event("batch_failed_oom.json")
    _running(store, "job-oom", oom["detail"]["jobId"])
    event = sqs_event(
        sqs_record(json.dumps(oom), message_id="ok"),
        sqs_record('{"detail-type": "Batch Job State Change", "detail": {}}', message_id="bad"),
    )
    out = batch_handler.process(event, store, bus)
    assert out == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    assert store.get("job-oom").status is JobStatus.FAILED


def test_local_worker_exit_uses_the_same_failure_path(store, bus) -> None:
    _running(store, "l1", "local-4242")
    assert handle_worker_exit(store, bus, "l1", 0) is not None
    assert store.get("l1").status is JobStatus.FAILED and "without reporting" in store.get("l1").error.message
    _running(store, "l2", "local-4243")
    handle_worker_exit(store, bus, "l2", -9)
    assert "signal 9" in store.get("l2").error.message
    store.create(make_job("l3"))
    store.transition("l3", JobStatus.RUNNING)
    store.transition("l3", JobStatus.SUCCEEDED)
    assert handle_worker_exit(store, bus, "l3", 1) is None
    assert [d.job_id for d in bus.published] == ["l1", "l2"]
