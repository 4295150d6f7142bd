"""The outbox and the sweeper, with faults injected against the moto server: a completion event
whose publish fails, a lost dispatch message, a job that never gets GPU capacity, a worker that
vanished, a late worker, two sweepers at once. Time is moved by passing ``now`` to the sweep."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest

from diarist.adapters.aws import client
from diarist.adapters.dynamo_fleet import DynamoWorkerFleet
from diarist.adapters.dynamo_launch_claims import DynamoLaunchClaims
from diarist.adapters.dynamo_sweep import DynamoSweepIndex
from diarist.adapters.sqs_queue import SqsJobQueue
from diarist.adapters.sqs_work_queue import SqsWorkQueue
from diarist.domain.errors import ErrorCode, InvalidTransition
from diarist.domain.jobs import JobStatus, utcnow
from diarist.domain.messages import (
    DispatchMessage,
    JobFinishedDetail,
    WorkerSpec,
    WorkMessage,
    completion_event_id,
)
from diarist.ports import LaunchFailed, WorkerStatus
from diarist.services.dispatch import Dispatcher
from diarist.services.fleet import FleetScaler
from diarist.services.lifecycle import ProgressReporter, finish_job, mark_running, report_progress
from diarist.services.sweeper import (
    EVENT_REPUBLISHED,
    JOB_REQUEUED,
    JOB_RESUMED,
    LAUNCH_FAILED,
    NO_CAPACITY,
    WORKER_LOST,
    WORKER_START_FAILED,
    Sweeper,
    SweepPolicy,
)
from diarist.testing.fake_engine import FakeJobDiarizer
from diarist.testing.fake_launcher import FakeLauncher
from tests.pipeline.conftest import RecordingEventBus, make_job, wav_bytes

pytestmark = pytest.mark.integration

POLICY = SweepPolicy(
    outbox_after_s=10,
    pending_after_s=300,
    max_requeues=2,
    capacity_timeout_s=3600,
    worker_lost_after_s=600,
)


class FlakyBus(RecordingEventBus):
    """``ports.EventBus`` whose ``put_events`` fails the first ``failures`` times (EventBridge down)."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.calls = 0

    def job_finished(self, detail: JobFinishedDetail) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError("EventBridge refused the event: ServiceUnavailable")
        super().job_finished(detail)


def _sweeper(aws, store, bus, policy: SweepPolicy = POLICY, launcher=None) -> Sweeper:
    return Sweeper(
        store=store,
        index=DynamoSweepIndex(aws.table),
        events=bus,
        queue=SqsJobQueue(aws.job_queue_url),
        launcher=launcher,
        policy=policy,
        work=SqsWorkQueue(aws.work_queue_url),
        scaler=FleetScaler(DynamoWorkerFleet(aws.table), launcher) if launcher is not None else None,
    )


def _work_queued(aws) -> list[str]:
    resp = client("sqs").receive_message(QueueUrl=aws.work_queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"])["jobId"] for m in resp.get("Messages", [])]


def _later(seconds: float):
    return utcnow() + timedelta(seconds=seconds)


def _queued(aws) -> list[dict]:
    resp = client("sqs").receive_message(QueueUrl=aws.job_queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in resp.get("Messages", [])]


# --- the outbox ----------------------------------------------------------------------------------
def test_terminal_write_owes_the_event_and_a_publish_clears_it(store, bus) -> None:
    store.create(make_job("o-ok"))
    mark_running(store, "o-ok")
    job = finish_job(store, bus, "o-ok", JobStatus.SUCCEEDED, result_location="s3://r/x.json")
    assert job is not None and job.event_owed_at is not None  # the same write owed the event
    assert store.get("o-ok").event_owed_at is None  # published, then cleared
    (detail,) = bus.published
    assert detail.version == 2 and detail.finished_at == job.finished_at
    assert detail.event_id == completion_event_id("o-ok", JobStatus.SUCCEEDED)


def test_event_lost_once_is_published_by_the_sweeper_exactly_once(aws, store) -> None:
    bus = FlakyBus(failures=1)
    store.create(make_job("o-1"))
    mark_running(store, "o-1")
    job = finish_job(store, bus, "o-1", JobStatus.SUCCEEDED, result_location="s3://r/x.json")
    assert job is not None and job.status is JobStatus.SUCCEEDED  # the job ended all the same
    assert bus.published == [] and store.get("o-1").event_owed_at is not None
    sweeper = _sweeper(aws, store, bus)
    assert sweeper.sweep().resolved[EVENT_REPUBLISHED] == 0  # too early: finish_job may still publish
    report = sweeper.sweep(now=_later(30))
    assert report.resolved[EVENT_REPUBLISHED] == 1
    (detail,) = bus.published
    assert (detail.job_id, detail.status, detail.output_location) == (
        "o-1",
        JobStatus.SUCCEEDED,
        "s3://r/x.json",
    )
    assert detail.event_id == completion_event_id("o-1", JobStatus.SUCCEEDED)
    assert store.get("o-1").event_owed_at is None
    for _ in range(3):  # and never again
        assert sweeper.sweep(now=_later(3600)).resolved[EVENT_REPUBLISHED] == 0
    assert len(bus.published) == 1


def test_event_bus_down_for_a_while_then_published_once(aws, store) -> None:
    bus = FlakyBus(failures=4)  # finish_job's publish and the next three sweeps fail
    store.create(make_job("o-2"))
    assert finish_job(store, bus, "o-2", JobStatus.FAILED, error=("input_silent", "no speech")) is not None
    sweeper = _sweeper(aws, store, bus, SweepPolicy(outbox_after_s=10, outbox_lease_s=60))
    for i in range(3):  # each failed attempt leaves it owed; the lease keeps it for the next round
        assert sweeper.sweep(now=_later(30 + 120 * i)).resolved[EVENT_REPUBLISHED] == 0
        assert store.get("o-2").event_owed_at is not None
    assert sweeper.sweep(now=_later(30 + 120 * 3)).resolved[EVENT_REPUBLISHED] == 1
    assert sweeper.sweep(now=_later(3600)).resolved[EVENT_REPUBLISHED] == 0
    assert [(d.job_id, d.status) for d in bus.published] == [("o-2", JobStatus.FAILED)]


def test_outbox_through_eventbridge_reaches_the_webhook_queue(aws, store) -> None:
    """The real adapter: the republished event is on the webhook queue with its id."""
    from diarist.adapters.events import EventBridgeBus

    store.create(make_job("o-3"))
    assert finish_job(store, FlakyBus(failures=1), "o-3", JobStatus.CANCELED) is not None
    _sweeper(aws, store, EventBridgeBus(aws.event_bus)).sweep(now=_later(30))
    resp = client("sqs").receive_message(QueueUrl=aws.webhook_queue_url, MaxNumberOfMessages=10)
    (message,) = resp["Messages"]
    event = json.loads(message["Body"])
    assert event["detail-type"] == "Diarization Job Canceled"
    assert event["detail"]["eventId"] == completion_event_id("o-3", JobStatus.CANCELED)
    assert event["detail"]["jobId"] == "o-3" and event["detail"]["finishedAt"]


# --- pending: a lost dispatch message -------------------------------------------------------------
def test_lost_dispatch_message_is_requeued_and_the_job_completes(aws, store, bus) -> None:
    from diarist.settings import WorkerSettings, load
    from diarist.worker.main import run_worker

    key = "media/t1/a.wav"
    client("s3").put_object(Bucket=aws.media_bucket, Key=key, Body=wav_bytes(1.0))
    store.create(make_job("p-1", input_url=f"s3://{aws.media_bucket}/{key}"))
    # its message was sent, then lost (purged): nothing on the queue
    sweeper = _sweeper(aws, store, bus)
    assert sweeper.sweep(now=_later(60)).resolved[JOB_REQUEUED] == 0  # not late yet
    assert sweeper.sweep(now=_later(400)).resolved[JOB_REQUEUED] == 1
    (body,) = _queued(aws)
    message = DispatchMessage.model_validate(body)
    assert (message.job_id, message.tenant_id) == ("p-1", "t1")
    launcher = FakeLauncher()
    dispatcher = Dispatcher(
        store=store,
        claims=DynamoLaunchClaims(aws.table),
        work=SqsWorkQueue(aws.work_queue_url),
        scaler=FleetScaler(DynamoWorkerFleet(aws.table), launcher),
    )
    assert dispatcher.dispatch(message).action == "queued"
    assert dispatcher.dispatch(message).action == "already_queued"  # a duplicate is harmless
    assert len(launcher.launched) == 1
    assert run_worker("p-1", "t1", settings=load(WorkerSettings), events=bus, diarizer=FakeJobDiarizer()) == 0
    assert store.get("p-1").status is JobStatus.SUCCEEDED
    assert sweeper.sweep(now=_later(5000)).resolved == {}  # nothing left to resolve
    assert [(d.job_id, d.status) for d in bus.published] == [("p-1", JobStatus.SUCCEEDED)]


def test_pending_requeues_are_bounded_then_launch_failed(aws, store, bus) -> None:
    store.create(make_job("p-2"))
    sweeper = _sweeper(aws, store, bus)
    assert sweeper.sweep(now=_later(400)).resolved[JOB_REQUEUED] == 1
    assert sweeper.sweep(now=_later(500)).resolved[JOB_REQUEUED] == 0  # the deadline restarted
    assert sweeper.sweep(now=_later(800)).resolved[JOB_REQUEUED] == 1
    assert store.get("p-2").sweep_requeues == 2
    report = sweeper.sweep(now=_later(1200))
    assert report.resolved[LAUNCH_FAILED] == 1 and report.resolved[JOB_REQUEUED] == 0
    job = store.get("p-2")
    assert job.status is JobStatus.FAILED and job.error.code == ErrorCode.LAUNCH_FAILED
    assert "after 2 requeues" in job.error.message
    assert len(_queued(aws)) == 2 and [d.status for d in bus.published] == [JobStatus.FAILED]


def test_pending_with_a_live_launch_claim_is_left_to_its_dispatcher(aws, store, bus) -> None:
    store.create(make_job("p-3"))
    assert DynamoLaunchClaims(aws.table).claim("p-3", "tok", stale_before=utcnow() - timedelta(hours=1))
    # the claim is fresh relative to the sweep's "now" only if now is within launch_claim_stale_s
    policy = SweepPolicy(pending_after_s=30, launch_claim_stale_s=300)
    assert _sweeper(aws, store, bus, policy).sweep(now=_later(60)).resolved == {}
    assert store.get("p-3").status is JobStatus.PENDING and _queued(aws) == []


# --- created: no capacity -------------------------------------------------------------------------
def test_created_past_the_capacity_timeout_fails_no_capacity(aws, store, bus) -> None:
    store.create(make_job("c-1"))
    store.transition("c-1", JobStatus.CREATED)
    launcher = FakeLauncher(fail_with=LaunchFailed("batch submit_job: no capacity"))
    sweeper = _sweeper(aws, store, bus, launcher=launcher)
    assert sweeper.sweep(now=_later(1800)).resolved == {}  # it tried to launch a worker again
    assert store.get("c-1").status is JobStatus.CREATED
    assert sweeper.sweep(now=_later(3700)).resolved[NO_CAPACITY] == 1
    job = store.get("c-1")
    assert job.status is JobStatus.FAILED and job.error.code == ErrorCode.NO_CAPACITY
    assert "no GPU capacity" in job.error.message and "60 minutes" in job.error.message
    assert [(d.job_id, d.error.code) for d in bus.published] == [("c-1", "no_capacity")]
    assert launcher.terminated == []  # a queued job has no container of its own
    assert sweeper.sweep(now=_later(7200)).resolved == {}


def test_waiting_jobs_get_a_worker_when_a_launch_was_lost(aws, store, bus) -> None:
    """A dispatcher queued the job and died before launching a worker: the sweep launches one."""
    store.create(make_job("c-2"))
    store.transition("c-2", JobStatus.CREATED)
    launcher = FakeLauncher()
    sweeper = _sweeper(aws, store, bus, launcher=launcher)
    sweeper.sweep()
    assert len(launcher.launched) == 1
    sweeper.sweep()  # the worker counts (starting): no second launch
    assert len(launcher.launched) == 1


def test_waiting_jobs_fail_worker_start_failed_after_failed_worker_starts(aws, store, bus) -> None:
    """Worker after worker could not start (a bad image): the jobs waiting when the last start
    failed end ``worker_start_failed`` with its reason, not ``no_capacity`` an hour later; a job
    queued after it waits for the next start."""
    fleet = DynamoWorkerFleet(aws.table)
    launcher = FakeLauncher()
    for job_id in ("ws-1", "ws-2"):
        store.create(make_job(job_id))
        store.transition(job_id, JobStatus.CREATED)
    sweeper = _sweeper(aws, store, bus, SweepPolicy(max_worker_start_failures=3), launcher)
    reason = "the worker container could not start: CannotPullContainerError: manifest unknown"
    for n in range(2):
        fleet.start_failed(f"w-{n}", reason, at=utcnow())
    assert sweeper.sweep().resolved[WORKER_START_FAILED] == 0  # two in a row: not yet
    assert store.get("ws-1").status is JobStatus.CREATED
    fleet.start_failed("w-2", reason, at=utcnow())
    store.create(make_job("ws-3"))  # queued after the last failed start
    store.transition("ws-3", JobStatus.CREATED)
    report = sweeper.sweep()
    assert report.resolved[WORKER_START_FAILED] == 2 and report.resolved[NO_CAPACITY] == 0
    for job_id in ("ws-1", "ws-2"):
        job = store.get(job_id)
        assert job.status is JobStatus.FAILED and job.error.code == ErrorCode.WORKER_START_FAILED
        assert "3 worker starts failed in a row" in job.error.message and "CannotPull" in job.error.message
        assert "GPU capacity" not in job.error.message
    assert store.get("ws-3").status is JobStatus.CREATED
    assert sorted((d.job_id, d.error.code) for d in bus.published) == [
        ("ws-1", "worker_start_failed"),
        ("ws-2", "worker_start_failed"),
    ]
    # a worker starts after all (the image was fixed): the count resets, ws-3 keeps waiting
    fleet.report("w-ok", _later(120), first=True)
    assert sweeper.sweep().resolved[WORKER_START_FAILED] == 0
    assert store.get("ws-3").status is JobStatus.CREATED
    # and capacity that never comes still ends as no_capacity
    assert sweeper.sweep(now=_later(3700)).resolved[NO_CAPACITY] == 1
    assert store.get("ws-3").error.code == ErrorCode.NO_CAPACITY


# --- running: ask the launcher about the worker that holds the job ------------------------------
def _held(store, job_id: str, launch_id: str):
    store.create(make_job(job_id))
    store.transition(job_id, JobStatus.CREATED)
    return store.take(job_id, f"w-{job_id}", stale_before=utcnow(), launch_id=launch_id)


def test_a_batch_job_that_disappeared_resumes_its_job_then_bounded(aws, store, bus) -> None:
    launcher = FakeLauncher()  # knows no "batch-gone": DescribeJobs would return nothing
    _held(store, "g-1", "batch-gone")
    sweeper = _sweeper(aws, store, bus, SweepPolicy(worker_lost_after_s=600, max_worker_takes=2), launcher)
    assert sweeper.sweep(now=_later(300)).resolved == {}
    report = sweeper.sweep(now=_later(700))
    assert report.resolved[JOB_RESUMED] == 1 and report.resolved[WORKER_LOST] == 0
    job = store.get("g-1")
    assert job.status is JobStatus.RUNNING and job.worker_id is None  # given back
    assert _work_queued(aws) == ["g-1"] and len(launcher.launched) == 1  # queued again, a worker for it
    # the next worker takes it (2nd take) and its container vanishes too: bounded, worker_lost
    store.take("g-1", "w-2", stale_before=utcnow(), launch_id="batch-gone-too")
    report = sweeper.sweep(now=_later(1400))
    assert report.resolved[WORKER_LOST] == 1 and report.resolved[JOB_RESUMED] == 0
    job = store.get("g-1")
    assert job.status is JobStatus.FAILED and job.error.code == ErrorCode.WORKER_LOST
    assert "gone" in job.error.message and "taken 2 time(s)" in job.error.message
    assert [(d.job_id, d.status) for d in bus.published] == [("g-1", JobStatus.FAILED)]


def test_a_hung_worker_fails_its_job_and_its_container_is_terminated(aws, store, bus) -> None:
    launcher = FakeLauncher()
    live = launcher.launch(WorkerSpec(worker_id="w-h-1"))  # Batch says RUNNING, but it is silent
    _held(store, "h-1", live)
    report = _sweeper(aws, store, bus, launcher=launcher).sweep(now=_later(700))
    assert report.resolved[WORKER_LOST] == 1
    assert store.get("h-1").error.code == ErrorCode.WORKER_LOST
    assert [t[0] for t in launcher.terminated] == [live]


# --- running: the worker vanished -----------------------------------------------------------------
def test_running_without_heartbeat_fails_worker_lost(aws, store, bus) -> None:
    store.create(make_job("r-1"))
    mark_running(store, "r-1")
    sweeper = _sweeper(aws, store, bus)
    assert sweeper.sweep(now=_later(300)).resolved == {}
    assert sweeper.sweep(now=_later(700)).resolved[WORKER_LOST] == 1
    job = store.get("r-1")
    assert job.status is JobStatus.FAILED and job.error.code == ErrorCode.WORKER_LOST
    assert "no heartbeat" in job.error.message
    assert [(d.job_id, d.error.code) for d in bus.published] == [("r-1", "worker_lost")]


def test_a_heartbeat_keeps_a_long_running_job_alive(aws, store, bus) -> None:
    store.create(make_job("r-2"))
    mark_running(store, "r-2")
    sweeper = _sweeper(aws, store, bus, SweepPolicy(worker_lost_after_s=600))
    # the run started long ago (by the sweep's clock) but the worker wrote just now
    assert sweeper.sweep(now=_later(590)).resolved == {}
    report_progress(store, "r-2", 10)
    assert sweeper.sweep(now=store.get("r-2").updated_at + timedelta(seconds=599)).resolved == {}
    assert store.get("r-2").status is JobStatus.RUNNING


def test_a_heartbeat_between_read_and_write_wins(aws, store) -> None:
    store.create(make_job("r-3"))
    read = mark_running(store, "r-3")
    report_progress(store, "r-3", 20)  # the worker is alive after all
    with pytest.raises(InvalidTransition):
        store.transition(
            "r-3", JobStatus.FAILED, only_from=[JobStatus.RUNNING], unchanged_since=read.updated_at
        )
    assert store.get("r-3").status is JobStatus.RUNNING


def test_worker_heartbeats_even_when_progress_does_not_change(store) -> None:
    store.create(make_job("r-4"))
    mark_running(store, "r-4")
    before = store.get("r-4").updated_at
    reporter = ProgressReporter(store, "r-4", min_interval_s=0.05, min_step=5)
    done = threading.Event()
    with reporter.heartbeating():
        done.wait(2.5)  # the engine reports nothing meanwhile
    assert reporter.writes >= 1
    assert store.get("r-4").updated_at > before


def test_late_worker_after_the_sweeper_failed_the_job(aws, store, bus) -> None:
    store.create(make_job("r-5"))
    mark_running(store, "r-5")
    assert _sweeper(aws, store, bus).sweep(now=_later(700)).resolved[WORKER_LOST] == 1
    # the worker was only slow: its writes are refused and the terminal state stays
    assert report_progress(store, "r-5", 50) is None
    assert finish_job(store, bus, "r-5", JobStatus.SUCCEEDED, result_location="s3://r/late.json") is None
    job = store.get("r-5")
    assert job.status is JobStatus.FAILED and job.error.code == ErrorCode.WORKER_LOST
    assert job.result_location is None
    assert [d.status for d in bus.published] == [JobStatus.FAILED]


# --- a work message that went to the work queue's DLQ --------------------------------------------
def _receive_until_dead_lettered(aws, on_receive) -> int:
    """Receive the work queue's messages (visibility 0: a crashed worker) until SQS moves them to
    the DLQ (``maxReceiveCount``); ``on_receive(job_id)`` is what each doomed worker did."""
    work = SqsWorkQueue(aws.work_queue_url)
    receives = 0
    for _ in range(20):
        items = work.receive(wait_s=0, visibility_s=0)
        if not items:
            break
        for item in items:
            receives += 1
            on_receive(item.message.job_id)
    dead = client("sqs").receive_message(QueueUrl=aws.work_dlq_url, MaxNumberOfMessages=10)
    assert [json.loads(m["Body"])["jobId"] for m in dead.get("Messages", [])], "nothing reached the DLQ"
    assert _work_queued(aws) == []
    return receives


def test_a_job_whose_work_message_went_to_the_dlq_ends_worker_lost(aws, store, bus) -> None:
    """Every worker that took the job died on it (a poison input, repeated spot reclaims): after
    ``maxReceiveCount`` receives its message is in the work DLQ, nothing will deliver it again,
    and the sweeper ends the job (no consumer of the work DLQ is needed)."""
    launcher = FakeLauncher()
    store.create(make_job("dl-1"))
    store.transition("dl-1", JobStatus.CREATED)
    SqsWorkQueue(aws.work_queue_url).send(WorkMessage(job_id="dl-1", tenant_id="t1"))

    def crash_on_it(job_id: str) -> None:
        launch_id = launcher.launch(WorkerSpec(worker_id=f"w-{len(launcher.launched)}"))
        # the take finds the previous holder silent (it died), then this worker dies as well
        store.take(job_id, f"w-{launch_id}", stale_before=_later(3600), launch_id=launch_id)
        launcher.statuses[launch_id] = WorkerStatus.FAILED

    receives = _receive_until_dead_lettered(aws, crash_on_it)
    assert receives == 5  # the work queue's maxReceiveCount
    sweeper = _sweeper(aws, store, bus, SweepPolicy(worker_lost_after_s=600, max_worker_takes=3), launcher)
    assert sweeper.sweep(now=_later(300)).resolved == {}  # not silent long enough yet
    report = sweeper.sweep(now=_later(700))
    assert report.resolved[WORKER_LOST] == 1 and report.resolved[JOB_RESUMED] == 0  # bounded
    job = store.get("dl-1")
    assert job.status is JobStatus.FAILED and job.error.code == ErrorCode.WORKER_LOST
    assert "taken 5 time(s)" in job.error.message
    assert [(d.job_id, d.status) for d in bus.published] == [("dl-1", JobStatus.FAILED)]
    assert _work_queued(aws) == []  # not queued again


def test_a_waiting_job_whose_work_message_went_to_the_dlq_ends_at_the_capacity_timeout(
    aws, store, bus
) -> None:
    """Never taken (every worker failed before its take): the job still waits in ``created`` and
    ends at the capacity deadline, like any job no worker took."""
    store.create(make_job("dl-2"))
    store.transition("dl-2", JobStatus.CREATED)
    SqsWorkQueue(aws.work_queue_url).send(WorkMessage(job_id="dl-2", tenant_id="t1"))
    assert _receive_until_dead_lettered(aws, lambda _job_id: None) == 5
    sweeper = _sweeper(aws, store, bus, launcher=FakeLauncher())
    assert sweeper.sweep(now=_later(1800)).resolved == {}
    assert sweeper.sweep(now=_later(3700)).resolved[NO_CAPACITY] == 1
    assert store.get("dl-2").status is JobStatus.FAILED


# --- concurrency ----------------------------------------------------------------------------------
def test_two_sweepers_at_once_resolve_each_job_once(aws, store) -> None:
    bus = FlakyBus(failures=1)
    store.create(make_job("x-owed"))
    finish_job(store, bus, "x-owed", JobStatus.CANCELED)  # its publish fails: owed
    store.create(make_job("x-pending"))
    store.create(make_job("x-created"))
    store.transition("x-created", JobStatus.CREATED, launch_id="b-1")
    store.create(make_job("x-running"))
    mark_running(store, "x-running")
    now = _later(4000)
    barrier = threading.Barrier(2)
    reports = []

    def run() -> None:
        sweeper = _sweeper(aws, store, bus)  # each its own sweeper, as two Lambda invocations
        barrier.wait()
        reports.append(sweeper.sweep(now=now))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    total = reports[0].resolved + reports[1].resolved
    assert total == {EVENT_REPUBLISHED: 1, JOB_REQUEUED: 1, NO_CAPACITY: 1, WORKER_LOST: 1}
    assert len(_queued(aws)) == 1
    assert sorted(d.job_id for d in bus.published) == ["x-created", "x-owed", "x-running"]
