"""Each pipeline role's real DynamoDB calls stay within its grants (``infra/table_access.py``, which
``tests/infra`` holds against the template) and use every one of them: the worker, the
dispatcher and its DLQ consumer, ingest, batch events and webhook delivery run their real code
against the emulator while the calls are recorded."""

from __future__ import annotations

import pytest

from diarist.adapters.aws import client
from diarist.adapters.dynamo_launch_claims import DynamoLaunchClaims
from diarist.domain.jobs import JobStatus
from diarist.domain.messages import DispatchMessage
from diarist.ports import LaunchFailed
from diarist.services.dispatch import Dispatcher
from diarist.testing.fake_engine import FakeJobDiarizer
from diarist.testing.fake_launcher import FakeLauncher
from tests.events import LambdaContext
from tests.pipeline.conftest import (
    load_event,
    make_job,
    receive_as_lambda_event,
    sqs_event,
    sqs_record,
    wav_bytes,
)
from tests.table_calls import check_granted, granted, recorded_table_calls

pytestmark = pytest.mark.integration


def _message(job_id: str, tenant: str = "t1") -> DispatchMessage:
    return DispatchMessage(job_id=job_id, tenant_id=tenant)


def test_worker(aws, store, bus) -> None:
    """A drain worker: two jobs from the work queue (one canceled meanwhile), then its idle exit."""
    from diarist.adapters.dynamo_fleet import DynamoWorkerFleet
    from diarist.adapters.s3_store import S3ObjectStore
    from diarist.adapters.sqs_work_queue import SqsWorkQueue
    from diarist.domain.messages import WorkMessage
    from diarist.settings import DrainSettings
    from diarist.worker.drain import Drainer
    from diarist.worker.main import SigtermGuard, WorkerIdentity

    key = "media/t1/a.wav"
    client("s3").put_object(Bucket=aws.media_bucket, Key=key, Body=wav_bytes(1.0))
    store.create(make_job("w-ok", input_url=f"s3://{aws.media_bucket}/{key}"))
    store.create(make_job("w-gone"))
    store.transition("w-gone", JobStatus.CANCELED)
    work = SqsWorkQueue(aws.work_queue_url)
    for j in ("w-ok", "w-gone"):
        work.send(WorkMessage(job_id=j, tenant_id="t1"))
    drainer = Drainer(
        settings=DrainSettings(progress_interval_s=0.001, idle_timeout_s=0.5, poll_wait_s=0),
        queue=work,
        fleet=DynamoWorkerFleet(aws.table),
        store=store,
        events=bus,
        objects=S3ObjectStore(),
        s3_client=client("s3"),
        diarizer=FakeJobDiarizer(),
        worker=WorkerIdentity("w-1", "local-1"),
    )
    with recorded_table_calls() as calls:
        assert drainer.run(SigtermGuard())[0] == 0
    assert store.get("w-ok").status is JobStatus.SUCCEEDED
    assert check_granted("worker", calls) == granted("worker")


def test_dispatcher(aws, store) -> None:
    from diarist.adapters.dynamo_fleet import DynamoWorkerFleet
    from diarist.adapters.sqs_work_queue import SqsWorkQueue
    from diarist.services.fleet import FleetScaler

    store.create(make_job("d-ok"))
    store.create(make_job("d-refused"))

    def dispatcher(launcher: FakeLauncher, work: SqsWorkQueue) -> Dispatcher:
        fleet = DynamoWorkerFleet(aws.table)
        return Dispatcher(
            store=store, claims=DynamoLaunchClaims(aws.table), work=work, scaler=FleetScaler(fleet, launcher)
        )

    class RefusingQueue(SqsWorkQueue):
        def send(self, message) -> None:
            raise LaunchFailed("no")

    ok = dispatcher(FakeLauncher(), SqsWorkQueue(aws.work_queue_url))
    refused = dispatcher(FakeLauncher(), RefusingQueue(aws.work_queue_url))
    with recorded_table_calls() as calls:
        assert ok.dispatch(_message("d-ok")).action == "queued"
        assert ok.dispatch(_message("d-ok")).action == "already_queued"
        with pytest.raises(LaunchFailed):
            refused.dispatch(_message("d-refused"))  # the claim is released with the reason
    assert check_granted("dispatcher", calls) == granted("dispatcher")


def test_dispatcher_dlq(aws, store) -> None:
    from functions.dispatcher import dlq_handler

    store.create(make_job("q-1"))
    body = _message("q-1").model_dump_json(by_alias=True)
    with recorded_table_calls() as calls:
        assert dlq_handler.lambda_handler(sqs_event(sqs_record(body)), LambdaContext()) == {
            "batchItemFailures": []
        }
    assert store.get("q-1").error.code == "launch_failed"
    assert check_granted("dispatcher_dlq", calls) == granted("dispatcher_dlq")


def test_ingest(aws, store) -> None:
    from functions.ingest import handler as ingest_handler

    s3 = client("s3")
    s3.put_object(
        Bucket=aws.media_bucket, Key="incoming/acme/ok.wav", Body=b"RIFF", Metadata={"num-speakers": "2"}
    )
    s3.put_object(
        Bucket=aws.media_bucket, Key="incoming/acme/bad.wav", Body=b"RIFF", Metadata={"num-speakers": "two"}
    )
    event = receive_as_lambda_event(aws.ingest_queue_url, wait_s=1)
    assert len(event["Records"]) == 2
    with recorded_table_calls() as calls:
        assert ingest_handler.lambda_handler(event, LambdaContext()) == {"batchItemFailures": []}
        assert ingest_handler.lambda_handler(event, LambdaContext()) == {
            "batchItemFailures": []
        }  # redelivered
    jobs, _ = store.list_for_tenant("acme", limit=5, cursor=None, status=None)
    assert sorted(j.status.value for j in jobs) == ["failed", "pending"]
    assert check_granted("ingest", calls) == granted("ingest")


def test_batch_events(aws, store) -> None:
    from diarist.adapters.dynamo_fleet import DynamoWorkerFleet
    from diarist.domain.jobs import utcnow
    from functions.batch_events import handler as batch_handler

    store.create(make_job("job-oom"))
    store.transition("job-oom", JobStatus.RUNNING)
    DynamoWorkerFleet(aws.table).report("w-9", utcnow())
    worker_event = load_event("batch_failed_oom.json")
    worker_event["detail"].update(jobName="diarist-worker-w-9", parameters={}, tags={})
    worker_event["detail"]["container"]["command"] = ["diarist", "worker", "--drain"]
    with recorded_table_calls() as calls:
        assert batch_handler.lambda_handler(load_event("batch_failed_oom.json"), LambdaContext()) == {
            "failedJob": "job-oom"
        }
        assert batch_handler.lambda_handler(worker_event, LambdaContext()) == {"failedJob": None}
        cannot_start = load_event("batch_failed_oom.json")
        cannot_start["detail"].update(jobName="diarist-worker-w-10", parameters={}, tags={}, attempts=[])
        cannot_start["detail"]["container"].update(
            reason="CannotPullContainerError: not found", exitCode=None
        )
        assert batch_handler.lambda_handler(cannot_start, LambdaContext()) == {"failedJob": None}
    state = DynamoWorkerFleet(aws.table).read()
    assert state.workers == {} and state.start_failures == 1  # a failed start, counted
    assert check_granted("batch_events", calls) == granted("batch_events")


def test_webhook_delivery(aws, store, monkeypatch) -> None:
    from diarist import wiring
    from diarist.services.webhooks import completion_detail
    from diarist.settings import forget_built, load

    load.cache_clear()
    forget_built()
    # a receiver the production policy refuses: the attempt is claimed and recorded, nothing is sent
    store.create(make_job("h-1", webhook_url="https://127.0.0.1/hook"))
    store.transition("h-1", JobStatus.FAILED)
    wiring.ensure_signing_secret("t1", secret="whs_test")
    service = wiring.webhook_service()
    with recorded_table_calls() as calls:
        service.on_job_finished(completion_detail(store.get("h-1")))
    assert store.get("h-1").webhook_attempts[0].error.startswith("refused")
    assert check_granted("webhook", calls) == granted("webhook")
    forget_built()


def test_sweeper(aws, store, bus, monkeypatch, tmp_path) -> None:
    import time

    from diarist.services.lifecycle import finish_job
    from diarist.settings import forget_built, load
    from functions.sweeper import handler as sweeper_handler
    from tests.pipeline.test_sweeper import FlakyBus

    monkeypatch.setenv("DIARIST_SWEEP_OUTBOX_AFTER_S", "1")
    # a launcher whose workers start nothing here (a missing interpreter): the launch fails and the
    # claimed fleet slot is given back, which is all this test needs of it
    monkeypatch.setenv("DIARIST_LAUNCHER", "local")
    monkeypatch.setenv("DIARIST_LOCAL_LAUNCH_DIR", str(tmp_path))
    load.cache_clear()
    forget_built()
    from diarist.launchers import local_launcher

    local_launcher(str(tmp_path)).python = str(tmp_path / "no-python")
    store.create(make_job("s-owed"))
    assert finish_job(store, FlakyBus(failures=1), "s-owed", JobStatus.CANCELED) is not None
    store.create(make_job("s-pending"))
    store.create(make_job("s-waiting"))
    store.transition("s-waiting", JobStatus.CREATED)  # waiting for a worker: the fleet is asked
    time.sleep(1.2)
    with recorded_table_calls() as calls:
        result = sweeper_handler.lambda_handler({"source": "aws.events"}, LambdaContext())
    assert result["resolved"] == {"SweepEventRepublished": 1}
    assert store.get("s-owed").event_owed_at is None
    assert check_granted("sweeper", calls) == granted("sweeper")
    forget_built()
