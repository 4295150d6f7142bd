"""finish_job / mark_running / progress against the moto-backed store."""

from __future__ import annotations

import pytest

from diarist.domain.errors import AudioInputError, ErrorCode
from diarist.domain.jobs import JobStatus
from diarist.services.lifecycle import ProgressReporter, finish_job, mark_running, report_progress
from tests.pipeline.conftest import make_job

pytestmark = pytest.mark.integration


def test_finish_job_publishes_exactly_once(store, bus) -> None:
    store.create(make_job("j1"))
    assert mark_running(store, "j1") is not None
    job = finish_job(
        store, bus, "j1", JobStatus.SUCCEEDED, result_location="s3://r/results/t1/j1/result.json"
    )
    assert job is not None and job.status is JobStatus.SUCCEEDED and job.progress == 100
    # a late failure (e.g. a Batch event after the worker reported) is refused and publishes nothing
    assert finish_job(store, bus, "j1", JobStatus.FAILED, error=(ErrorCode.WORKER_CRASHED, "x")) is None
    assert [(d.status, d.output_location) for d in bus.published] == [
        (JobStatus.SUCCEEDED, "s3://r/results/t1/j1/result.json")
    ]
    assert store.get("j1").error is None


def test_finish_job_failed_records_error_from_typed_exception(store, bus) -> None:
    store.create(make_job("j2"))
    job = finish_job(
        store, bus, "j2", JobStatus.FAILED, error=AudioInputError("no audio", code=ErrorCode.INPUT_NO_AUDIO)
    )
    assert job is not None and job.error is not None and job.error.code == "input_no_audio"
    assert bus.published[0].error is not None and bus.published[0].error.message == "no audio"


def test_finish_job_rejects_non_terminal_and_missing(store, bus) -> None:
    with pytest.raises(ValueError):
        finish_job(store, bus, "nope", JobStatus.RUNNING)
    assert finish_job(store, bus, "nope", JobStatus.FAILED, error=("internal_error", "x")) is None
    assert bus.published == []


def test_mark_running_refuses_canceled_and_resumes_running(store) -> None:
    store.create(make_job("c1"))
    store.transition("c1", JobStatus.CANCELED)
    assert mark_running(store, "c1") is None
    store.create(make_job("r1"))
    assert mark_running(store, "r1").status is JobStatus.RUNNING
    report_progress(store, "r1", 40)
    resumed = mark_running(store, "r1")  # a Batch retry attempt
    assert resumed is not None and resumed.progress == 0
    assert mark_running(store, "r1", allow_resume=False) is None


def test_progress_reporter_throttles_and_notices_cancel(store) -> None:
    store.create(make_job("p1"))
    mark_running(store, "p1")
    now = [0.0]
    rep = ProgressReporter(store, "p1", min_interval_s=10, min_step=5, clock=lambda: now[0])
    for pct in (1, 2, 3, 4):
        assert rep(pct)
    assert rep.writes == 0
    assert rep(6) and rep.writes == 1 and store.get("p1").progress == 6
    now[0] = 11.0
    assert rep(7) and rep.writes == 2 and store.get("p1").progress == 7
    assert rep(3) and store.get("p1").progress == 7  # never backwards, and not written
    store.transition("p1", JobStatus.CANCELED)
    assert rep(50) is False and rep.still_running is False
    assert rep(60) is False and rep.writes == 3
    assert store.get("p1").progress == 7
