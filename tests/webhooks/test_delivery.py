"""Webhook delivery end to end on the moto server: EventBridge -> SQS -> handler -> loopback receiver.

The receiver runs on 127.0.0.1 over plain http, reachable only because these tests use the
local-mode policy; ``test_production_policy_refuses_the_loopback_receiver`` shows the default
refuses it. Retry delays are 0 s and the timeout 1 s so the suite stays fast.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from diarist import resources as R
from diarist import wiring
from diarist.adapters.aws import client
from diarist.adapters.dynamo_jobs import DynamoJobStore
from diarist.adapters.dynamo_webhook_ledger import DynamoWebhookLedger
from diarist.adapters.events import EventBridgeBus
from diarist.adapters.s3_store import S3ObjectStore
from diarist.adapters.secrets import SecretsManagerSecretStore
from diarist.adapters.sqs_webhook_queue import SqsWebhookQueue
from diarist.domain.errors import Conflict, JobNotFound
from diarist.domain.jobs import Job, JobError, JobParams, JobStatus
from diarist.domain.messages import WebhookRetryMessage, parse_webhook_queue_body
from diarist.domain.results import ChannelResult, Confidence, DiarizationResult, Turn
from diarist.domain.signing import sign
from diarist.netpolicy import LOCAL, PRODUCTION
from diarist.ports import IN_PROGRESS, Claim
from diarist.services import webhooks
from diarist.services.webhooks import DeliveryConfig, Outcome, WebhookDeliveryExhausted, WebhookService
from diarist.settings import WebhookSettings, forget_built
from functions.webhook.handler import lambda_handler
from tests.events import LambdaContext, sqs_event
from tests.webhooks.conftest import ConnectionLog, Receiver

pytestmark = pytest.mark.integration


TENANT = "t1"


class RecordingQueue:
    def __init__(self, inner: SqsWebhookQueue) -> None:
        self.inner = inner
        self.sent: list[tuple[WebhookRetryMessage, int]] = []

    def send_retry(self, message: WebhookRetryMessage, delay_s: int) -> None:
        self.sent.append((message, delay_s))
        self.inner.send_retry(message, delay_s)


RESULT = DiarizationResult(
    duration=4.0,
    sample_rate=16000,
    num_channels=1,
    channel_mode="mix",
    channels=[
        ChannelResult(
            channel=None,
            speakers=["SPEAKER_00", "SPEAKER_01"],
            diarization=[
                Turn(speaker="SPEAKER_00", start=0.0, end=2.5, confidence=91.0),
                Turn(speaker="SPEAKER_01", start=2.0, end=4.0, confidence=80.0),
            ],
            exclusive_diarization=[
                Turn(speaker="SPEAKER_00", start=0.0, end=2.0),
                Turn(speaker="SPEAKER_01", start=2.0, end=4.0),
            ],
            confidence=Confidence(score=[90, 80, 70]),
        )
    ],
    model="test-model",
)


@pytest.fixture
def secrets(aws: Any) -> SecretsManagerSecretStore:
    return SecretsManagerSecretStore(R.WEBHOOK_SECRET_PREFIX)


@pytest.fixture
def store(aws: Any) -> DynamoJobStore:
    return DynamoJobStore(aws.table)


@pytest.fixture
def make_service(aws: Any, secrets: SecretsManagerSecretStore):
    def make(**config: Any) -> WebhookService:
        values: dict[str, Any] = {"timeout_s": 1.0, "retry_delays_s": (0, 0, 0), "policy": LOCAL}
        values.update(config)
        return WebhookService(
            jobs=DynamoJobStore(aws.table),
            ledger=DynamoWebhookLedger(aws.table),
            objects=S3ObjectStore(),
            secrets=secrets,
            retries=RecordingQueue(SqsWebhookQueue(aws.webhook_queue_url)),
            config=DeliveryConfig(**values),
        )

    return make


@pytest.fixture
def service(make_service: Any, monkeypatch: pytest.MonkeyPatch) -> WebhookService:
    svc: WebhookService = make_service()
    monkeypatch.setattr(wiring, "webhook_service", lambda: svc)  # what the handler calls
    return svc


def make_job(
    aws: Any,
    store: DynamoJobStore,
    url: str | None,
    *,
    job_id: str = "job-1",
    status: JobStatus = JobStatus.SUCCEEDED,
    params: JobParams | None = None,
    status_only: bool = False,
) -> Job:
    result_location = None
    if status is JobStatus.SUCCEEDED:
        key = f"{R.RESULTS_PREFIX}{TENANT}/{job_id}.json"
        S3ObjectStore().put_bytes(
            aws.results_bucket, key, RESULT.model_dump_json(by_alias=True).encode(), "application/json"
        )
        result_location = f"s3://{aws.results_bucket}/{key}"
    job = Job(
        job_id=job_id,
        tenant_id=TENANT,
        status=status,
        input_url="s3://in/a.wav",
        params=params or JobParams(),
        webhook_url=url,
        webhook_status_only=status_only,
        result_location=result_location,
        error=JobError(code="input_corrupt", message="not audio") if status is JobStatus.FAILED else None,
        webhook_delivery="pending" if url else "none",
    )
    store.create(job)
    return job


def publish(aws: Any, job: Job) -> None:
    EventBridgeBus(aws.event_bus).job_finished(webhooks.completion_detail(job))


def pump(aws: Any, *, max_batches: int = 20) -> list[dict[str, Any]]:
    """Act as the SQS -> Lambda event source mapping (ReportBatchItemFailures) until the queue is
    empty. A failed record becomes visible again at once (as after its visibility timeout)."""
    sqs = client("sqs")
    arn = sqs.get_queue_attributes(QueueUrl=aws.webhook_queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    responses: list[dict[str, Any]] = []
    for _ in range(max_batches):
        messages = sqs.receive_message(
            QueueUrl=aws.webhook_queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            break
        response: dict[str, Any] = dict(lambda_handler(sqs_event(messages, arn), LambdaContext("webhook")))
        failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        for m in messages:
            if m["MessageId"] in failed:
                sqs.change_message_visibility(
                    QueueUrl=aws.webhook_queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                sqs.delete_message(QueueUrl=aws.webhook_queue_url, ReceiptHandle=m["ReceiptHandle"])
        responses.append(response)
    return responses


def dlq_bodies(aws: Any) -> list[dict[str, Any]]:
    msgs = (
        client("sqs")
        .receive_message(QueueUrl=aws.webhook_dlq_url, MaxNumberOfMessages=10)
        .get("Messages", [])
    )
    return [json.loads(m["Body"]) for m in msgs]


# -- the happy path -------------------------------------------------------------------------------


def test_event_to_signed_delivery(
    aws: Any,
    store: DynamoJobStore,
    service: WebhookService,
    secrets: SecretsManagerSecretStore,
    receiver: Receiver,
    net: ConnectionLog,
) -> None:
    # Given a tenant secret, a receiver that verifies with it, and a finished job
    receiver.secrets = [secrets.ensure(TENANT)]
    job = make_job(aws, store, receiver.url(), params=JobParams(exclusive=True, confidence=True))
    # When the worker's completion event goes through EventBridge -> queue -> handler
    publish(aws, job)
    responses = pump(aws)
    # Then one signed POST in pyannoteAI's shape
    assert responses and all(r["batchItemFailures"] == [] for r in responses)
    (req,) = receiver.requests
    assert req.method == "POST" and req.verified
    assert req.headers["Content-Type"] == "application/json"
    assert "x-retry-num" not in {k.lower() for k in req.headers}
    body = json.loads(req.body)
    assert body["jobId"] == "job-1" and body["status"] == "succeeded"
    assert body["output"]["diarization"] == [
        {"speaker": "SPEAKER_00", "start": 0.0, "end": 2.5},
        {"speaker": "SPEAKER_01", "start": 2.0, "end": 4.0},
    ]
    assert body["output"]["exclusiveDiarization"][0] == {"speaker": "SPEAKER_00", "start": 0.0, "end": 2.0}
    assert body["output"]["confidence"] == {"score": [90, 80, 70], "resolution": 0.02}
    # And the attempt is recorded on the job
    stored = store.get("job-1")
    assert stored is not None and stored.webhook_delivery == "delivered"
    (attempt,) = stored.webhook_attempts
    assert attempt.status_code == 200 and attempt.error is None and attempt.attempt == 0
    assert attempt.latency_ms is not None and attempt.latency_ms >= 0
    assert net.ports_to("127.0.0.1").count(receiver.port) == 1


def test_status_only_failed_and_canceled_bodies(
    aws: Any,
    store: DynamoJobStore,
    service: WebhookService,
    secrets: SecretsManagerSecretStore,
    receiver: Receiver,
    net: ConnectionLog,
) -> None:
    secrets.ensure(TENANT)
    make_job(aws, store, receiver.url(), job_id="only", status_only=True)
    make_job(aws, store, receiver.url(), job_id="bad", status=JobStatus.FAILED)
    make_job(aws, store, receiver.url(), job_id="gone", status=JobStatus.CANCELED)
    make_job(aws, store, None, job_id="nohook")
    for job_id in ("only", "bad", "gone", "nohook"):
        job = store.get(job_id)
        assert job is not None
        service.on_job_finished(webhooks.completion_detail(job))
    bodies = {json.loads(r.body)["jobId"]: json.loads(r.body) for r in receiver.requests}
    assert bodies["only"] == {"jobId": "only", "status": "succeeded"}
    # pyannoteAI sends no output for failed or canceled jobs; Diarist adds the error beside it
    assert bodies["bad"] == {
        "jobId": "bad",
        "status": "failed",
        "error": {"code": "input_corrupt", "message": "not audio"},
    }
    assert bodies["gone"] == {"jobId": "gone", "status": "canceled"}
    assert "nohook" not in bodies and len(receiver.requests) == 3


def test_slow_answer_within_timeout_is_delivered(
    aws: Any,
    store: DynamoJobStore,
    service: WebhookService,
    secrets: SecretsManagerSecretStore,
    receiver: Receiver,
    net: ConnectionLog,
) -> None:
    secrets.ensure(TENANT)
    receiver.plan = [("slow", 0.4, 204)]
    job = make_job(aws, store, receiver.url())
    assert service.on_job_finished(webhooks.completion_detail(job)) is Outcome.DELIVERED
    stored = store.get(job.job_id)
    assert stored is not None and stored.webhook_attempts[0].status_code == 204
    assert stored.webhook_attempts[0].latency_ms is not None and stored.webhook_attempts[0].latency_ms >= 400


# -- retries, timeouts, DLQ -------------------------------------------------------------------------


def test_retries_with_headers_until_delivered(
    aws: Any,
    store: DynamoJobStore,
    service: WebhookService,
    secrets: SecretsManagerSecretStore,
    receiver: Receiver,
    net: ConnectionLog,
) -> None:
    receiver.secrets = [secrets.ensure(TENANT)]
    receiver.plan = [500, ("hang", 1.6), 503]  # then 200
    job = make_job(aws, store, receiver.url())
    publish(aws, job)
    pump(aws)
    # Then four attempts: first, retry 1 (after 500), retry 2 (after the timeout), retry 3 (after 503)
    assert len(receiver.requests) == 4
    assert all(r.verified for r in receiver.requests)
    retry_headers = [
        (r.headers.get("x-retry-num"), r.headers.get("x-retry-reason")) for r in receiver.requests
    ]
    assert retry_headers == [(None, None), ("1", "http_500"), ("2", "timeout"), ("3", "http_503")]
    # every attempt recorded: time, status code, latency, error
    stored = store.get(job.job_id)
    assert stored is not None and stored.webhook_delivery == "delivered"
    codes = [(a.attempt, a.status_code) for a in stored.webhook_attempts]
    assert codes == [(0, 500), (1, None), (2, 503), (3, 200)]
    # the status and its standard reason, never what the receiver answered
    assert [a.error for a in stored.webhook_attempts[::2]] == [
        "HTTP 500 Internal Server Error",
        "HTTP 503 Service Unavailable",
    ]
    assert not any("receiver says no" in (a.error or "") for a in stored.webhook_attempts)
    assert stored.webhook_attempts[1].error is not None and "time" in stored.webhook_attempts[1].error
    timeout_latency = stored.webhook_attempts[1].latency_ms
    assert timeout_latency is not None and 900 <= timeout_latency < 3000  # gave up at the 1 s timeout
    ats = [a.at for a in stored.webhook_attempts]
    assert ats == sorted(ats)
    # retries were scheduled with the configured delays
    assert isinstance(service.retries, RecordingQueue)
    assert [(m.attempt, m.seq, d) for m, d in service.retries.sent] == [(1, 1, 0), (2, 2, 0), (3, 3, 0)]


def test_exhausted_retries_mark_failed_and_end_in_the_dlq(
    aws: Any,
    store: DynamoJobStore,
    service: WebhookService,
    secrets: SecretsManagerSecretStore,
    receiver: Receiver,
    net: ConnectionLog,
) -> None:
    secrets.ensure(TENANT)
    receiver.default = 500
    job = make_job(aws, store, receiver.url())
    publish(aws, job)
    responses = pump(aws)
    # 1 + 3 attempts, no more (redelivered messages of an exhausted round send nothing)
    assert len(receiver.requests) == 4
    stored = store.get(job.job_id)
    assert stored is not None and stored.webhook_delivery == "failed"
    assert [a.attempt for a in stored.webhook_attempts] == [0, 1, 2, 3]
    assert all(a.status_code == 500 for a in stored.webhook_attempts)
    # the last message failed on every receive, and the redrive policy (maxReceiveCount 3) moved it
    assert sum(len(r["batchItemFailures"]) for r in responses) == 3
    (dead,) = dlq_bodies(aws)
    assert dead["kind"] == "diarist.webhook.retry"
    assert (dead["jobId"], dead["attempt"], dead["seq"], dead["reason"]) == ("job-1", 3, 3, "http_500")


def test_410_gone_stops_retrying(
    aws: Any,
    store: DynamoJobStore,
    service: WebhookService,
    secrets: SecretsManagerSecretStore,
    receiver: Receiver,
    net: ConnectionLog,
) -> None:
    secrets.ensure(TENANT)
    receiver.default = 410
    job = make_job(aws, store, receiver.url())
    publish(aws, job)
    responses = pump(aws)
    assert len(receiver.requests) == 1
    assert all(r["batchItemFailures"] == [] for r in responses)
    stored = store.get(job.job_id)
    assert stored is not None and stored.webhook_delivery == "failed"
    assert stored.webhook_attempts[0].status_code == 410
    assert dlq_bodies(aws) == []


def test_redirect_is_not_followed(
    aws: Any,
    store: DynamoJobStore,
    service: WebhookService,
    secrets: SecretsManagerSecretStore,
    receiver: Receiver,
    net: ConnectionLog,
) -> None:
    secrets.ensure(TENANT)
    receiver.plan = [("redirect", 302, "http://169.254.169.254/latest/meta-data/")]
    job = make_job(aws, store, receiver.url())
    assert service.on_job_finished(webhooks.completion_detail(job)) is Outcome.RETRY_SCHEDULED
    assert "169.254.169.254" not in [h for h, _ in net.connects]
    stored = store.get(job.job_id)
    assert stored is not None and stored.webhook_attempts[0].status_code == 302


def test_missing_signing_secret_is_retried_never_sent_unsigned(
    aws: Any, store: DynamoJobStore, service: WebhookService, receiver: Receiver, net: ConnectionLog
) -> None:
    job = make_job(aws, store, receiver.url())
    assert service.on_job_finished(webhooks.completion_detail(job)) is Outcome.RETRY_SCHEDULED
    assert receiver.requests == []
    stored = store.get(job.job_id)
    assert stored is not None and "SigningSecretMissing" in (stored.webhook_attempts[0].error or "")


# -- at-least-once: replays and duplicates ----------------------------------------------------------------


def test_replayed_event_is_not_delivered_twice(
    aws: Any,
    store: DynamoJobStore,
    service: WebhookService,
    secrets: SecretsManagerSecretStore,
    receiver: Receiver,
    net: ConnectionLog,
) -> None:
    secrets.ensure(TENANT)
    job = make_job(aws, store, receiver.url())
    publish(aws, job)
    pump(aws)
    assert len(receiver.requests) == 1
    # EventBridge delivers the same event again (at-least-once), twice
    publish(aws, job)
    publish(aws, job)
    responses = pump(aws)
    assert responses and all(r["batchItemFailures"] == [] for r in responses)
    assert len(receiver.requests) == 1
    stored = store.get(job.job_id)
    assert stored is not None and len(stored.webhook_attempts) == 1 and stored.webhook_delivery == "delivered"


def test_duplicated_retry_message_sends_once(
    aws: Any,
    store: DynamoJobStore,
    service: WebhookService,
    secrets: SecretsManagerSecretStore,
    receiver: Receiver,
    net: ConnectionLog,
) -> None:
    secrets.ensure(TENANT)
    receiver.plan = [500]
    job = make_job(aws, store, receiver.url())
    assert service.on_job_finished(webhooks.completion_detail(job)) is Outcome.RETRY_SCHEDULED
    assert isinstance(service.retries, RecordingQueue)
    ((retry, _),) = service.retries.sent
    assert service.on_retry(retry) is Outcome.DELIVERED
    assert service.on_retry(retry) is Outcome.SKIPPED  # SQS delivered the message twice
    assert len(receiver.requests) == 2


def test_duplicate_arriving_during_an_attempt_is_skipped(
    aws: Any,
    store: DynamoJobStore,
    service: WebhookService,
    secrets: SecretsManagerSecretStore,
    receiver: Receiver,
    net: ConnectionLog,
) -> None:
    # EventBridge duplicates arrive milliseconds apart, in other function instances: while the
    # first attempt is in flight its claim (the placeholder slot) turns the others away.
    # (The claim itself is one conditional write, atomic on DynamoDB; moto does not serialise
    # concurrent conditional writes, so the test orders the duplicates after the claim.)
    secrets.ensure(TENANT)
    receiver.default = ("slow", 0.5, 200)
    job = make_job(aws, store, receiver.url())
    detail = webhooks.completion_detail(job)
    outcomes: list[Outcome] = []
    first = threading.Thread(target=lambda: outcomes.append(service.on_job_finished(detail)))
    first.start()
    deadline = time.monotonic() + 5
    while not receiver.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    assert receiver.requests, "the first attempt never reached the receiver"
    for _ in range(3):
        assert service.on_job_finished(detail) is Outcome.SKIPPED
    first.join()
    assert outcomes == [Outcome.DELIVERED]
    assert len(receiver.requests) == 1
    stored = store.get(job.job_id)
    assert stored is not None and len(stored.webhook_attempts) == 1


def test_stale_claim_of_a_dead_attempt_is_taken_over(
    aws: Any,
    store: DynamoJobStore,
    service: WebhookService,
    secrets: SecretsManagerSecretStore,
    receiver: Receiver,
    net: ConnectionLog,
) -> None:
    secrets.ensure(TENANT)
    job = make_job(aws, store, receiver.url())
    ledger = DynamoWebhookLedger(aws.table)
    # A function claimed attempt 0 a minute ago and died before recording it
    old = datetime.now(UTC) - timedelta(seconds=60)
    assert ledger.claim(job.job_id, seq=0, attempt=0, at=old, stale_after_s=7) is Claim.CLAIMED
    stored = store.get(job.job_id)
    assert stored is not None and stored.webhook_attempts[0].error == IN_PROGRESS
    # A fresh claim is not taken over ...
    assert (
        ledger.claim(job.job_id, seq=0, attempt=0, at=old + timedelta(seconds=1), stale_after_s=7)
        is Claim.TAKEN
    )
    # ... but when its message comes back after the visibility timeout, it is
    assert service.on_job_finished(webhooks.completion_detail(job)) is Outcome.DELIVERED
    stored = store.get(job.job_id)
    assert stored is not None and len(stored.webhook_attempts) == 1
    assert stored.webhook_attempts[0].status_code == 200 and stored.webhook_delivery == "delivered"


# -- redelivery ----------------------------------------------------------------------------------------------


def test_redeliver_starts_a_new_round(
    aws: Any,
    store: DynamoJobStore,
    service: WebhookService,
    secrets: SecretsManagerSecretStore,
    receiver: Receiver,
    net: ConnectionLog,
) -> None:
    secrets.ensure(TENANT)
    receiver.default = 500
    job = make_job(aws, store, receiver.url())
    publish(aws, job)
    pump(aws)
    assert len(receiver.requests) == 4
    # the user fixes their endpoint and asks again (POST /v1/jobs/{jobId}/webhook)
    receiver.default = 200
    updated = service.redeliver(job.job_id, TENANT)
    assert updated.webhook_delivery == "pending"
    stored = store.get(job.job_id)
    assert stored is not None and stored.webhook_delivery == "pending"
    pump(aws)
    assert len(receiver.requests) == 5
    assert "x-retry-num" not in receiver.requests[-1].headers  # a new round starts at attempt 0
    stored = store.get(job.job_id)
    assert stored is not None and stored.webhook_delivery == "delivered"
    assert [(a.attempt, a.status_code) for a in stored.webhook_attempts][-2:] == [(3, 500), (0, 200)]


def test_module_redeliver_from_environment(aws: Any, store: DynamoJobStore) -> None:
    # what POST /v1/jobs/{jobId}/webhook calls: services.wiring.redeliver_webhook(job_id, tenant_id)
    make_job(aws, store, "https://hooks.example.com/x", job_id="api-1")
    job = wiring.redeliver_webhook("api-1", TENANT)
    assert job.job_id == "api-1" and job.webhook_delivery == "pending"
    (message,) = client("sqs").receive_message(QueueUrl=aws.webhook_queue_url, MaxNumberOfMessages=10)[
        "Messages"
    ]
    assert json.loads(message["Body"]) == {
        "kind": "diarist.webhook.retry",
        "version": 1,
        "jobId": "api-1",
        "tenantId": TENANT,
        "attempt": 0,
        "seq": 0,
        "reason": "redeliver",
    }


def test_redeliver_refusals(aws: Any, store: DynamoJobStore, service: WebhookService) -> None:
    make_job(aws, store, "https://hooks.example.com/x", job_id="done")
    make_job(aws, store, None, job_id="nohook")
    store.create(
        Job(job_id="busy", tenant_id=TENANT, input_url="s3://b/k", webhook_url="https://h.example.com/")
    )
    with pytest.raises(JobNotFound):
        service.redeliver("done", "someone-else")
    with pytest.raises(JobNotFound):
        service.redeliver("missing", TENANT)
    with pytest.raises(Conflict, match="pending"):
        service.redeliver("busy", TENANT)
    with pytest.raises(Conflict, match="no webhook"):
        service.redeliver("nohook", TENANT)


# -- signing secrets ---------------------------------------------------------------------------------------


def test_rotation_keeps_old_receivers_working(
    aws: Any,
    store: DynamoJobStore,
    service: WebhookService,
    secrets: SecretsManagerSecretStore,
    receiver: Receiver,
    net: ConnectionLog,
) -> None:
    old = secrets.ensure(TENANT)
    assert secrets.ensure(TENANT) == old  # idempotent
    new = secrets.rotate(TENANT, grace_s=3600)
    assert new != old and secrets.signing_secrets(TENANT) == [new, old]
    # a receiver still configured with the old secret verifies during the rotation
    receiver.secrets = [old]
    job = make_job(aws, store, receiver.url(), job_id="r1")
    service.on_job_finished(webhooks.completion_detail(job))
    req = receiver.requests[-1]
    assert req.verified
    # X-Signature itself is made with the new secret (pyannoteAI-compatible receivers switch to it)
    assert req.headers["X-Signature"] == sign(new, req.headers["X-Request-Timestamp"], req.body)
    # once the grace period is over only the new secret signs: old-only receivers fail
    secrets.rotate(TENANT, grace_s=0)
    newest = secrets.signing_secrets(TENANT)
    assert len(newest) == 1 and newest[0] not in (old, new)
    job2 = make_job(aws, store, receiver.url(), job_id="r2")
    service.on_job_finished(webhooks.completion_detail(job2))
    assert not receiver.requests[-1].verified
    assert "X-Signature-Previous" not in receiver.requests[-1].headers


def test_secret_store_cache_ttl_and_module_functions(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from diarist.adapters.secrets import SigningSecretMissing

    now = [1000.0]
    cached = SecretsManagerSecretStore(R.WEBHOOK_SECRET_PREFIX, ttl_s=60, clock=lambda: now[0])
    with pytest.raises(SigningSecretMissing):
        cached.signing_secrets("t9")
    forget_built()
    first = wiring.ensure_signing_secret("t9")
    assert first.startswith("whsec_") and wiring.ensure_signing_secret("t9") == first
    assert cached.signing_secrets("t9") == [first]
    rotated = wiring.rotate_signing_secret("t9")
    assert cached.signing_secrets("t9") == [first]  # still cached in this warm container
    now[0] += 61
    assert cached.signing_secrets("t9") == [rotated, first]
    raw = json.loads(client("secretsmanager").get_secret_value(SecretId="diarist/webhook/t9")["SecretString"])
    assert raw["current"] == rotated and raw["previous"] == first and raw["previousValidUntil"] > 0
    with pytest.raises(ValueError):
        cached.name_for("bad tenant/../x")
    # local mode chooses the value: created with it, or made current
    chosen = "whs_local-mode-secret-0123"
    assert wiring.ensure_signing_secret("t10", secret=chosen) == chosen
    assert wiring.ensure_signing_secret("t10") == chosen
    assert wiring.ensure_signing_secret("t9", secret=chosen) == chosen
    assert SecretsManagerSecretStore(R.WEBHOOK_SECRET_PREFIX).signing_secrets("t9") == [chosen]
    with pytest.raises(ValueError):
        wiring.ensure_signing_secret("t11", secret="  ")
    forget_built()


# -- policy and settings --------------------------------------------------------------------------------------


def test_production_policy_refuses_the_loopback_receiver(
    aws: Any,
    store: DynamoJobStore,
    make_service: Any,
    secrets: SecretsManagerSecretStore,
    receiver: Receiver,
    net: ConnectionLog,
) -> None:
    secrets.ensure(TENANT)
    prod = make_service(policy=PRODUCTION)
    for job_id, url in (("p1", receiver.url()), ("p2", receiver.url().replace("http://", "https://"))):
        job = make_job(aws, store, url, job_id=job_id)
        assert prod.on_job_finished(webhooks.completion_detail(job)) is Outcome.FAILED
        stored = store.get(job_id)
        assert stored is not None and stored.webhook_delivery == "failed"
        assert (stored.webhook_attempts[0].error or "").startswith("refused:")
    assert receiver.requests == []
    assert receiver.port not in net.ports_to("127.0.0.1")  # not even a TCP connection


def test_default_settings_timeout_10s_and_pyannote_retry_schedule(aws: Any) -> None:
    settings = WebhookSettings()  # from the provisioned environment, no overrides
    assert settings.webhook_timeout_s == 10.0
    assert list(settings.webhook_retry_delays_s) == [0, 60, 300]
    assert (settings.allow_http, settings.allow_private_networks) == (False, False)
    config = DeliveryConfig.from_settings(settings)
    assert config.timeout_s == 10.0 and config.max_retries == 3 and config.policy is settings
    assert DeliveryConfig().timeout_s == 10.0


def test_handler_wired_from_environment(
    aws: Any,
    store: DynamoJobStore,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    net: ConnectionLog,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from diarist.settings import load

    # local mode's settings: http + private networks, short timeout; the handler builds its own service
    monkeypatch.setenv("DIARIST_ALLOW_HTTP", "true")
    monkeypatch.setenv("DIARIST_ALLOW_PRIVATE_NETWORKS", "true")
    monkeypatch.setenv("DIARIST_WEBHOOK_TIMEOUT_S", "1")
    monkeypatch.setenv("DIARIST_WEBHOOK_RETRY_DELAYS_S", "0,0")
    load.cache_clear()
    forget_built()
    receiver.secrets = [wiring.ensure_signing_secret(TENANT)]
    receiver.default = 500
    job = make_job(aws, store, receiver.url())
    publish(aws, job)
    # and a garbage record in the same queue fails alone (partial batch response)
    client("sqs").send_message(QueueUrl=aws.webhook_queue_url, MessageBody='{"hello": "world"}')
    responses = pump(aws)
    assert len(receiver.requests) == 3  # two retries configured
    assert all(r.verified for r in receiver.requests)
    assert sum(len(r["batchItemFailures"]) for r in responses) >= 3
    bodies = dlq_bodies(aws)
    assert {"hello": "world"} in bodies and any(b.get("attempt") == 2 for b in bodies)
    # outcome counts go out as EMF metrics
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    names = {m["Name"] for e in emitted for d in e["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert {"WebhookRetryScheduled", "WebhookExhausted"} <= names
    forget_built()
    load.cache_clear()


def test_exhausted_raises_from_handle(
    aws: Any,
    store: DynamoJobStore,
    make_service: Any,
    secrets: SecretsManagerSecretStore,
    receiver: Receiver,
    net: ConnectionLog,
) -> None:
    secrets.ensure(TENANT)
    receiver.default = 502
    svc = make_service(retry_delays_s=())  # no retries at all
    job = make_job(aws, store, receiver.url())
    body = json.dumps(
        {
            "version": "0",
            "id": "e1",
            "detail-type": "Diarization Job Succeeded",
            "source": "diarist",
            "detail": webhooks.completion_detail(job).model_dump(by_alias=True, mode="json"),
        }
    )
    with pytest.raises(WebhookDeliveryExhausted):
        svc.handle(parse_webhook_queue_body(body))
    with pytest.raises(WebhookDeliveryExhausted):  # again on the next receive: on to the DLQ
        svc.handle(parse_webhook_queue_body(body))
    assert len(receiver.requests) == 1


def test_finish_job_event_reaches_the_webhook_queue_and_is_delivered(
    aws: Any,
    store: DynamoJobStore,
    service: WebhookService,
    secrets: SecretsManagerSecretStore,
    receiver: Receiver,
    net: ConnectionLog,
) -> None:
    from diarist.services.lifecycle import finish_job

    receiver.secrets = [secrets.ensure(TENANT)]
    store.create(
        Job(
            job_id="wf",
            tenant_id=TENANT,
            status=JobStatus.RUNNING,
            input_url="s3://b/k",
            webhook_url=receiver.url(),
        )
    )
    bus = EventBridgeBus(aws.event_bus)
    # the worker's failure path ends the job: one event; a second attempt to end it publishes nothing
    assert finish_job(store, bus, "wf", JobStatus.FAILED, error=("input_silent", "no speech")) is not None
    assert finish_job(store, bus, "wf", JobStatus.FAILED, error=("input_silent", "no speech")) is None
    # the event on the webhook queue is EventBridge's envelope around JobFinishedDetail
    sqs = client("sqs")
    (message,) = sqs.receive_message(QueueUrl=aws.webhook_queue_url, MaxNumberOfMessages=10)["Messages"]
    event = json.loads(message["Body"])
    assert (event["source"], event["detail-type"]) == ("diarist", "Diarization Job Failed")
    assert event["detail"]["jobId"] == "wf" and event["detail"]["tenantId"] == TENANT
    assert event["detail"]["status"] == "failed" and event["detail"]["version"] == 2
    sqs.change_message_visibility(
        QueueUrl=aws.webhook_queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )
    pump(aws)
    (req,) = receiver.requests
    assert req.verified
    assert json.loads(req.body) == {
        "jobId": "wf",
        "status": "failed",
        "error": {"code": "input_silent", "message": "no speech"},
    }
