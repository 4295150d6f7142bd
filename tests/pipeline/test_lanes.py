"""Two work lanes (``domain.lanes``, ``services.lanes.LanedWork``) on the moto queues: the lane a
job's known input picks, short jobs taken before long ones, a long job taken after ``long_every``
short ones in a row (never starved), receipts that reach their own queue, and the dispatcher and a
drain worker over both lanes."""

from __future__ import annotations

import pytest

from diarist.adapters.aws import client
from diarist.adapters.dynamo_fleet import DynamoWorkerFleet
from diarist.adapters.dynamo_launch_claims import DynamoLaunchClaims
from diarist.adapters.s3_store import S3ObjectStore
from diarist.adapters.sqs_work_queue import SqsWorkQueue
from diarist.domain.fleet import FleetPolicy
from diarist.domain.jobs import JobStatus
from diarist.domain.lanes import LONG, SHORT, SHORT_MAX_BYTES, SHORT_MAX_SECONDS, lane_of, lane_order
from diarist.domain.messages import DispatchMessage, WorkMessage
from diarist.services.dispatch import Dispatcher
from diarist.services.fleet import FleetScaler
from diarist.services.lanes import LanedWork
from diarist.settings import DrainSettings
from diarist.testing.fake_engine import FakeJobDiarizer
from diarist.testing.fake_launcher import FakeLauncher
from diarist.wiring import build_work_queue
from diarist.worker.drain import Drainer
from diarist.worker.main import EXIT_OK, SigtermGuard, WorkerIdentity
from tests.pipeline.conftest import make_job, wav_bytes

pytestmark = pytest.mark.integration


def test_the_lane_comes_from_what_the_job_knows_of_its_input() -> None:
    assert lane_of(30.0, None) == SHORT and lane_of(SHORT_MAX_SECONDS, 10**9) == SHORT  # duration wins
    assert lane_of(SHORT_MAX_SECONDS + 1, 1000) == LONG
    assert lane_of(None, SHORT_MAX_BYTES) == SHORT and lane_of(None, SHORT_MAX_BYTES + 1) == LONG
    assert lane_of(None, None) == LONG  # https:// or someone else's s3:// input: unknown -> long
    assert lane_order(0, 3) == (SHORT, LONG) and lane_order(2, 3) == (SHORT, LONG)
    assert lane_order(3, 3) == (LONG, SHORT)
    assert lane_order(100, 0) == (SHORT, LONG)  # 0: long only when no short job waits
    assert WorkMessage.of(make_job("j", input_bytes=1000)).lane == SHORT
    assert WorkMessage.of(make_job("j")).lane == LONG
    # a message from before the lanes (no "lane") is the long lane's
    assert WorkMessage.model_validate_json('{"jobId": "j", "tenantId": "t1"}').lane == LONG


def _lanes(aws, long_every: int = 2) -> LanedWork:
    work = build_work_queue(aws.work_queue_url, aws.short_work_queue_url, long_every)
    assert isinstance(work, LanedWork)
    return work


def _send(lanes: LanedWork, job_id: str, lane) -> None:
    lanes.send(WorkMessage(job_id=job_id, tenant_id="t1", lane=lane))


def test_short_first_then_a_long_one_after_long_every_shorts(aws) -> None:
    lanes = _lanes(aws, long_every=2)
    for i in range(2):
        _send(lanes, f"long-{i}", LONG)
    for i in range(5):
        _send(lanes, f"short-{i}", SHORT)
    order = []
    while True:
        items = lanes.receive(wait_s=0, visibility_s=30)
        if not items:
            break
        (item,) = items
        order.append(item.message.job_id.split("-")[0])
        lanes.done(item.receipt)  # the receipt reaches the queue the message came from
    # two shorts, then a long one (not starved behind every short), and so on; all taken once
    assert order == ["short", "short", "long", "short", "short", "long", "short"]
    for url in (aws.work_queue_url, aws.short_work_queue_url):
        attrs = client("sqs").get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        assert attrs == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}


def test_an_empty_lane_never_holds_a_worker_back_and_give_back_reaches_its_queue(aws) -> None:
    lanes = _lanes(aws, long_every=0)
    _send(lanes, "only-long", LONG)
    (item,) = lanes.receive(wait_s=1, visibility_s=30)
    assert item.message.job_id == "only-long" and item.receipt.startswith("long:")
    lanes.give_back(item.receipt)  # visible again at once, on the long queue
    (again,) = SqsWorkQueue(aws.work_queue_url).receive(wait_s=0, visibility_s=30)
    assert again.message.job_id == "only-long" and again.receive_count == 2
    assert lanes.receive(wait_s=0, visibility_s=30) == []


def test_without_a_short_queue_there_is_one_lane(aws) -> None:
    work = build_work_queue(aws.work_queue_url, None, 3)
    assert isinstance(work, SqsWorkQueue)
    work.send(WorkMessage(job_id="j", tenant_id="t1", lane=SHORT))
    (item,) = work.receive(wait_s=0, visibility_s=30)
    assert item.message.job_id == "j"


def test_dispatch_puts_each_job_on_its_lane_and_a_worker_drains_short_ones_first(aws, store, bus) -> None:
    lanes = _lanes(aws, long_every=3)
    dispatcher = Dispatcher(
        store=store,
        claims=DynamoLaunchClaims(aws.table),
        work=lanes,
        scaler=FleetScaler(DynamoWorkerFleet(aws.table), FakeLauncher(), FleetPolicy(max_workers=1)),
    )
    s3 = client("s3")
    sizes = {"long-a": None, "short-a": 4.0, "short-b": 4.0, "long-b": None, "short-c": 4.0}
    for job_id, seconds in sizes.items():
        key = f"media/t1/{job_id}.wav"
        s3.put_object(Bucket=aws.media_bucket, Key=key, Body=wav_bytes(4.0))
        known = {"input_seconds": seconds} if seconds else {}  # long-*: nothing known (an https:// input)
        store.create(make_job(job_id, input_url=f"s3://{aws.media_bucket}/{key}", **known))
        assert dispatcher.dispatch(DispatchMessage(job_id=job_id, tenant_id="t1")).action == "queued"
    worker = Drainer(
        settings=DrainSettings(
            idle_timeout_s=1.0, poll_wait_s=1, message_visibility_s=5, progress_interval_s=0.2
        ),
        queue=build_work_queue(aws.work_queue_url, aws.short_work_queue_url, 3),
        fleet=DynamoWorkerFleet(aws.table),
        store=store,
        events=bus,
        objects=S3ObjectStore(),
        s3_client=s3,
        diarizer=FakeJobDiarizer(),
        worker=WorkerIdentity(worker_id="w-lanes", launch_id="launch-w-lanes", log=None),
    )
    rc, stats = worker.run(SigtermGuard())
    assert rc == EXIT_OK
    # submitted long-a first, but the three short ones ran before it; then the long ones
    assert [j.split("-")[0] for j in stats.job_ids] == ["short", "short", "short", "long", "long"]
    assert all(store.get(j).status is JobStatus.SUCCEEDED for j in sizes)
