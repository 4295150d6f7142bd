"""Dispatcher handler + DLQ consumer with real SQS record shapes, the moto table and a fake launcher."""

from __future__ import annotations

from datetime import timedelta

import pytest

from diarist.adapters.dynamo_launch_claims import DynamoLaunchClaims
from diarist.adapters.sqs_queue import SqsJobQueue
from diarist.domain.jobs import JobStatus, utcnow
from diarist.domain.messages import DispatchMessage, WorkerSpec
from diarist.ports import LaunchFailed, LaunchThrottled
from diarist.services.dispatch import Dispatcher
from diarist.testing.fake_launcher import FakeLauncher
from functions.dispatcher import dlq_handler
from functions.dispatcher import handler as dispatcher_handler
from tests.logs import at_info, json_lines
from tests.pipeline.conftest import make_job, receive_as_lambda_event, sqs_event, sqs_record

pytestmark = pytest.mark.integration


def _body(job_id: str, tenant: str = "t1") -> str:
    return DispatchMessage(job_id=job_id, tenant_id=tenant).model_dump_json(by_alias=True)


@pytest.fixture
def fake_launcher() -> FakeLauncher:
    return FakeLauncher()


@pytest.fixture
def queue(aws) -> SqsJobQueue:
    """The moto job queue: the dispatcher's back-off changes its messages' visibility."""
    return SqsJobQueue(aws.job_queue_url)


@pytest.fixture
def dispatcher(aws, store, fake_launcher) -> Dispatcher:
    return Dispatcher(
        store=store, launcher=fake_launcher, claims=DynamoLaunchClaims(aws.table), claim_stale_s=300
    )


def test_duplicate_delivery_launches_once(store, dispatcher, fake_launcher, queue) -> None:
    store.create(make_job("j1"))
    rec = sqs_record(_body("j1"), message_id="m-1")
    dup = sqs_record(_body("j1"), message_id="m-1", receive_count=2)
    first = dispatcher_handler.process(sqs_event(rec, dup), dispatcher, queue)
    again = dispatcher_handler.process(sqs_event(sqs_record(_body("j1"))), dispatcher, queue)
    assert first == {"batchItemFailures": []} and again == {"batchItemFailures": []}
    assert fake_launcher.launches_for("j1") == 1
    job = store.get("j1")
    assert job.status is JobStatus.CREATED and job.launch_id == "fake-1"
    assert [o.action for o in dispatcher.outcomes] == ["launched", "already_launched", "already_launched"]


def test_canceled_job_is_not_launched(store, dispatcher, fake_launcher, queue) -> None:
    store.create(make_job("c1"))
    store.transition("c1", JobStatus.CANCELED)
    out = dispatcher_handler.process(sqs_event(sqs_record(_body("c1"))), dispatcher, queue)
    assert out == {"batchItemFailures": []}
    assert fake_launcher.launched == [] and store.get("c1").status is JobStatus.CANCELED


def test_unknown_job_or_other_tenant_is_acked_not_launched(store, dispatcher, fake_launcher, queue) -> None:
    store.create(make_job("o1", tenant="t1"))
    out = dispatcher_handler.process(
        sqs_event(sqs_record(_body("o1", "t2")), sqs_record(_body("nope"))), dispatcher, queue
    )
    assert out == {"batchItemFailures": []} and fake_launcher.launched == []


def test_throttling_reports_only_that_record_and_backs_off(
    aws, store, dispatcher, fake_launcher, queue
) -> None:
    from diarist.adapters.aws import client

    store.create(make_job("t1j"))
    store.create(make_job("ok1"))
    fake_launcher.fail_with = lambda spec: (
        LaunchThrottled("batch submit_job: TooManyRequestsException: Too Many Requests")
        if spec.job_id == "t1j"
        else None
    )
    # real messages from the moto job queue, so the back-off can change their visibility
    sqs = client("sqs")
    sqs.send_message(QueueUrl=aws.job_queue_url, MessageBody=_body("t1j"))
    sqs.send_message(QueueUrl=aws.job_queue_url, MessageBody=_body("ok1"))
    event = receive_as_lambda_event(aws.job_queue_url)
    assert len(event["Records"]) == 2
    throttled_id = next(r["messageId"] for r in event["Records"] if "t1j" in r["body"])
    out = dispatcher_handler.process(event, dispatcher, queue)
    assert out == {"batchItemFailures": [{"itemIdentifier": throttled_id}]}
    job = store.get("t1j")
    assert job.status is JobStatus.PENDING and job.launch_claim is None
    assert "TooManyRequests" in (job.launch_error or "")
    assert store.get("ok1").status is JobStatus.CREATED
    # backed off: the throttled record is not visible again right away
    assert receive_as_lambda_event(aws.job_queue_url)["Records"] == []
    # once the service accepts launches again, the next delivery launches it
    fake_launcher.fail_with = None
    dispatcher_handler.process(sqs_event(sqs_record(_body("t1j"), receive_count=2)), dispatcher, queue)
    assert store.get("t1j").status is JobStatus.CREATED and store.get("t1j").launch_error is None


def test_live_claim_defers_and_stale_claim_is_taken_over(
    aws, store, dispatcher, fake_launcher, queue
) -> None:
    claims = DynamoLaunchClaims(aws.table)
    store.create(make_job("s1"))
    assert claims.claim("s1", "other-delivery", stale_before=utcnow() - timedelta(seconds=300))
    out = dispatcher_handler.process(sqs_event(sqs_record(_body("s1"), message_id="m-s1")), dispatcher, queue)
    assert out == {"batchItemFailures": [{"itemIdentifier": "m-s1"}]} and fake_launcher.launched == []
    # the other delivery died: its claim goes stale and the next delivery takes over
    dispatcher.claim_stale_s = 0
    out = dispatcher_handler.process(sqs_event(sqs_record(_body("s1"))), dispatcher, queue)
    assert out == {"batchItemFailures": []} and fake_launcher.launches_for("s1") == 1


def test_stale_claim_adopts_the_launch_a_dead_dispatcher_made(
    aws, store, dispatcher, fake_launcher, queue
) -> None:
    claims = DynamoLaunchClaims(aws.table)
    store.create(make_job("s2"))
    # a dispatcher claimed, launched, and died before recording the launch
    assert claims.claim("s2", "dead-delivery", stale_before=utcnow())
    orphan = fake_launcher.launch(WorkerSpec(job_id="s2", tenant_id="t1"))
    dispatcher.claim_stale_s = 0
    assert dispatcher_handler.process(sqs_event(sqs_record(_body("s2"))), dispatcher, queue) == {
        "batchItemFailures": []
    }
    assert fake_launcher.launches_for("s2") == 1
    job = store.get("s2")
    assert job.status is JobStatus.CREATED and job.launch_id == orphan


def test_cancel_during_launch_terminates_the_container_job(store, dispatcher, fake_launcher, queue) -> None:
    store.create(make_job("x1"))
    fake_launcher.on_launch = lambda spec, lid: store.transition(spec.job_id, JobStatus.CANCELED)
    dispatcher_handler.process(sqs_event(sqs_record(_body("x1"))), dispatcher, queue)
    assert fake_launcher.terminated and fake_launcher.terminated[0][0] == "fake-1"
    assert store.get("x1").status is JobStatus.CANCELED


def test_malformed_body_is_a_batch_item_failure(dispatcher, fake_launcher, queue) -> None:
    out = dispatcher_handler.process(
        sqs_event(sqs_record('{"jobId": 5}', message_id="bad")), dispatcher, queue
    )
    assert out == {"batchItemFailures": [{"itemIdentifier": "bad"}]}


def test_dlq_marks_job_failed_launch_failed(aws, store, bus, dispatcher, fake_launcher, queue) -> None:
    store.create(make_job("d1"))
    store.create(make_job("d2"))
    fake_launcher.fail_with = lambda spec: (
        LaunchFailed("batch submit_job: ClientException: JobQueue diarist-gpu not found")
        if spec.job_id == "d1"
        else None
    )
    for n in (1, 2, 3):
        out = dispatcher_handler.process(
            sqs_event(sqs_record(_body("d1"), message_id="m-d1", receive_count=n)), dispatcher, queue
        )
        assert out == {"batchItemFailures": [{"itemIdentifier": "m-d1"}]}
    dispatcher_handler.process(sqs_event(sqs_record(_body("d2"))), dispatcher, queue)
    dlq_arn = "arn:aws:sqs:us-east-1:123456789012:diarist-jobs-dlq"
    event = sqs_event(
        sqs_record(_body("d1"), message_id="m-d1", arn=dlq_arn, receive_count=4),
        sqs_record(_body("d2"), arn=dlq_arn),  # launched after all: left alone
        sqs_record("not json", arn=dlq_arn),
    )
    out = dlq_handler.process(event, store, bus)
    assert out == {"batchItemFailures": []}
    job = store.get("d1")
    assert job.status is JobStatus.FAILED and job.error.code == "launch_failed"
    assert "JobQueue diarist-gpu not found" in job.error.message
    assert store.get("d2").status is JobStatus.CREATED
    assert [(d.job_id, d.status) for d in bus.published] == [("d1", JobStatus.FAILED)]
    # the DLQ redelivering the same record changes nothing
    dlq_handler.process(sqs_event(sqs_record(_body("d1"), arn=dlq_arn)), store, bus)
    assert len(bus.published) == 1


def test_lambda_handler_builds_from_settings(aws, store, monkeypatch, tmp_path) -> None:
    """The real entry point with launcher=local; the fake engine worker runs as a process."""
    monkeypatch.setenv("DIARIST_LAUNCHER", "local")
    monkeypatch.setenv("DIARIST_LOCAL_LAUNCH_DIR", str(tmp_path))
    dispatcher, queue = dispatcher_handler.service()
    assert type(dispatcher.launcher).__name__ == "LocalLauncher"
    assert isinstance(queue, SqsJobQueue) and queue.queue_url == aws.job_queue_url
    assert dispatcher_handler.service()[0] is dispatcher


def test_every_line_of_a_record_carries_its_job_keys(store, dispatcher, fake_launcher, queue, capfd) -> None:
    """What the handler and the services log for one record (JSON on stderr) names its job and tenant."""
    store.create(make_job("logged-1", tenant="t-logs"))
    capfd.readouterr()
    with at_info():
        out = dispatcher_handler.process(
            sqs_event(sqs_record(_body("logged-1", "t-logs"))), dispatcher, queue
        )
    assert out == {"batchItemFailures": []}
    lines = json_lines(capfd.readouterr().err)
    assert lines
    for line in lines:
        assert (line.get("job_id"), line.get("tenant_id")) == ("logged-1", "t-logs"), line
    (dispatch,) = [line for line in lines if line["logger"] == "diarist.services.dispatch"]
    assert dispatch["message"] == "dispatch" and dispatch["action"] == "launched"
