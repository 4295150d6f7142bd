"""The Phonexia-style routes: multipart upload (base64, as API Gateway delivers binary), 202 +
X-Location, polling, Phonexia's error object."""

from __future__ import annotations

import json

import pytest

from diarist.adapters.aws import client
from diarist.domain.jobs import JobError, JobStatus
from tests.api.conftest import Api, finish_with_result, small_result
from tests.api.events import HOST, STAGE, multipart_body

pytestmark = pytest.mark.integration

BASE = "/api/technology/speaker-diarization"
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x02\x00" + bytes(range(256)) * 4


def upload(api: Api, config: dict | str | None = None, *, query: str = "", headers: dict | None = None, **kw):
    fields: dict[str, tuple[str | None, str | None, bytes]] = {
        "file": ("Laura_Harry_Veronika.wav", "audio/wav", WAV)
    }
    if config is not None:
        fields["config"] = (None, None, (config if isinstance(config, str) else json.dumps(config)).encode())
    body, ctype = multipart_body(fields)
    return api.call("POST", BASE + query, body=body, headers={"Content-Type": ctype, **(headers or {})}, **kw)


def test_upload_202_with_x_location_and_stored_audio(api: Api) -> None:
    r = upload(api)
    assert r.status == 202, r.body
    task_id = r.body["task"]["task_id"]
    assert r.body == {"task": {"task_id": task_id, "state": "pending"}}
    assert r.headers["x-location"] == f"https://{HOST}/{STAGE}{BASE}/{task_id}"
    job = api.store.get(task_id)
    assert job is not None and job.source == "phonexia" and job.tenant_id == "tenant-a"
    assert (
        job.params.channel_mode == "split"
        and job.params.max_speakers == 100
        and job.params.num_speakers is None
    )
    bucket, _, key = job.input_url[5:].partition("/")
    assert bucket == api.resources.media_bucket and key.startswith(f"media/tenant-a/uploads/{task_id}/")
    assert (
        client("s3").get_object(Bucket=bucket, Key=key)["Body"].read() == WAV
    )  # bytes intact through base64
    assert job.input_bytes == len(WAV)  # the upload's size picks its work lane
    assert api.queue_messages() == [{"version": 1, "jobId": task_id, "tenantId": "tenant-a"}]


def test_upload_config_and_channel_mode(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    r = upload(api, {"total_speakers": 2, "unknown_key": "ignored"}, query="?channel_mode=mix")
    job = api.store.get(r.body["task"]["task_id"])
    assert r.status == 202 and job is not None
    assert (
        job.params.num_speakers == 2 and job.params.max_speakers is None and job.params.channel_mode == "mix"
    )
    r = upload(api, {"max_speakers": 5})
    job = api.store.get(r.body["task"]["task_id"])
    assert job is not None and job.params.max_speakers == 5
    # an explicit public base URL wins over the request's host
    monkeypatch.setenv("DIARIST_PUBLIC_BASE_URL", "https://diarist.example.com/")
    from diarist.settings import load

    load.cache_clear()
    r = upload(api)
    assert r.headers["x-location"] == f"https://diarist.example.com{BASE}/{r.body['task']['task_id']}"


def test_upload_bad_input_uses_phonexia_error_object(api: Api) -> None:
    cases: list[tuple[dict | str | None, str, str]] = [
        ({"max_speakers": 3, "total_speakers": 2}, "", "config"),
        ({"max_speakers": 0}, "", "config.max_speakers"),
        ({"total_speakers": "two"}, "", "config.total_speakers"),
        ({"max_speakers": True}, "", "config.max_speakers"),
        ("not json", "", "config"),
        ("[1]", "", "config"),
        (None, "?channel_mode=stereo", "channel_mode"),
    ]
    for config, query, field in cases:
        r = upload(api, config, query=query)
        assert r.status == 400, (config, query, r.body)
        assert set(r.body) == {"type", "title", "detail"} and r.body["title"] == "Bad Request"
        assert any(d.startswith(field + ":") for d in r.body["detail"]), (config, r.body)
    # no file part
    body, ctype = multipart_body({"config": (None, None, b"{}")})
    r = api.call("POST", BASE, body=body, headers={"Content-Type": ctype})
    assert r.status == 400 and r.body["detail"][0].startswith("file:")
    # empty file
    body, ctype = multipart_body({"file": ("a.wav", "audio/wav", b"")})
    assert api.call("POST", BASE, body=body, headers={"Content-Type": ctype}).status == 400
    # not multipart, broken multipart, no boundary
    for raw, ct in (
        (b'{"file": 1}', "application/json"),
        (
            b'--XX\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc',
            "multipart/form-data; boundary=XX",
        ),
        (b"garbage", "multipart/form-data"),
        (b"--XX\r\nno-colon-header\r\n\r\nabc\r\n--XX--\r\n", "multipart/form-data; boundary=XX"),
    ):
        r = api.call("POST", BASE, body=raw, headers={"Content-Type": ct})
        assert r.status == 400 and {"type", "title", "detail"} == set(r.body), (raw, r.body)
    assert api.queue_messages() == []


def test_upload_over_10_mb_is_413(api: Api) -> None:
    body, ctype = multipart_body({"file": ("big.wav", "audio/wav", b"\0" * (10 * 1024 * 1024 + 1))})
    r = api.call("POST", BASE, body=body, headers={"Content-Type": ctype})
    assert r.status == 413 and "/v1/media/input" in r.body["detail"][0]
    assert r.body["title"] == "Request Entity Too Large" or r.body["title"] == "Content Too Large"


def test_upload_idempotency(api: Api) -> None:
    r1 = upload(api, {"max_speakers": 2}, headers={"Idempotency-Key": "ph-1"})
    r2 = upload(api, {"max_speakers": 2}, headers={"Idempotency-Key": "ph-1"})
    assert r1.status == r2.status == 202 and r1.body == r2.body
    r3 = upload(api, {"max_speakers": 3}, headers={"Idempotency-Key": "ph-1"})
    assert r3.status == 409 and r3.body["title"] == "Conflict"
    assert len(api.queue_messages()) == 1


def test_poll_states_result_and_errors(api: Api) -> None:
    task_id = upload(api).body["task"]["task_id"]
    r = api.call("GET", f"{BASE}/{task_id}")
    assert r.status == 200 and r.body == {"task": {"task_id": task_id, "state": "pending"}}
    finish_with_result(api, task_id, "tenant-a", small_result(channels=2))
    r = api.call("GET", f"{BASE}/{task_id}")
    assert r.body["task"]["state"] == "done"
    channels = r.body["result"]["channels"]
    assert [c["channel_number"] for c in channels] == [0, 1]
    assert channels[0]["speakers_count"] == 2
    seg = channels[0]["segments"][0]
    assert set(seg) == {"speaker_id", "start_time", "end_time"} and seg["speaker_id"] == 0

    rejected = upload(api).body["task"]["task_id"]
    api.store.transition(
        rejected, JobStatus.FAILED, error=JobError(code="input_corrupt", message="not audio")
    )
    r = api.call("GET", f"{BASE}/{rejected}")
    assert r.body["task"]["state"] == "rejected"
    assert r.body["error"] == {"type": "input_corrupt", "title": "Task rejected", "detail": ["not audio"]}

    failed = upload(api).body["task"]["task_id"]
    api.store.transition(failed, JobStatus.FAILED, error=JobError(code="worker_crashed", message="oom"))
    assert api.call("GET", f"{BASE}/{failed}").body["task"]["state"] == "failed"

    r = api.call("GET", f"{BASE}/does-not-exist")
    assert r.status == 404 and set(r.body) == {"type", "title", "detail"}
    r = api.call("GET", f"{BASE}/{task_id}", token=api.key_b)
    assert r.status == 404
