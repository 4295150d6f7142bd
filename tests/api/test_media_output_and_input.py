"""What the web console's player needs from the API: ``POST /v1/media/output`` (pyannoteAI's
presigned GET of a ``media://`` upload), ``GET /v1/jobs/{jobId}/input`` (a presigned GET of a job's
own stored input) and ``channelMode`` (each channel diarized on its own)."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from diarist.adapters.aws import client
from tests.api.conftest import Api

pytestmark = pytest.mark.integration


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _upload(api: Api, key: str, data: bytes, token: str | None = None) -> None:
    r = api.call("POST", "/v1/media/input", body={"url": f"media://{key}"}, token=token or api.key_a)
    assert r.status == 201, r.body
    req = urllib.request.Request(
        r.body["url"], data=data, method="PUT", headers={"Content-Type": "audio/wav"}
    )
    with urllib.request.urlopen(req) as resp:
        assert resp.status == 200


# -- POST /v1/media/output ------------------------------------------------------------------------


def test_media_output_is_a_presigned_get_of_the_tenants_own_upload(api: Api) -> None:
    _upload(api, "calls/a.wav", b"RIFF-tenant-a")
    r = api.call("POST", "/v1/media/output", body={"url": "media://calls/a.wav"})
    assert r.status == 201 and set(r.body) == {"url"}
    assert _get(r.body["url"]) == (200, b"RIFF-tenant-a")
    # tenant B's media://calls/a.wav is B's own key: A's upload is out of reach
    other = api.call("POST", "/v1/media/output", body={"url": "media://calls/a.wav"}, token=api.key_b)
    assert other.status == 201 and _get(other.body["url"])[0] == 404
    for body, field in (
        ({}, "url"),
        ({"url": "s3://bucket/key"}, "url"),
        ({"url": "media://a/../b"}, "url"),
        ({"url": "media://"}, "url"),
        ({"url": "media://x", "y": 1}, "y"),
    ):
        r = api.call("POST", "/v1/media/output", body=body)
        assert r.status == 400 and r.fields() == [field], (body, r.body)


# -- GET /v1/jobs/{jobId}/input -------------------------------------------------------------------


def test_job_input_is_a_presigned_get_of_that_jobs_input_only(api: Api) -> None:
    _upload(api, "in.wav", b"RIFF-input")
    job = api.call("POST", "/v1/diarize", body={"url": "media://in.wav"})
    assert job.status == 200, job.body
    job_id = job.body["jobId"]
    # its size, learned by the submission's check, is recorded: it picks the job's work lane
    assert api.store.get(job_id).input_bytes == len(b"RIFF-input")
    r = api.call("GET", f"/v1/jobs/{job_id}/input")
    assert r.status == 200 and set(r.body) == {"url"}
    assert _get(r.body["url"]) == (200, b"RIFF-input")
    # another tenant's job: not found, as an unknown id
    assert api.call("GET", f"/v1/jobs/{job_id}/input", token=api.key_b).status == 404
    assert api.call("GET", "/v1/jobs/no-such-job/input").status == 404
    # an https:// input is not the service's to hand out; a purged input is gone
    https = api.call("POST", "/v1/diarize", body={"url": "https://audio.example.com/x.wav"}).body["jobId"]
    assert api.store.get(https).input_bytes is None  # unknown: the long lane
    r = api.call("GET", f"/v1/jobs/{https}/input")
    assert r.status == 409 and "does not store" in r.body["message"]
    client("s3").delete_object(Bucket=api.resources.media_bucket, Key="media/tenant-a/in.wav")
    r = api.call("GET", f"/v1/jobs/{job_id}/input")
    assert r.status == 409 and "no longer stored" in r.body["message"]


# -- channelMode ----------------------------------------------------------------------------------


def test_channel_mode_split_or_mix(api: Api) -> None:
    url = "https://audio.example.com/stereo.wav"
    split = api.call("POST", "/v1/diarize", body={"url": url, "channelMode": "split"})
    assert split.status == 200, split.body
    assert api.store.get(split.body["jobId"]).params.channel_mode == "split"
    default = api.call("POST", "/v1/diarize", body={"url": url})
    assert api.store.get(default.body["jobId"]).params.channel_mode == "mix"
    bad = api.call("POST", "/v1/diarize", body={"url": url, "channelMode": "left"})
    assert bad.status == 400 and bad.fields() == ["channelMode"]
