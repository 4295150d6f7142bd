"""The pyannoteAI-style routes through ``lambda_handler`` with REST proxy events, on moto."""

from __future__ import annotations

import json
import urllib.request

import pytest

from diarist.adapters.aws import client
from diarist.domain.jobs import JobStatus
from tests.api.conftest import Api, finish_with_result, small_result

pytestmark = pytest.mark.integration

AUDIO = "https://audio.example.com/call.wav"


def submit(api: Api, body: dict | None = None, **kw) -> str:
    r = api.call("POST", "/v1/diarize", body=body or {"url": AUDIO}, **kw)
    assert r.status == 200, r.body
    return str(r.body["jobId"])


# the body pyannoteai-sdk 0.4.0's Client.diarize(url) sends: every key, unset ones as null
SDK_DIARIZE_BODY = {
    "url": AUDIO,
    "model": "precision-2",
    "numSpeakers": None,
    "minSpeakers": None,
    "maxSpeakers": None,
    "confidence": False,
    "turnLevelConfidence": False,
    "exclusive": False,
    "transcription": False,
}


# -- submission ---------------------------------------------------------------------------------


def test_submit_creates_a_pending_job_answers_created_and_queues_it(api: Api) -> None:
    r = api.call(
        "POST",
        "/v1/diarize",
        body={
            "url": AUDIO,
            "webhook": "https://hooks.example.com/diarist",
            "webhookStatusOnly": True,
            "minSpeakers": 2,
            "maxSpeakers": 4,
            "confidence": True,
            "turnLevelConfidence": True,
            "exclusive": True,
        },
    )
    assert r.status == 200
    # pyannoteAI's JobCreated; inside, the job is pending until the dispatcher launches a worker
    assert r.body == {"jobId": r.body["jobId"], "status": "created"} and len(r.body["jobId"]) == 36
    job = api.store.get(r.body["jobId"])
    assert job is not None and job.status is JobStatus.PENDING
    assert api.call("GET", f"/v1/jobs/{job.job_id}").body["status"] == "pending"
    assert job.tenant_id == "tenant-a" and job.input_url == AUDIO
    assert job.params.min_speakers == 2 and job.params.max_speakers == 4 and job.params.exclusive
    assert job.webhook_url == "https://hooks.example.com/diarist" and job.webhook_status_only
    assert job.expires_at is not None
    assert api.queue_messages() == [{"version": 1, "jobId": r.body["jobId"], "tenantId": "tenant-a"}]


def test_submit_accepts_allowed_bucket_and_base64_json_body(api: Api) -> None:
    url = f"s3://{api.resources.media_bucket}/media/tenant-a/x.wav"
    r = api.call(
        "POST",
        "/v1/diarize",
        body=json.dumps({"url": url, "numSpeakers": 2}),
        headers={"Content-Type": "application/json; charset=utf-8"},
        base64_body=True,
    )
    assert r.status == 200, r.body
    job = api.store.get(r.body["jobId"])
    assert job is not None and job.input_url == url and job.params.num_speakers == 2


BAD_SUBMISSIONS: list[tuple[dict, list[str]]] = [
    ({}, ["url"]),
    ({"url": ""}, ["url"]),
    ({"url": "ftp://example.com/a.wav"}, ["url"]),
    ({"url": "http://example.com/a.wav"}, ["url"]),  # https only outside local mode
    ({"url": "https://user:pw@example.com/a.wav"}, ["url"]),
    ({"url": "https://127.0.0.1/a.wav"}, ["url"]),
    ({"url": "https://169.254.169.254/latest/meta-data"}, ["url"]),
    ({"url": "s3://not-allowed-bucket/a.wav"}, ["url"]),
    ({"url": "s3://diarist-media/media/tenant-b/their.wav"}, ["url"]),  # another tenant's object
    ({"url": "s3://diarist-media"}, ["url"]),
    ({"url": "media://never-uploaded.wav"}, ["url"]),
    ({"url": "media://../tenant-b/x.wav"}, ["url"]),
    ({"url": 42}, ["url"]),
    ({"url": AUDIO, "webhook": "http://hooks.example.com/x"}, ["webhook"]),
    ({"url": AUDIO, "webhook": "https://10.0.0.8/hook"}, ["webhook"]),
    ({"url": AUDIO, "webhook": ""}, ["webhook"]),
    ({"url": AUDIO, "numSpeakers": 0}, ["numSpeakers"]),
    ({"url": AUDIO, "numSpeakers": -1}, ["numSpeakers"]),
    ({"url": AUDIO, "numSpeakers": 101}, ["numSpeakers"]),
    ({"url": AUDIO, "numSpeakers": 2.5}, ["numSpeakers"]),
    ({"url": AUDIO, "numSpeakers": "2"}, ["numSpeakers"]),
    ({"url": AUDIO, "numSpeakers": True}, ["numSpeakers"]),
    ({"url": AUDIO, "numSpeakers": 10**30}, ["numSpeakers"]),
    ({"url": AUDIO, "numSpeakers": 1e308}, ["numSpeakers"]),
    ({"url": AUDIO, "numSpeakers": 2, "minSpeakers": 1}, ["minSpeakers"]),
    ({"url": AUDIO, "numSpeakers": 2, "maxSpeakers": 3}, ["maxSpeakers"]),
    ({"url": AUDIO, "minSpeakers": 5, "maxSpeakers": 2}, ["minSpeakers"]),
    ({"url": AUDIO, "minSpeakers": 0}, ["minSpeakers"]),
    ({"url": AUDIO, "maxSpeakers": "many"}, ["maxSpeakers"]),
    ({"url": AUDIO, "confidence": "yes"}, ["confidence"]),
    ({"url": AUDIO, "exclusive": 1}, ["exclusive"]),
    ({"url": AUDIO, "webhookStatusOnly": "true"}, ["webhookStatusOnly"]),
    ({"url": None}, ["url"]),  # null means "unset", and url is required
    ({"url": AUDIO, "model": "precision-1"}, ["model"]),
    ({"url": AUDIO, "model": ""}, ["model"]),
    ({"url": AUDIO, "model": 2}, ["model"]),
    ({"url": AUDIO, "transcription": "no"}, ["transcription"]),
    ({"url": AUDIO, "transcriptionConfig": {"model": "whisper"}}, ["transcriptionConfig.model"]),
    ({"url": AUDIO, "transcriptionConfig": {"language": "english"}}, ["transcriptionConfig.language"]),
    ({"url": AUDIO, "transcriptionConfig": {"lang": "en"}}, ["transcriptionConfig.lang"]),
    (
        {"url": AUDIO, "model": "precision-1", "transcription": True, "transcriptionConfig": {"model": "w"}},
        ["model", "transcriptionConfig.model"],
    ),
    ({"url": AUDIO, "numspeakers": 2}, ["numspeakers"]),
]
# (one test over all the cases: the emulator is provisioned once per test, which costs ~1-2 s)


def test_submit_bad_input_names_the_field(api: Api) -> None:
    for body, fields in BAD_SUBMISSIONS:
        r = api.call("POST", "/v1/diarize", body=body)
        assert r.status == 400, (body, r.body)
        assert r.fields() == fields, (body, r.body)
        assert all(e["message"] for e in r.body["errors"]), body
    assert api.queue_messages() == []
    assert api.store.list_for_tenant("tenant-a", limit=5, cursor=None, status=None) == ([], None)


JSON = {"Content-Type": "application/json"}
MALFORMED: list[tuple[str, dict[str, str], str]] = [
    ("{bad json", JSON, "body"),
    ('{"url": "' + AUDIO + '"', JSON, "body"),
    ("", JSON, "body"),
    ("null", JSON, "body"),
    ("[1, 2]", JSON, "body"),
    ('"just a string"', JSON, "body"),
    ('{"url": "x", "numSpeakers": 1' + "0" * 5000 + "}", JSON, "body"),  # int over Python's digit limit
    ("[" * 100_000 + "]" * 100_000, JSON, "body"),  # nesting over the recursion limit
    ("url=https://a/b.wav", {"Content-Type": "application/x-www-form-urlencoded"}, "Content-Type"),
    ('{"url": "https://a/b.wav"}', {"Content-Type": "text/plain"}, "Content-Type"),
    ("--b\r\n\r\n--b--", {"Content-Type": "multipart/form-data; boundary=b"}, "Content-Type"),
]


def test_malformed_bodies_are_400_not_500(api: Api) -> None:
    for raw, headers, field in MALFORMED:
        r = api.call("POST", "/v1/diarize", body=raw, headers=headers)
        assert r.status == 400, (raw[:40], r.body)
        assert r.fields()[0] == field, (raw[:40], r.body)
    # an isBase64Encoded body that is not base64
    from functions.api.handler import lambda_handler
    from tests.api.events import LambdaContext, rest_event

    event = rest_event("POST", "/v1/diarize", body="x", token=api.key_a, headers=JSON)
    event["body"], event["isBase64Encoded"] = "%%%not-base64%%%", True
    resp = lambda_handler(event, LambdaContext())
    assert resp["statusCode"] == 400
    assert [e["field"] for e in json.loads(resp["body"])["errors"]] == ["body"]
    _non_utf8_body_is_400(api)


def _non_utf8_body_is_400(api: Api) -> None:
    r = api.call("POST", "/v1/diarize", body=b"\xff\xfe{", headers={"Content-Type": "application/json"})
    assert r.status == 400 and r.fields() == ["body"]


def test_body_over_10_mb_is_413_pointing_to_presigned_upload(api: Api) -> None:
    big = json.dumps({"url": AUDIO, "pad": "x" * (10 * 1024 * 1024)})
    r = api.call("POST", "/v1/diarize", body=big, headers={"Content-Type": "application/json"})
    assert r.status == 413 and "/v1/media/input" in r.body["errors"][0]["message"]
    r = api.call("POST", "/v1/diarize", body=big.encode(), headers={"Content-Type": "application/json"})
    assert r.status == 413


def test_queue_failure_marks_job_failed_and_answers_503(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from functions.api import deps

    svc = deps.submissions()

    def broken_send(message: object) -> None:
        raise RuntimeError("SQS is down")

    monkeypatch.setattr(svc.queue, "send", broken_send)
    r = api.call("POST", "/v1/diarize", body={"url": AUDIO}, headers={"Idempotency-Key": "k-queue"})
    assert r.status == 503 and r.headers["retry-after"]
    jobs, _ = api.store.list_for_tenant("tenant-a", limit=10, cursor=None, status=None)
    assert len(jobs) == 1 and jobs[0].status is JobStatus.FAILED
    assert jobs[0].error is not None and jobs[0].error.code == "launch_failed"
    # the idempotency record was released: the same key works once the queue is back
    monkeypatch.undo()
    r = api.call("POST", "/v1/diarize", body={"url": AUDIO}, headers={"Idempotency-Key": "k-queue"})
    assert r.status == 200 and r.body["jobId"] != jobs[0].job_id
    assert len(api.queue_messages()) == 1
    _throttled_dynamodb_is_429(api, monkeypatch)


def _throttled_dynamodb_is_429(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.exceptions import ClientError

    from functions.api import deps

    def throttled(*args: object, **kwargs: object) -> None:
        raise ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "PutItem"
        )

    monkeypatch.setattr(deps.job_store(), "create", throttled)
    r = api.call("POST", "/v1/diarize", body={"url": AUDIO}, headers={"Idempotency-Key": "k-throttle"})
    assert r.status == 429 and r.headers["retry-after"] == "1", r.body
    monkeypatch.undo()
    # the key was released with the failed attempt
    assert (
        api.call("POST", "/v1/diarize", body={"url": AUDIO}, headers={"Idempotency-Key": "k-throttle"}).status
        == 200
    )


# -- auth and tenants ---------------------------------------------------------------------------


BAD_AUTH = [
    {},
    {"Authorization": "Bearer"},
    {"Authorization": "Basic dXNlcjpwdw=="},
    {"Authorization": "Bearer dia_00000000_" + "a" * 43},  # well-formed, unknown
    {"Authorization": "Bearer not-a-key"},
]


def test_missing_or_invalid_key_is_401(api: Api) -> None:
    for headers in BAD_AUTH:
        # a bad body too: authentication is checked first
        r = api.call("POST", "/v1/diarize", body={"numSpeakers": 0}, token=False, headers=headers)
        assert r.status == 401 and r.fields() == ["Authorization"], headers
        assert r.headers["www-authenticate"] == "Bearer"
        for method, path in (
            ("GET", "/v2/jobs"),
            ("GET", "/v1/jobs/x"),
            ("POST", "/v1/jobs/x/cancel"),
            ("POST", "/v1/media/input"),
            ("POST", "/api/technology/speaker-diarization"),
        ):
            assert api.call(method, path, token=False, headers=headers).status == 401, (headers, path)
    _revoked_key_is_401(api)


def _revoked_key_is_401(api: Api) -> None:
    from functions.api import deps

    keys = deps.apikey_service()
    key, plaintext = keys.create("tenant-c")
    assert api.call("GET", "/v2/jobs", token=plaintext).status == 200
    keys.revoke(key.key_id)
    assert api.call("GET", "/v2/jobs", token=plaintext).status == 401


def test_another_tenants_job_is_404_everywhere(api: Api) -> None:
    job_id = submit(api)
    for method, path in (
        ("GET", f"/v1/jobs/{job_id}"),
        ("POST", f"/v1/jobs/{job_id}/cancel"),
        ("DELETE", f"/v1/jobs/{job_id}"),
        ("POST", f"/v1/jobs/{job_id}/webhook"),
        ("GET", f"/api/technology/speaker-diarization/{job_id}"),
    ):
        r = api.call(method, path, token=api.key_b)
        assert r.status == 404, (method, path, r.body)
    assert api.call("GET", "/v2/jobs", token=api.key_b).body["items"] == []
    job = api.store.get(job_id)
    assert job is not None and job.status is JobStatus.PENDING
    assert api.call("GET", "/v1/jobs/no-such-job").status == 404
    assert api.call("GET", "/v1/jobs/" + "x" * 65).status == 400
    _unknown_route_is_404(api)


def _unknown_route_is_404(api: Api) -> None:
    r = api.call("GET", "/v1/nothing-here")
    assert r.status == 404 and r.fields() == ["path"]


# -- idempotency --------------------------------------------------------------------------------


def test_idempotency_same_key_same_body_same_job(api: Api) -> None:
    body = {"url": AUDIO, "numSpeakers": 2}
    r1 = api.call("POST", "/v1/diarize", body=body, headers={"Idempotency-Key": "abc-1"})
    # same meaning, other key order and spacing
    r2 = api.call(
        "POST",
        "/v1/diarize",
        body='{ "numSpeakers": 2,  "url": "' + AUDIO + '" }',
        headers={"Idempotency-Key": "abc-1", "Content-Type": "application/json"},
    )
    assert r1.status == r2.status == 200 and r1.body == r2.body
    assert len(api.queue_messages()) == 1
    # another tenant's same key is another record
    r3 = api.call("POST", "/v1/diarize", body=body, headers={"Idempotency-Key": "abc-1"}, token=api.key_b)
    assert r3.status == 200 and r3.body["jobId"] != r1.body["jobId"]
    _idempotency_record_is_a_small_ttl_item(api)


def test_idempotency_same_key_other_body_is_409(api: Api) -> None:
    r1 = api.call("POST", "/v1/diarize", body={"url": AUDIO}, headers={"Idempotency-Key": "abc-2"})
    r2 = api.call(
        "POST", "/v1/diarize", body={"url": AUDIO, "exclusive": True}, headers={"Idempotency-Key": "abc-2"}
    )
    assert r1.status == 200 and r2.status == 409 and r2.fields() == ["Idempotency-Key"]
    bad = api.call("POST", "/v1/diarize", body={"url": AUDIO}, headers={"Idempotency-Key": "x" * 129})
    assert bad.status == 400 and bad.fields() == ["Idempotency-Key"]
    _concurrent_requests_with_one_key_make_one_job(api)


def _concurrent_requests_with_one_key_make_one_job(api: Api) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from diarist.domain.jobs import JobParams
    from diarist.services.submission import new_job_id
    from functions.api import deps

    svc = deps.submissions()

    def go(_: int) -> str:
        job = svc.submit_url(
            "tenant-b", job_id=new_job_id(), url=AUDIO, params=JobParams(), idempotency_key="race-1"
        )
        return job.job_id

    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(go, range(8)))
    assert len(ids) == 1
    jobs, _ = api.store.list_for_tenant("tenant-b", limit=10, cursor=None, status=None)
    assert [j.job_id for j in jobs] == list(ids)


def _idempotency_record_is_a_small_ttl_item(api: Api) -> None:
    api.call("POST", "/v1/diarize", body={"url": AUDIO}, headers={"Idempotency-Key": "ttl-1"})
    item = client("dynamodb").get_item(
        TableName=api.resources.table, Key={"pk": {"S": "IDEM#tenant-a#ttl-1"}}
    )["Item"]
    assert set(item) == {"pk", "job_id", "request_hash", "expires_at"}
    import time

    assert 23 * 3600 < int(item["expires_at"]["N"]) - time.time() <= 24 * 3600


# -- media upload ---------------------------------------------------------------------------------


def test_media_upload_flow(api: Api) -> None:
    r = api.call("POST", "/v1/media/input", body={"url": "media://calls/2026/a.wav"})
    assert r.status == 201 and set(r.body) == {"url"} and r.body["url"].startswith("http")
    # PUT the file to the presigned URL, as a client would
    req = urllib.request.Request(
        r.body["url"], data=b"RIFF....WAVEfmt ", method="PUT", headers={"Content-Type": "audio/wav"}
    )
    with urllib.request.urlopen(req) as resp:
        assert resp.status == 200
    key = "media/tenant-a/calls/2026/a.wav"
    assert (
        client("s3").get_object(Bucket=api.resources.media_bucket, Key=key)["Body"].read()
        == b"RIFF....WAVEfmt "
    )
    job_id = submit(api, {"url": "media://calls/2026/a.wav"})
    job = api.store.get(job_id)
    assert job is not None and job.input_url == f"s3://{api.resources.media_bucket}/{key}"
    # tenant B cannot use tenant A's media key (it resolves under B's prefix)
    r = api.call("POST", "/v1/diarize", body={"url": "media://calls/2026/a.wav"}, token=api.key_b)
    assert r.status == 400 and r.fields() == ["url"]
    _media_input_bad_input(api)


def _media_input_bad_input(api: Api) -> None:
    client("s3").put_object(Bucket=api.resources.media_bucket, Key="media/tenant-a/empty.wav", Body=b"")
    r = api.call("POST", "/v1/diarize", body={"url": "media://empty.wav"})
    assert r.status == 400 and r.fields() == ["url"] and "empty" in r.body["errors"][0]["message"]
    for body, field in (
        ({}, "url"),
        ({"url": "https://x/y"}, "url"),
        ({"url": "media://"}, "url"),
        ({"url": "media://a/../b"}, "url"),
        ({"url": "media://a//b"}, "url"),
        ({"url": "media://x", "y": 1}, "y"),
    ):
        r = api.call("POST", "/v1/media/input", body=body)
        assert r.status == 400 and r.fields() == [field], (body, r.body)


# -- reading --------------------------------------------------------------------------------------


def test_get_job_pending_view(api: Api) -> None:
    job_id = submit(api, {"url": AUDIO, "webhook": "https://hooks.example.com/x"})
    r = api.call("GET", f"/v1/jobs/{job_id}")
    assert r.status == 200
    b = r.body
    assert b["jobId"] == job_id and b["status"] == "pending" and b["progress"] == 0 and b["warnings"] == []
    assert {"createdAt", "updatedAt"} <= set(b) and "output" not in b and "error" not in b
    assert b["webhook"] == {"delivery": "none", "attempts": []}
    _failed_job_shows_error(api)


def test_get_succeeded_job_inlines_pyannote_output(api: Api) -> None:
    job_id = submit(api, {"url": AUDIO, "exclusive": True, "confidence": True, "turnLevelConfidence": True})
    finish_with_result(api, job_id, "tenant-a", small_result(confidence=True))
    r = api.call("GET", f"/v1/jobs/{job_id}")
    assert r.status == 200 and r.body["status"] == "succeeded" and r.body["progress"] == 100
    out = r.body["output"]
    assert out["diarization"][0] == {"speaker": "SPEAKER_00", "start": 0.5, "end": 4.0, "confidence": 91.0}
    assert out["exclusiveDiarization"][0] == {"speaker": "SPEAKER_00", "start": 0.5, "end": 3.5}
    assert out["confidence"] == {"score": [90, 80, 70], "resolution": 0.02}
    assert "channels" not in out and "outputUrl" not in r.body
    assert r.body["startedAt"] and r.body["finishedAt"]


def test_get_succeeded_job_plain_and_split_channels(api: Api) -> None:
    job_id = submit(api)
    finish_with_result(api, job_id, "tenant-a", small_result(channels=2, confidence=True))
    out = api.call("GET", f"/v1/jobs/{job_id}").body["output"]
    assert set(out) == {"diarization", "channels"}  # nothing that was not asked for
    assert set(out["diarization"][0]) == {"speaker", "start", "end"}
    assert [c["channel"] for c in out["channels"]] == [0, 1]


def _failed_job_shows_error(api: Api) -> None:
    job_id = submit(api)
    from diarist.domain.jobs import JobError

    api.store.transition(job_id, JobStatus.FAILED, error=JobError(code="input_corrupt", message="not audio"))
    r = api.call("GET", f"/v1/jobs/{job_id}")
    assert r.body["status"] == "failed" and r.body["error"] == {
        "code": "input_corrupt",
        "message": "not audio",
    }


def test_list_jobs_newest_first_with_cursor_and_status(api: Api) -> None:
    ids = [submit(api) for _ in range(5)]
    api.store.transition(ids[1], JobStatus.CANCELED)
    r = api.call("GET", "/v2/jobs?limit=2")
    assert r.status == 200 and [i["jobId"] for i in r.body["items"]] == ids[::-1][:2] and r.body["cursor"]
    seen = [i["jobId"] for i in r.body["items"]]
    cursor = r.body["cursor"]
    while cursor:
        r = api.call("GET", f"/v2/jobs?limit=2&cursor={cursor}")
        seen += [i["jobId"] for i in r.body["items"]]
        cursor = r.body.get("cursor")
    assert seen == ids[::-1]
    r = api.call("GET", "/v2/jobs?status=canceled")
    assert [i["jobId"] for i in r.body["items"]] == [ids[1]]
    assert all("output" not in i for i in r.body["items"])


def test_list_jobs_bad_query(api: Api) -> None:
    for query, field in (
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=abc", "limit"),
        ("limit=99999999999999999999999", "limit"),
        ("status=done", "status"),
        ("cursor=!!!", "cursor"),
        ("cursor=" + "A" * 3000, "cursor"),
    ):
        r = api.call("GET", f"/v2/jobs?{query}")
        assert r.status == 400 and r.fields() == [field], (query, r.body)


# -- cancel and delete --------------------------------------------------------------------------


@pytest.fixture
def published(api: Api, monkeypatch: pytest.MonkeyPatch) -> list:
    from functions.api import deps

    bus = deps.cancel_delete().events
    sent: list = []
    real = bus.job_finished

    def record(detail):
        sent.append(detail)
        return real(detail)

    monkeypatch.setattr(bus, "job_finished", record)
    return sent


def test_cancel_running_job_publishes_and_stops_only_that_job(api: Api, published: list) -> None:
    """Cancel ends the job; no container is stopped (a drain worker runs other jobs too): the
    worker's next progress write for this job is refused, which stops it."""
    from diarist.services.lifecycle import report_progress

    job_id = submit(api)
    api.store.transition(job_id, JobStatus.CREATED)
    api.store.take(job_id, "w-1", stale_before=api.store.get(job_id).updated_at, launch_id="batch-123")
    r = api.call("POST", f"/v1/jobs/{job_id}/cancel")
    assert r.status == 200 and r.body == {"jobId": job_id, "status": "canceled"}
    job = api.store.get(job_id)
    assert job is not None and job.status is JobStatus.CANCELED and job.finished_at is not None
    assert report_progress(api.store, job_id, 50, worker_id="w-1") is None
    assert [(d.job_id, d.status) for d in published] == [(job_id, JobStatus.CANCELED)]
    # the canceled event reached the webhook queue through the EventBridge rule
    msgs = client("sqs").receive_message(QueueUrl=api.resources.webhook_queue_url, MaxNumberOfMessages=10)
    details = [json.loads(m["Body"]) for m in msgs.get("Messages", [])]
    assert any(
        d.get("detail-type") == "Diarization Job Canceled" and d["detail"]["jobId"] == job_id for d in details
    )
    # again: no-op, nothing more published
    assert api.call("POST", f"/v1/jobs/{job_id}/cancel").status == 200
    assert len(published) == 1
    # the worker's late success is refused
    from diarist.domain.errors import InvalidTransition

    with pytest.raises(InvalidTransition):
        api.store.transition(job_id, JobStatus.SUCCEEDED)


def test_cancel_pending_job_and_finished_job_conflict(api: Api, published: list) -> None:
    job_id = submit(api)
    assert api.call("POST", f"/v1/jobs/{job_id}/cancel").body["status"] == "canceled"
    assert len(published) == 1
    done = submit(api)
    finish_with_result(api, done, "tenant-a", small_result())
    r = api.call("POST", f"/v1/jobs/{done}/cancel")
    assert r.status == 409 and r.fields() == ["jobId"]


def test_delete_active_job_cancels(api: Api) -> None:
    job_id = submit(api)
    api.store.transition(job_id, JobStatus.CREATED)
    r = api.call("DELETE", f"/v1/jobs/{job_id}")
    assert r.status == 200 and r.body["status"] == "canceled" and r.body["deleted"] == []
    assert api.store.get(job_id).status is JobStatus.CANCELED


def test_delete_finished_job_needs_purge_and_purge_deletes_our_data(api: Api) -> None:
    s3 = client("s3")
    s3.put_object(Bucket=api.resources.media_bucket, Key="media/tenant-a/up.wav", Body=b"RIFF")
    job_id = submit(api, {"url": "media://up.wav"})
    key = finish_with_result(api, job_id, "tenant-a", small_result())
    assert api.call("DELETE", f"/v1/jobs/{job_id}").status == 409
    assert api.call("DELETE", f"/v1/jobs/{job_id}?purge=maybe").status == 400
    r = api.call("DELETE", f"/v1/jobs/{job_id}?purge=true")
    assert r.status == 200 and r.body["status"] == "succeeded" and len(r.body["deleted"]) == 2
    assert "Contents" not in s3.list_objects_v2(Bucket=api.resources.media_bucket, Prefix="media/tenant-a/")
    assert "Contents" not in s3.list_objects_v2(Bucket=api.resources.results_bucket, Prefix=key)
    view = api.call("GET", f"/v1/jobs/{job_id}").body
    assert "output" not in view and "outputUrl" not in view and any("deleted" in w for w in view["warnings"])


def test_purge_never_deletes_the_callers_own_input(api: Api) -> None:
    s3 = client("s3")
    s3.put_object(Bucket=api.resources.media_bucket, Key="incoming/tenant-a/theirs.wav", Body=b"RIFF")
    job_id = submit(api, {"url": f"s3://{api.resources.media_bucket}/incoming/tenant-a/theirs.wav"})
    finish_with_result(api, job_id, "tenant-a", small_result())
    r = api.call("DELETE", f"/v1/jobs/{job_id}?purge=true")
    assert r.status == 200 and all("incoming/" not in d for d in r.body["deleted"])
    assert s3.get_object(Bucket=api.resources.media_bucket, Key="incoming/tenant-a/theirs.wav")


def test_redeliver_webhook_route(api: Api) -> None:
    job_id = submit(api, {"url": AUDIO, "webhook": "https://hooks.example.com/x"})
    r = api.call("POST", f"/v1/jobs/{job_id}/webhook")
    assert r.status == 409, r.body  # a pending job has nothing to deliver yet
    finish_with_result(api, job_id, "tenant-a", small_result())
    r = api.call("POST", f"/v1/jobs/{job_id}/webhook")
    assert r.status == 200, r.body
    assert r.body["jobId"] == job_id and r.body["status"] == "succeeded"
    assert r.body["webhook"]["delivery"] == "pending" and "output" not in r.body
    # a new delivery round was queued for the webhook function
    msgs = client("sqs").receive_message(QueueUrl=api.resources.webhook_queue_url, MaxNumberOfMessages=10)
    bodies = [json.loads(m["Body"]) for m in msgs.get("Messages", [])]
    assert any(b.get("jobId") == job_id and b.get("reason") == "redeliver" for b in bodies), bodies
    # a job without a webhook: nothing to redeliver
    plain = submit(api)
    finish_with_result(api, plain, "tenant-a", small_result())
    assert api.call("POST", f"/v1/jobs/{plain}/webhook").status == 409


def test_job_shows_the_worker_that_ran_it_under_diagnostics(api: Api) -> None:
    job_id = submit(api)
    assert "diagnostics" not in api.call("GET", f"/v1/jobs/{job_id}").body  # no worker took it yet
    api.store.transition(job_id, JobStatus.CREATED)
    api.store.take(
        job_id,
        "w-7",
        stale_before=api.store.get(job_id).updated_at,
        launch_id="0f1e2d3c-batch-job",
        worker_log="worker/default/4b5a6978",
    )
    body = api.call("GET", f"/v1/jobs/{job_id}").body
    assert body["diagnostics"] == {
        "workerId": "w-7",
        "launchId": "0f1e2d3c-batch-job",
        "logStream": "worker/default/4b5a6978",
        "attempts": 1,
    }
    assert body["status"] == "running" and body["jobId"] == job_id  # the pyannoteAI shape otherwise
