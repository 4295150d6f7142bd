"""DynamoDB throttling on writes: the adapters' shared client (``adapters.aws``: botocore's
``standard`` retry mode, up to 5 retries) retries ``ProvisionedThroughputExceededException`` and
``ThrottlingException`` and nothing is lost; when the retries run out, the API tells the client to
retry (429) and the retry creates exactly one job.

The faults are injected below botocore's retry logic: a ``before-send`` handler answers a chosen
attempt with DynamoDB's own throttling response (HTTP 400 and the error's ``__type``), so the real
retry decision runs and the attempt that gets through reaches the moto server. Only the back-off
sleep is set to 0 (the decision is the subject, not the timing)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from diarist.adapters.aws import client
from diarist.adapters.dynamo_jobs import DynamoJobStore
from diarist.adapters.dynamo_tenants import DynamoTenantStore
from diarist.domain.errors import ErrorCode
from diarist.domain.jobs import JobStatus
from diarist.domain.limits import Slot
from diarist.services.lifecycle import fail_job, finish_job, mark_running
from tests.pipeline.conftest import RecordingEventBus, make_job

pytestmark = pytest.mark.integration

THROTTLES = ("ProvisionedThroughputExceededException", "ThrottlingException")


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self._body


class Throttler:
    """Answers DynamoDB sends with a throttling error while ``should_fail(operation, attempt)``
    says so (``attempt``: that operation's send count, 1-based); counts every send."""

    def __init__(self, should_fail: Callable[[str, int], bool]) -> None:
        self.should_fail = should_fail
        self.sends: Counter[str] = Counter()
        self.throttled: Counter[str] = Counter()

    def __call__(self, request: Any, event_name: str, **kwargs: Any) -> AWSResponse | None:
        operation = event_name.rsplit(".", 1)[-1]
        self.sends[operation] += 1
        if not self.should_fail(operation, self.sends[operation]):
            return None
        code = THROTTLES[self.throttled[operation] % len(THROTTLES)]
        self.throttled[operation] += 1
        body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "slow down"})
        return AWSResponse(
            request.url, 400, {"Content-Type": "application/x-amz-json-1.0"}, _Raw(body.encode())
        )


@pytest.fixture
def throttle(
    aws, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[Callable[[str, int], bool]], Throttler]]:
    import botocore.retries.standard

    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, ctx: 0)
    events = client("dynamodb").meta.events
    installed: list[Throttler] = []

    def install(should_fail: Callable[[str, int], bool]) -> Throttler:
        t = Throttler(should_fail)
        events.register("before-send.dynamodb", t, unique_id="test-throttle")
        installed.append(t)
        return t

    yield install
    events.unregister("before-send.dynamodb", unique_id="test-throttle")


def first_attempts(n: int) -> Callable[[str, int], bool]:
    """Throttle each call's first ``n`` attempts (calls made one after another, all retried)."""
    return lambda operation, attempt: (attempt - 1) % (n + 1) < n


def test_job_writes_are_retried_through_throttling_and_nothing_is_lost(aws, throttle) -> None:
    store, bus = DynamoJobStore(aws.table), RecordingEventBus()
    t = throttle(first_attempts(2))  # 2 throttles, the 3rd attempt of every call gets through
    for i in range(3):
        store.create(make_job(f"job-{i}"))
    assert mark_running(store, "job-0", launch_id="batch-1") is not None
    assert finish_job(store, bus, "job-0", JobStatus.SUCCEEDED, result_location="s3://r/job-0.json")
    assert fail_job(store, bus, "job-1", ErrorCode.WORKER_LOST, "gone") is not None
    store.update("job-2", progress=7)
    assert t.throttled["PutItem"] == 6 and t.sends["PutItem"] == 9
    assert t.throttled["UpdateItem"] >= 8  # running, succeeded, failed, progress (+ the outbox's)


def test_tenant_writes_are_retried_through_throttling(aws, throttle) -> None:
    tenants = DynamoTenantStore(aws.table)
    t = throttle(first_attempts(2))
    assert tenants.claim_slot("acme", Slot("job-a", 100), limit=1) is True
    assert tenants.claim_slot("acme", Slot("job-b", 100), limit=1) is False  # full, not lost
    assert [tenants.count_request("acme", 60, limit=2, expires_at=180) for _ in range(3)] == [1, 2, None]
    tenants.release("acme", [Slot("job-a", 100)])
    assert t.throttled["UpdateItem"] == 12 and t.sends["UpdateItem"] == 18
    t.should_fail = lambda operation, attempt: False
    assert tenants.slots("acme") == []
    assert tenants.requests_in("acme", 60) == 2


def test_retries_run_out_the_error_surfaces(aws, throttle) -> None:
    store = DynamoJobStore(aws.table)
    t = throttle(lambda operation, attempt: True)
    with pytest.raises(ClientError) as e:
        store.create(make_job("job-x"))
    assert e.value.response["Error"]["Code"] in THROTTLES
    assert t.sends["PutItem"] == 6  # adapters.aws: max_attempts=5 retries after the first attempt


def test_api_submissions_under_throttling_each_create_one_job(api, throttle, monkeypatch) -> None:
    from diarist.settings import load
    from functions.api import deps

    monkeypatch.setenv("DIARIST_MAX_ACTIVE_JOBS_PER_TENANT", "10")
    monkeypatch.setenv("DIARIST_REQUESTS_PER_MINUTE_PER_TENANT", "100")
    load.cache_clear()
    deps.reset()
    t = throttle(first_attempts(1))  # every DynamoDB call's first attempt is throttled
    ids = []
    for i in range(4):
        r = api.call(
            "POST",
            "/v1/diarize",
            body={"url": "https://example.com/a.wav"},
            headers={"Idempotency-Key": f"k{i}"},
        )
        assert r.status == 200, r.body
        ids.append(r.body["jobId"])
    assert t.throttled["PutItem"] == 8  # each job and its Idempotency-Key record
    assert t.throttled["UpdateItem"] >= 8  # each request counted, each slot claimed
    t.should_fail = lambda operation, attempt: False
    assert sorted(m["jobId"] for m in api.queue_messages()) == sorted(ids)
    assert all(api.store.get(j).status is JobStatus.PENDING for j in ids)
    assert deps.limits().usage("tenant-a").active_jobs == 4

    # DynamoDB throttles every attempt to write the job: the client is told to retry (429), the
    # slot claimed for it is given back, nothing half-written
    t.should_fail = lambda operation, attempt: operation == "PutItem"
    r = api.call(
        "POST", "/v1/diarize", body={"url": "https://example.com/b.wav"}, headers={"Idempotency-Key": "k-x"}
    )
    assert r.status == 429 and r.headers["retry-after"] == "1"
    t.should_fail = lambda operation, attempt: False
    again = api.call(
        "POST", "/v1/diarize", body={"url": "https://example.com/b.wav"}, headers={"Idempotency-Key": "k-x"}
    )
    assert again.status == 200, again.body
    assert len(api.queue_messages()) == 1  # the retry's only (the four above were received already)
    assert deps.limits().usage("tenant-a").active_jobs == 5
