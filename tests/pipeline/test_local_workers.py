"""Local launchers with real worker processes (fake engine): dispatcher -> LocalLauncher ->
`python -m diarist worker` -> results, a worker that dies without reporting failed via
poll_finished; the warm pool's dead worker failed by the same handle_worker_exit."""

from __future__ import annotations

import time

import pytest

from diarist.adapters.aws import client
from diarist.adapters.dynamo_launch_claims import DynamoLaunchClaims
from diarist.adapters.events import EventBridgeBus
from diarist.adapters.sqs_queue import SqsJobQueue
from diarist.domain.jobs import JobStatus
from diarist.domain.messages import DispatchMessage, WorkerSpec
from diarist.local.process_launcher import LocalLauncher
from diarist.services.dispatch import Dispatcher
from diarist.services.failures import handle_worker_exit
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


def test_local_workers_succeed_crash_and_get_canceled(aws, store, monkeypatch, tmp_path) -> None:
    bus = EventBridgeBus(aws.event_bus)
    launcher = LocalLauncher(tmp_path / "launch", kill_grace_s=5)
    dispatcher = Dispatcher(store=store, launcher=launcher, claims=DynamoLaunchClaims(aws.table))
    queue = SqsJobQueue(aws.job_queue_url)
    client("s3").put_object(Bucket=aws.media_bucket, Key="media/t1/a.wav", Body=wav_bytes(3.0))
    url = f"s3://{aws.media_bucket}/media/t1/a.wav"
    monkeypatch.setenv("DIARIST_ENGINE", "fake")
    monkeypatch.setenv("DIARIST_FAKE_SLOW_S", "30")
    for job_id, behaviour in (("ok", "ok"), ("boom", "crash"), ("slow", "slow")):
        store.create(make_job(job_id, input_url=url))
        monkeypatch.setenv("DIARIST_FAKE_BEHAVIOUR", behaviour)  # the worker inherits the environment
        body = DispatchMessage(job_id=job_id, tenant_id="t1").model_dump_json(by_alias=True)
        assert dispatcher_handler.process(sqs_event(sqs_record(body)), dispatcher, queue) == {
            "batchItemFailures": []
        }
        assert store.get(job_id).launch_id.startswith("local-")

    # cancel the slow one once it is running (what the API does: conditional cancel, then terminate)
    _wait(lambda: store.get("slow").progress >= 30, what="the slow worker to report progress")
    store.transition("slow", JobStatus.CANCELED)
    # the API holds its own launcher instance: it can still stop a worker it did not start
    LocalLauncher(tmp_path / "api").terminate(store.get("slow").launch_id, "canceled by the user")

    exits: dict[str, int] = {}

    def all_exited() -> bool:
        for job_id, rc in launcher.poll_finished():
            exits[job_id] = rc
            handle_worker_exit(store, bus, job_id, rc, log_hint=str(launcher.log_path(job_id)))
        return len(exits) == 3

    _wait(all_exited, what="the three workers to exit")
    logs = {j: launcher.log_path(j).read_text()[-2000:] for j in exits}
    assert exits == {"ok": 0, "boom": 137, "slow": 143}, logs
    assert store.get("ok").status is JobStatus.SUCCEEDED, logs["ok"]
    assert store.get("ok").result_location == f"s3://{aws.results_bucket}/results/t1/ok/result.json"
    boom = store.get("boom")
    assert (
        boom.status is JobStatus.FAILED
        and boom.error.code == "worker_crashed"
        and "137" in boom.error.message
    )
    assert store.get("slow").status is JobStatus.CANCELED
    assert launcher.poll_finished() == [] and launcher.running() == {}


def test_worker_pool_fails_the_job_of_a_worker_that_died(aws, store, bus, monkeypatch, tmp_path) -> None:
    """``diarist local``'s warm pool hands a worker that died mid-job to ``handle_worker_exit``."""
    from diarist.local.worker_pool import WorkerPool

    client("s3").put_object(Bucket=aws.media_bucket, Key="media/t1/a.wav", Body=wav_bytes(3.0))
    store.create(make_job("boom", input_url=f"s3://{aws.media_bucket}/media/t1/a.wav"))
    monkeypatch.setenv("DIARIST_ENGINE", "fake")
    monkeypatch.setenv("DIARIST_FAKE_BEHAVIOUR", "crash")  # the pool's processes inherit the environment
    pool = WorkerPool(1, tmp_path / "pool", store, bus)
    try:
        assert pool.launch(WorkerSpec(job_id="boom", tenant_id="t1")) == "local-boom"
        _wait(lambda: store.get("boom").status.is_terminal, what="the crashed job to end")
    finally:
        pool.shutdown()
    boom = store.get("boom")
    assert boom.status is JobStatus.FAILED and boom.error.code == "worker_crashed", boom.error
    assert "137" in boom.error.message and "worker-0.log" in boom.error.message
    assert [(d.job_id, d.status) for d in bus.published] == [("boom", JobStatus.FAILED)]
