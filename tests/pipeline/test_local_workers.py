"""Local mode's launcher with real worker processes (fake engine): the dispatcher's capacity
decision -> LocalLauncher -> `python -m diarist worker --drain` processes that drain the work queue
and exit when idle; a worker that dies mid-job fails its job (reap -> handle_worker_exit); a worker
stopped by SIGTERM gives its job back and another worker completes it."""

from __future__ import annotations

import time

import pytest

from diarist.adapters.aws import client
from diarist.adapters.dynamo_fleet import DynamoWorkerFleet
from diarist.adapters.dynamo_launch_claims import DynamoLaunchClaims
from diarist.adapters.events import EventBridgeBus
from diarist.adapters.sqs_queue import SqsJobQueue
from diarist.adapters.sqs_work_queue import SqsWorkQueue
from diarist.domain.fleet import FleetPolicy
from diarist.domain.jobs import JobStatus, utcnow
from diarist.domain.messages import DispatchMessage
from diarist.local.process_launcher import LocalLauncher
from diarist.services.dispatch import Dispatcher
from diarist.services.fleet import FleetScaler
from functions.dispatcher import handler as dispatcher_handler
from tests.pipeline.conftest import make_job, sqs_event, sqs_record, wav_bytes

pytestmark = pytest.mark.integration


def _wait(pred, timeout_s: float = 45.0, what: str = "condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def local(aws, store, monkeypatch, tmp_path):
    """A dispatcher over a real LocalLauncher (at most 2 workers) and the fake engine."""
    monkeypatch.setenv("DIARIST_ENGINE", "fake")
    monkeypatch.setenv("DIARIST_IDLE_TIMEOUT_S", "2")
    monkeypatch.setenv("DIARIST_POLL_WAIT_S", "1")
    monkeypatch.setenv("DIARIST_PROGRESS_INTERVAL_S", "0.5")
    launcher = LocalLauncher(tmp_path / "launch", kill_grace_s=5)
    fleet = DynamoWorkerFleet(aws.table)
    scaler = FleetScaler(fleet, launcher, FleetPolicy(max_workers=2))
    dispatcher = Dispatcher(
        store=store,
        claims=DynamoLaunchClaims(aws.table),
        work=SqsWorkQueue(aws.work_queue_url),
        scaler=scaler,
    )
    client("s3").put_object(Bucket=aws.media_bucket, Key="media/t1/a.wav", Body=wav_bytes(3.0))
    yield launcher, fleet, dispatcher
    launcher.shutdown(timeout_s=5)


def _submit(aws, store, dispatcher, *job_ids: str) -> None:
    for job_id in job_ids:
        store.create(make_job(job_id, input_url=f"s3://{aws.media_bucket}/media/t1/a.wav"))
        body = DispatchMessage(job_id=job_id, tenant_id="t1").model_dump_json(by_alias=True)
        out = dispatcher_handler.process(
            sqs_event(sqs_record(body)), dispatcher, SqsJobQueue(aws.job_queue_url)
        )
        assert out == {"batchItemFailures": []}


def test_a_burst_is_drained_by_two_warm_workers_that_exit_when_idle(aws, store, local) -> None:
    launcher, fleet, dispatcher = local
    _submit(aws, store, dispatcher, *(f"j{i}" for i in range(6)))
    assert launcher.launches == 2  # six jobs, at most two workers
    _wait(lambda: all(store.get(f"j{i}").status is JobStatus.SUCCEEDED for i in range(6)), what="six jobs")
    jobs = [store.get(f"j{i}") for i in range(6)]
    assert {j.launch_id for j in jobs} <= {f"local-{pid}" for pid in launcher.running().values()} | {
        j.launch_id for j in jobs
    }
    assert len({j.last_worker_id for j in jobs}) <= 2 and all(j.worker_takes == 1 for j in jobs)
    assert all(j.worker_log and j.worker_log.endswith(".log") for j in jobs)
    exits: list = []
    _wait(lambda: exits.extend(launcher.poll_finished()) or len(exits) == 2, what="both workers' idle exit")
    assert [e.returncode for e in exits] == [0, 0]
    assert fleet.read().live(utcnow()) == []  # each left the fleet on its way out


def test_a_worker_that_dies_mid_job_fails_its_job(aws, store, local, monkeypatch) -> None:
    launcher, fleet, dispatcher = local
    bus = EventBridgeBus(aws.event_bus)
    monkeypatch.setenv("DIARIST_FAKE_BEHAVIOUR", "crash")  # the worker inherits the environment
    _submit(aws, store, dispatcher, "boom")
    exits: list = []
    _wait(lambda: exits.extend(launcher.reap(store, bus, fleet)) or exits, what="the worker to die")
    assert [(e.returncode, e.job_id) for e in exits] == [(137, "boom")]
    boom = store.get("boom")
    assert boom.status is JobStatus.FAILED and boom.error.code == "worker_crashed", boom.error
    assert "137" in boom.error.message and exits[0].log_path.name in boom.error.message
    assert fleet.read().live(utcnow()) == []


def test_sigterm_mid_job_gives_it_back_and_another_worker_completes_it(
    aws, store, local, monkeypatch
) -> None:
    launcher, fleet, dispatcher = local
    bus = EventBridgeBus(aws.event_bus)
    monkeypatch.setenv("DIARIST_FAKE_BEHAVIOUR", "slow")
    monkeypatch.setenv("DIARIST_FAKE_SLOW_S", "30")
    _submit(aws, store, dispatcher, "long")
    _wait(lambda: store.get("long").progress >= 30, what="the worker to be mid-job")
    first = store.get("long")
    launcher.terminate(first.launch_id, "spot reclaim")  # SIGTERM, as Batch sends it
    exits: list = []
    monkeypatch.setenv("DIARIST_FAKE_BEHAVIOUR", "ok")  # the next worker's engine finishes quickly
    _wait(
        lambda: (
            exits.extend(launcher.reap(store, bus, fleet, ensure_capacity=dispatcher.scaler.ensure_capacity))
            or exits
        ),
        what="the stopped worker to exit",
    )
    # it gave the job back before exiting: no job is held against it, nothing is failed
    assert [(e.returncode, e.job_id) for e in exits] == [(143, None)]
    _wait(lambda: store.get("long").status is JobStatus.SUCCEEDED, what="another worker to complete it")
    job = store.get("long")
    assert job.worker_takes == 2 and job.last_worker_id != first.last_worker_id
    assert launcher.launches == 2
