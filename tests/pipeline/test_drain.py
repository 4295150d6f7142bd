"""Drain workers (``worker.drain``) on the moto work queue, table and fleet, with the fake engine,
each worker in a thread of the test: idle exit, SIGTERM hand-back and resume, duplicate messages,
cancel on a warm worker, the heartbeat that keeps a long job's message invisible."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from diarist.adapters.aws import client
from diarist.adapters.dynamo_fleet import DynamoWorkerFleet
from diarist.adapters.s3_store import S3ObjectStore
from diarist.adapters.sqs_work_queue import SqsWorkQueue
from diarist.domain.jobs import JobStatus, utcnow
from diarist.domain.messages import WorkMessage
from diarist.settings import DrainSettings
from diarist.testing.fake_engine import FakeJobDiarizer
from diarist.worker.drain import Drainer
from diarist.worker.main import EXIT_OK, EXIT_TERMINATED, SigtermGuard, WorkerIdentity
from tests.pipeline.conftest import make_job, wav_bytes

pytestmark = pytest.mark.integration


def _settings(**overrides) -> DrainSettings:
    values = {
        "idle_timeout_s": 1.5,
        "poll_wait_s": 1,
        "message_visibility_s": 2,
        "progress_interval_s": 0.2,
        "fleet_report_every_s": 0.5,
        **overrides,
    }
    return DrainSettings(**values)


def _drainer(aws, store, bus, diarizer, worker_id: str, **overrides) -> Drainer:
    return Drainer(
        settings=_settings(**overrides),
        queue=SqsWorkQueue(aws.work_queue_url),
        fleet=DynamoWorkerFleet(aws.table),
        store=store,
        events=bus,
        objects=S3ObjectStore(),
        s3_client=client("s3"),
        diarizer=diarizer,
        worker=WorkerIdentity(worker_id=worker_id, launch_id=f"launch-{worker_id}", log=f"log-{worker_id}"),
    )


def _queue_job(aws, store, job_id: str, seconds: float = 4.0, *, copies: int = 1) -> None:
    key = f"media/t1/{job_id}.wav"
    client("s3").put_object(Bucket=aws.media_bucket, Key=key, Body=wav_bytes(seconds))
    store.create(make_job(job_id, input_url=f"s3://{aws.media_bucket}/{key}"))
    store.transition(job_id, JobStatus.CREATED)
    for _ in range(copies):
        SqsWorkQueue(aws.work_queue_url).send(WorkMessage(job_id=job_id, tenant_id="t1"))


def _visible_messages(aws) -> int:
    attrs = client("sqs").get_queue_attributes(
        QueueUrl=aws.work_queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def test_a_worker_runs_jobs_one_after_another_and_exits_when_idle(aws, store, bus) -> None:
    for j in ("a1", "a2", "a3"):
        _queue_job(aws, store, j)
    fake = FakeJobDiarizer()
    worker = _drainer(aws, store, bus, fake, "w-idle")
    t0 = time.monotonic()
    rc, stats = worker.run(SigtermGuard())
    took = time.monotonic() - t0
    assert rc == EXIT_OK and stats.exit_reason == "idle" and stats.jobs == 3
    assert fake.calls == 3  # one model, three jobs
    assert took < 10
    for j in ("a1", "a2", "a3"):
        job = store.get(j)
        assert job.status is JobStatus.SUCCEEDED and job.last_worker_id == "w-idle"
        assert job.launch_id == "launch-w-idle" and job.worker_log == "log-w-idle"
    assert _visible_messages(aws) == 0  # every message deleted once its job was handled
    assert "w-idle" not in DynamoWorkerFleet(aws.table).read().workers  # it left the fleet


class _SigtermMidJob(FakeJobDiarizer):
    """SIGTERM arrives (as from Batch or a spot reclaim) once the job is 30 % done."""

    guard: SigtermGuard | None = None

    def diarize(self, path, params, progress):
        def on_progress(pct: float) -> None:
            if pct >= 30 and self.guard is not None:
                self.guard.handler(15, None)  # what the signal does in the main thread
            progress(pct)

        return super().diarize(path, params, on_progress)


def test_sigterm_mid_job_gives_it_back_and_another_worker_completes_it(aws, store, bus) -> None:
    _queue_job(aws, store, "s1")
    guard = SigtermGuard()
    dying = _SigtermMidJob()
    dying.guard = guard
    rc, stats = _drainer(aws, store, bus, dying, "w-dying").run(guard)
    assert rc == EXIT_TERMINATED and stats.exit_reason == "sigterm"
    job = store.get("s1")
    # given back at once: still running, held by nobody, its message visible again
    assert job.status is JobStatus.RUNNING and job.worker_id is None and job.last_worker_id == "w-dying"
    assert bus.published == []
    t0 = time.monotonic()
    fake = FakeJobDiarizer()
    rc, stats = _drainer(aws, store, bus, fake, "w-next").run(SigtermGuard())
    assert rc == EXIT_OK and stats.job_ids == ["s1"]
    assert time.monotonic() - t0 < 5  # resumed at once, not after the message's visibility timeout
    job = store.get("s1")
    assert job.status is JobStatus.SUCCEEDED and job.worker_takes == 2 and job.last_worker_id == "w-next"
    assert [(d.job_id, d.status) for d in bus.published] == [("s1", JobStatus.SUCCEEDED)]


def test_a_duplicate_work_message_does_not_run_a_job_twice(aws, store, bus) -> None:
    # two copies of one job's message: one run, one completion event
    _queue_job(aws, store, "d1", copies=2)
    fake = FakeJobDiarizer()
    rc, stats = _drainer(aws, store, bus, fake, "w-dup").run(SigtermGuard())
    assert rc == EXIT_OK and stats.jobs == 2 and fake.calls == 1
    assert len(bus.published) == 1 and _visible_messages(aws) == 0
    # a copy received while another (live) worker runs the job is dropped without touching it
    _queue_job(aws, store, "d2")
    store.take("d2", "w-other", stale_before=utcnow() - timedelta(seconds=60))
    before = store.get("d2")
    fake2 = FakeJobDiarizer()
    _drainer(aws, store, bus, fake2, "w-late").run(SigtermGuard())
    after = store.get("d2")
    assert fake2.calls == 0 and after.worker_id == "w-other" and after.updated_at == before.updated_at
    assert _visible_messages(aws) == 0
    # ... but once that worker is silent past worker_stale_s (it died), its job is taken over
    time.sleep(0.6)
    SqsWorkQueue(aws.work_queue_url).send(WorkMessage(job_id="d2", tenant_id="t1"))
    _drainer(aws, store, bus, fake2, "w-rescue", worker_stale_s=0.5).run(SigtermGuard())
    job = store.get("d2")
    assert fake2.calls == 1 and job.status is JobStatus.SUCCEEDED and job.last_worker_id == "w-rescue"


def test_cancel_reaches_a_job_on_a_warm_worker_which_then_runs_the_next(aws, store, bus) -> None:
    _queue_job(aws, store, "c1")
    _queue_job(aws, store, "c2")
    slow = FakeJobDiarizer(behaviour="slow", slow_s=2.0)

    def cancel_when_running() -> None:
        for _ in range(100):
            if store.get("c1").status is JobStatus.RUNNING:
                store.transition("c1", JobStatus.CANCELED)  # what the API's cancel writes
                return
            time.sleep(0.05)

    canceler = threading.Thread(target=cancel_when_running)
    canceler.start()
    rc, stats = _drainer(aws, store, bus, slow, "w-warm").run(SigtermGuard())
    canceler.join()
    assert rc == EXIT_OK and stats.job_ids == ["c1", "c2"]  # the same worker, not killed
    assert store.get("c1").status is JobStatus.CANCELED
    assert store.get("c2").status is JobStatus.SUCCEEDED and store.get("c2").last_worker_id == "w-warm"
    listed = client("s3").list_objects_v2(Bucket=aws.results_bucket, Prefix="results/t1/c1/")
    assert listed.get("KeyCount", 0) == 0  # no result for the canceled job


def _watch_for_redelivery(aws, stop: threading.Event, seen: list[int]) -> None:
    """Another worker polling the queue while the job runs: anything it receives was redelivered."""
    sqs = client("sqs")
    while not stop.is_set():
        resp = sqs.receive_message(
            QueueUrl=aws.work_queue_url,
            WaitTimeSeconds=0,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        for m in resp.get("Messages", []):
            seen.append(int(m["Attributes"]["ApproximateReceiveCount"]))
            sqs.change_message_visibility(
                QueueUrl=aws.work_queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=30
            )
        time.sleep(0.3)


def _run_long_job_watched(aws, store, bus, job_id: str) -> list[int]:
    _queue_job(aws, store, job_id)
    slow = FakeJobDiarizer(behaviour="slow", slow_s=5.0)  # 2.5 x the message's visibility timeout
    stop, seen = threading.Event(), []
    worker = _drainer(aws, store, bus, slow, f"w-{job_id}", idle_timeout_s=0.5)
    runner = threading.Thread(target=worker.run, args=(SigtermGuard(),))
    runner.start()
    time.sleep(0.5)  # the worker has received the message
    watcher = threading.Thread(target=_watch_for_redelivery, args=(aws, stop, seen))
    watcher.start()
    runner.join()
    stop.set()
    watcher.join()
    return seen


def test_the_heartbeat_keeps_a_long_job_from_being_redelivered(aws, store, bus) -> None:
    seen = _run_long_job_watched(aws, store, bus, "h1")
    assert seen == []
    assert store.get("h1").status is JobStatus.SUCCEEDED and store.get("h1").worker_takes == 1


def test_without_the_heartbeat_a_long_job_would_be_redelivered(aws, store, bus, monkeypatch) -> None:
    """The control of the test above: with the visibility heartbeat off, the message comes back."""
    monkeypatch.setattr(SqsWorkQueue, "keep", lambda self, receipt, seconds: None)
    seen = _run_long_job_watched(aws, store, bus, "h2")
    assert seen and seen[0] == 2
