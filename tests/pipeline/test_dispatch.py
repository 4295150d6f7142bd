"""Dispatcher handler + DLQ consumer with real SQS record shapes, the moto table and work queue,
the fleet item, and a fake launcher (a launch = one drain worker)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from diarist.adapters.aws import client
from diarist.adapters.dynamo_fleet import DynamoWorkerFleet
from diarist.adapters.dynamo_launch_claims import DynamoLaunchClaims
from diarist.adapters.sqs_queue import SqsJobQueue
from diarist.adapters.sqs_work_queue import SqsWorkQueue
from diarist.domain.fleet import FleetPolicy, FleetState
from diarist.domain.jobs import JobStatus, utcnow
from diarist.domain.messages import DispatchMessage, WorkMessage
from diarist.ports import LaunchFailed, LaunchThrottled
from diarist.services.dispatch import Dispatcher
from diarist.services.fleet import FleetScaler
from diarist.services.lanes import LanedWork
from diarist.testing.fake_launcher import FakeLauncher
from functions.dispatcher import dlq_handler
from functions.dispatcher import handler as dispatcher_handler
from tests.logs import at_info, json_lines
from tests.pipeline.conftest import make_job, receive_as_lambda_event, sqs_event, sqs_record

pytestmark = pytest.mark.integration


def _body(job_id: str, tenant: str = "t1") -> str:
    return DispatchMessage(job_id=job_id, tenant_id=tenant).model_dump_json(by_alias=True)


def _work_messages(aws) -> list[str]:
    """Job ids of the messages on the work queue (received, then deleted)."""
    sqs, ids = client("sqs"), []
    while True:
        resp = sqs.receive_message(QueueUrl=aws.work_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        msgs = resp.get("Messages", [])
        if not msgs:
            return ids
        for m in msgs:
            ids.append(WorkMessage.model_validate_json(m["Body"]).job_id)
            sqs.delete_message(QueueUrl=aws.work_queue_url, ReceiptHandle=m["ReceiptHandle"])


@pytest.fixture
def fake_launcher() -> FakeLauncher:
    return FakeLauncher()


@pytest.fixture
def queue(aws) -> SqsJobQueue:
    """The moto job queue: the dispatcher's back-off changes its messages' visibility."""
    return SqsJobQueue(aws.job_queue_url)


@pytest.fixture
def fleet(aws) -> DynamoWorkerFleet:
    return DynamoWorkerFleet(aws.table)


@pytest.fixture
def dispatcher(aws, store, fake_launcher, fleet) -> Dispatcher:
    return Dispatcher(
        store=store,
        claims=DynamoLaunchClaims(aws.table),
        work=SqsWorkQueue(aws.work_queue_url),
        scaler=FleetScaler(fleet, fake_launcher, FleetPolicy(max_workers=3)),
        claim_stale_s=300,
    )


def test_duplicate_delivery_queues_once_and_launches_once(
    aws, store, dispatcher, fake_launcher, queue
) -> None:
    store.create(make_job("j1"))
    rec = sqs_record(_body("j1"), message_id="m-1")
    dup = sqs_record(_body("j1"), message_id="m-1", receive_count=2)
    first = dispatcher_handler.process(sqs_event(rec, dup), dispatcher, queue)
    again = dispatcher_handler.process(sqs_event(sqs_record(_body("j1"))), dispatcher, queue)
    assert first == {"batchItemFailures": []} and again == {"batchItemFailures": []}
    assert _work_messages(aws) == ["j1"]
    assert len(fake_launcher.launched) == 1  # one worker for one job
    job = store.get("j1")
    assert job.status is JobStatus.CREATED and job.launch_id is None  # no worker took it yet
    assert [o.action for o in dispatcher.outcomes] == ["queued", "already_queued", "already_queued"]
    assert [o.launches for o in dispatcher.outcomes] == [1, 0, 0]


def test_a_burst_is_served_by_few_launches(aws, store, dispatcher, fake_launcher, queue, fleet) -> None:
    """25 jobs at once, at most 3 workers: 3 launches, whatever the order of the records."""
    for i in range(25):
        store.create(make_job(f"b{i}"))
    for chunk in range(0, 25, 10):
        records = [sqs_record(_body(f"b{i}")) for i in range(chunk, min(25, chunk + 10))]
        assert dispatcher_handler.process(sqs_event(*records), dispatcher, queue) == {"batchItemFailures": []}
    assert len(fake_launcher.launched) == 3
    assert sorted(_work_messages(aws)) == sorted(f"b{i}" for i in range(25))
    assert len(fleet.read().live(utcnow())) == 3
    assert len({s.worker_id for s in fake_launcher.launched}) == 3


def test_live_workers_take_the_backlog_without_a_launch(
    store, dispatcher, fake_launcher, queue, fleet
) -> None:
    # one warm worker reported a moment ago; jobs_per_worker=2: two jobs need no second worker
    fleet.report("warm-1", utcnow() + timedelta(seconds=60))
    dispatcher.scaler.policy = FleetPolicy(max_workers=3, jobs_per_worker=2)
    for j in ("w1", "w2"):
        store.create(make_job(j))
        dispatcher_handler.process(sqs_event(sqs_record(_body(j))), dispatcher, queue)
    assert fake_launcher.launched == []
    # a third job exceeds what one worker is expected to take: one more worker
    store.create(make_job("w3"))
    dispatcher_handler.process(sqs_event(sqs_record(_body("w3"))), dispatcher, queue)
    assert len(fake_launcher.launched) == 1


def test_expired_workers_do_not_count(store, dispatcher, fake_launcher, queue, fleet) -> None:
    fleet.report("vanished", utcnow() - timedelta(seconds=1))  # its lease ended: it died silently
    store.create(make_job("e1"))
    dispatcher_handler.process(sqs_event(sqs_record(_body("e1"))), dispatcher, queue)
    assert len(fake_launcher.launched) == 1
    state = fleet.read()
    assert "vanished" not in state.workers and len(state.live(utcnow())) == 1  # pruned by the same write


def test_two_decisions_on_the_same_shortfall_launch_once(aws, store, fake_launcher, fleet) -> None:
    """The capacity decision is a conditional write: a decision taken on a fleet version another
    dispatcher changed meanwhile is refused, read again, and finds no shortfall."""
    store.create(make_job("r1"))
    store.transition("r1", JobStatus.CREATED)
    other = FleetScaler(fleet, fake_launcher, FleetPolicy(max_workers=3))

    class RacingFleet:
        """The real fleet, except that another dispatcher decides between our read and our write."""

        def __init__(self) -> None:
            self.raced = False

        def read(self) -> FleetState:
            state = fleet.read()
            if not self.raced:
                self.raced = True
                assert len(other.ensure_capacity()) == 1
            return state

        def __getattr__(self, name: str):
            return getattr(fleet, name)

    mine = FleetScaler(RacingFleet(), fake_launcher, FleetPolicy(max_workers=3))  # type: ignore[arg-type]
    assert mine.ensure_capacity() == []
    assert len(fake_launcher.launched) == 1
    assert fleet.grow(FleetState(version=0), {"x": utcnow()}, now=utcnow()) is False  # a stale version


def test_canceled_job_is_not_queued(aws, store, dispatcher, fake_launcher, queue) -> None:
    store.create(make_job("c1"))
    store.transition("c1", JobStatus.CANCELED)
    out = dispatcher_handler.process(sqs_event(sqs_record(_body("c1"))), dispatcher, queue)
    assert out == {"batchItemFailures": []}
    assert fake_launcher.launched == [] and _work_messages(aws) == []
    assert store.get("c1").status is JobStatus.CANCELED


def test_unknown_job_or_other_tenant_is_acked_not_queued(
    aws, store, dispatcher, fake_launcher, queue
) -> None:
    store.create(make_job("o1", tenant="t1"))
    out = dispatcher_handler.process(
        sqs_event(sqs_record(_body("o1", "t2")), sqs_record(_body("nope"))), dispatcher, queue
    )
    assert out == {"batchItemFailures": []} and fake_launcher.launched == [] and _work_messages(aws) == []


def test_throttled_launch_fails_the_record_backs_off_and_retries(
    aws, store, dispatcher, fake_launcher, queue, fleet
) -> None:
    store.create(make_job("t1j"))
    fake_launcher.fail_with = LaunchThrottled("batch submit_job: TooManyRequestsException: Too Many Requests")
    sqs = client("sqs")
    sqs.send_message(QueueUrl=aws.job_queue_url, MessageBody=_body("t1j"))
    event = receive_as_lambda_event(aws.job_queue_url)
    (record,) = event["Records"]
    out = dispatcher_handler.process(event, dispatcher, queue)
    assert out == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
    # the job is queued for the workers; the claimed worker slot was given up
    assert store.get("t1j").status is JobStatus.CREATED and _work_messages(aws) == ["t1j"]
    assert fleet.read().live(utcnow()) == []
    # backed off: the throttled record is not visible again right away
    assert receive_as_lambda_event(aws.job_queue_url)["Records"] == []
    # once the service accepts launches again, the next delivery launches the worker (no 2nd message)
    fake_launcher.fail_with = None
    dispatcher_handler.process(sqs_event(sqs_record(_body("t1j"), receive_count=2)), dispatcher, queue)
    assert len(fake_launcher.launched) == 1 and _work_messages(aws) == []


def test_live_claim_defers_and_stale_claim_is_taken_over(
    aws, store, dispatcher, fake_launcher, queue
) -> None:
    claims = DynamoLaunchClaims(aws.table)
    store.create(make_job("s1"))
    assert claims.claim("s1", "other-delivery", stale_before=utcnow() - timedelta(seconds=300))
    out = dispatcher_handler.process(sqs_event(sqs_record(_body("s1"), message_id="m-s1")), dispatcher, queue)
    assert out == {"batchItemFailures": [{"itemIdentifier": "m-s1"}]}
    assert fake_launcher.launched == [] and _work_messages(aws) == []
    # the other delivery died: its claim goes stale and the next delivery takes over
    dispatcher.claim_stale_s = 0
    out = dispatcher_handler.process(sqs_event(sqs_record(_body("s1"))), dispatcher, queue)
    assert out == {"batchItemFailures": []} and _work_messages(aws) == ["s1"]
    assert store.get("s1").status is JobStatus.CREATED and len(fake_launcher.launched) == 1


def test_malformed_body_is_a_batch_item_failure(dispatcher, fake_launcher, queue) -> None:
    out = dispatcher_handler.process(
        sqs_event(sqs_record('{"jobId": 5}', message_id="bad")), dispatcher, queue
    )
    assert out == {"batchItemFailures": [{"itemIdentifier": "bad"}]}


class _RefusingWorkQueue(SqsWorkQueue):
    def send(self, message: WorkMessage) -> None:
        if message.job_id == "d1":
            raise LaunchFailed("sqs send_message: AccessDenied")
        super().send(message)


def test_dlq_marks_job_failed_launch_failed(aws, store, bus, dispatcher, fake_launcher, queue) -> None:
    dispatcher.work = _RefusingWorkQueue(aws.work_queue_url)
    store.create(make_job("d1"))
    store.create(make_job("d2"))
    for n in (1, 2, 3):
        out = dispatcher_handler.process(
            sqs_event(sqs_record(_body("d1"), message_id="m-d1", receive_count=n)), dispatcher, queue
        )
        assert out == {"batchItemFailures": [{"itemIdentifier": "m-d1"}]}
        job = store.get("d1")
        assert job.status is JobStatus.PENDING and job.launch_claim is None
    dispatcher_handler.process(sqs_event(sqs_record(_body("d2"))), dispatcher, queue)
    dlq_arn = "arn:aws:sqs:us-east-1:123456789012:diarist-jobs-dlq"
    event = sqs_event(
        sqs_record(_body("d1"), message_id="m-d1", arn=dlq_arn, receive_count=4),
        sqs_record(_body("d2"), arn=dlq_arn),  # queued after all: left alone
        sqs_record("not json", arn=dlq_arn),
    )
    out = dlq_handler.process(event, store, bus)
    assert out == {"batchItemFailures": []}
    job = store.get("d1")
    assert job.status is JobStatus.FAILED and job.error.code == "launch_failed"
    assert "could not queue the job for a worker" in job.error.message
    assert store.get("d2").status is JobStatus.CREATED
    assert [(d.job_id, d.status) for d in bus.published] == [("d1", JobStatus.FAILED)]
    # the DLQ redelivering the same record changes nothing
    dlq_handler.process(sqs_event(sqs_record(_body("d1"), arn=dlq_arn)), store, bus)
    assert len(bus.published) == 1


def test_lambda_handler_builds_from_settings(aws, store, monkeypatch, tmp_path) -> None:
    """The real entry point with launcher=local and the fleet settings."""
    monkeypatch.setenv("DIARIST_LAUNCHER", "local")
    monkeypatch.setenv("DIARIST_LOCAL_LAUNCH_DIR", str(tmp_path))
    monkeypatch.setenv("DIARIST_FLEET_MAX_WORKERS", "7")
    dispatcher, queue = dispatcher_handler.service()
    assert type(dispatcher.scaler.launcher).__name__ == "LocalLauncher"
    assert dispatcher.scaler.policy.max_workers == 7
    assert isinstance(queue, SqsJobQueue) and queue.queue_url == aws.job_queue_url
    work = dispatcher.work  # both lanes: the short and the long work queue
    assert isinstance(work, LanedWork) and isinstance(work.long, SqsWorkQueue)
    assert isinstance(work.short, SqsWorkQueue)
    assert (work.long.queue_url, work.short.queue_url) == (aws.work_queue_url, aws.short_work_queue_url)
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
    assert dispatch["message"] == "dispatch" and dispatch["action"] == "queued"
