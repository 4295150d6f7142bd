"""The whole pipeline through local mode, over real HTTP: API -> SQS -> dispatcher -> local worker
-> S3 -> EventBridge -> webhook. The first module fixture runs the REAL engine (pyannote on CPU)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import urllib3

from diarist.client.api import DiaristApiError
from diarist.domain.signing import verify_signature
from tests.e2e.conftest import LocalProcess, Receiver, start_local, stop_local

pytestmark = [pytest.mark.e2e]


@pytest.fixture(scope="module")
def local() -> Iterator[LocalProcess]:
    lp = start_local("--engine", "pyannote")
    yield lp
    assert stop_local(lp) == 0, "".join(lp.lines[-30:])


def _aws(lp: LocalProcess, service: str):  # type: ignore[no-untyped-def]
    return boto3.client(
        service,
        endpoint_url=lp.aws_endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def _der(output: dict, reference_rttm: Path) -> float:
    from pyannote.core import Annotation, Segment
    from pyannote.database.util import load_rttm
    from pyannote.metrics.diarization import DiarizationErrorRate

    reference = next(iter(load_rttm(reference_rttm).values()))
    hypothesis = Annotation()
    for t in output["diarization"]:
        hypothesis[Segment(t["start"], t["end"])] = t["speaker"]
    return float(DiarizationErrorRate()(reference, hypothesis))


def test_real_engine_media_upload_and_signed_webhook(
    local: LocalProcess, receiver: Receiver, shared_data: Path
) -> None:
    client = local.client()
    audio = shared_data / "pyannote_sample_30s.wav"
    job = client.submit_file(audio, webhook=receiver.url)
    assert job["status"] in ("pending", "created")
    done = client.wait(job["jobId"], timeout_s=300)
    assert done["status"] == "succeeded", done
    assert done["progress"] == 100
    output = client.output(done)
    assert output is not None
    assert max(t["end"] for t in output["diarization"]) <= 30.01
    # the real engine, through the whole pipeline, against the reference labels
    assert _der(output, shared_data / "pyannote_sample_30s.rttm") < 0.20

    headers, payload, raw = receiver.wait(timeout_s=60)
    assert payload["jobId"] == job["jobId"] and payload["status"] == "succeeded"
    assert payload["output"]["diarization"] == output["diarization"]
    assert verify_signature(local.webhook_secret, headers, raw)
    assert not verify_signature("some-other-secret", headers, raw)
    # the attempt is recorded on the job (just after the receiver answered)
    deadline = time.monotonic() + 30
    again = client.job(job["jobId"])
    while again["webhook"]["delivery"] != "delivered" and time.monotonic() < deadline:
        time.sleep(0.2)
        again = client.job(job["jobId"])
    assert again["webhook"]["delivery"] == "delivered"
    assert again["webhook"]["attempts"][0]["statusCode"] == 200


def test_phonexia_stereo_one_result_per_channel(local: LocalProcess, shared_data: Path) -> None:
    http = urllib3.PoolManager()
    stereo = shared_data / "fasterwhisper_stereo_5s.wav"
    resp = http.request(
        "POST",
        local.api_url + "/api/technology/speaker-diarization",
        fields={
            "file": (stereo.name, stereo.read_bytes(), "audio/wav"),
            "config": json.dumps({"max_speakers": 3}),
        },
        headers={"Authorization": f"Bearer {local.api_key}"},
    )
    assert resp.status == 202, resp.data
    location = resp.headers["X-Location"]
    assert json.loads(resp.data)["task"]["state"] == "pending"
    deadline = time.monotonic() + 300
    while True:
        data = json.loads(
            http.request("GET", location, headers={"Authorization": f"Bearer {local.api_key}"}).data
        )
        if data["task"]["state"] in ("done", "failed", "rejected") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert data["task"]["state"] == "done", data
    channels = data["result"]["channels"]
    assert [c["channel_number"] for c in channels] == [0, 1]
    for ch in channels:
        assert ch["speakers_count"] == 1  # one speaker per channel in this file
        assert ch["segments"] and all(s["end_time"] > s["start_time"] for s in ch["segments"])


def test_s3_upload_starts_a_job_and_result_appears_under_results(
    local: LocalProcess, shared_data: Path
) -> None:
    s3 = _aws(local, "s3")
    media = "diarist-media"
    s3.upload_file(
        str(shared_data / "pyannote_sample_30s.wav"),
        media,
        "incoming/local/calls/sample.wav",
        ExtraArgs={"Metadata": {"num-speakers": "2"}},
    )
    deadline = time.monotonic() + 300
    keys: list[str] = []
    while time.monotonic() < deadline:
        listing = s3.list_objects_v2(Bucket="diarist-results", Prefix="results/local/calls/")
        keys = [o["Key"] for o in listing.get("Contents", [])]
        # results beside the upload's path: results/<tenant>/<path after incoming/<tenant>/>
        if {"results/local/calls/sample.wav.json", "results/local/calls/sample.wav.rttm"} <= set(keys):
            break
        time.sleep(1)
    rttm_key = "results/local/calls/sample.wav.rttm"
    rttm = s3.get_object(Bucket="diarist-results", Key=rttm_key)["Body"].read().decode()
    speakers = {line.split()[7] for line in rttm.splitlines() if line.startswith("SPEAKER")}
    assert len(speakers) == 2  # forced by the object's metadata


def test_corrupt_file_fails_with_clear_error(local: LocalProcess, tmp_path: Path) -> None:
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 200)
    client = local.client()
    job = client.submit_file(bad)
    done = client.wait(job["jobId"], timeout_s=120)
    assert done["status"] == "failed"
    assert done["error"]["code"].startswith("input_"), done["error"]
    assert done["error"]["message"]


def test_cancel_running_job(local: LocalProcess, shared_data: Path) -> None:
    client = local.client()
    job = client.submit_file(shared_data / "simulated" / "sim_dev_3spk_overlap.wav")
    deadline = time.monotonic() + 120
    while client.job(job["jobId"])["status"] != "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert client.job(job["jobId"])["status"] == "running"
    assert client.cancel(job["jobId"])["status"] == "canceled"
    time.sleep(3)  # the worker must not overwrite the cancellation
    final = client.job(job["jobId"])
    assert final["status"] == "canceled" and "outputUrl" not in final
    assert final["output"] == {"error": "the job was canceled"}  # no result, pyannoteAI's error string


def test_bad_request_is_400_naming_the_field(local: LocalProcess) -> None:
    with pytest.raises(DiaristApiError) as e:
        local.client().submit_url("ftp://example.com/a.wav")
    assert e.value.status in (400, 422) and "url" in e.value.message


def test_worker_crash_ends_failed_with_reason(shared_data: Path) -> None:
    lp = start_local("--engine", "fake", env={"DIARIST_FAKE_BEHAVIOUR": "crash"})
    try:
        client = lp.client()
        job = client.submit_file(shared_data / "pyannote_sample_30s.wav")
        done = client.wait(job["jobId"], timeout_s=60)
        assert done["status"] == "failed"
        assert done["error"]["code"] == "worker_crashed", done["error"]
        assert "exit" in done["error"]["message"].lower()
    finally:
        assert stop_local(lp) == 0


def test_restart_with_a_data_dir_runs_waiting_jobs_and_fails_running_ones(tmp_path: Path) -> None:
    """``diarist local --data-dir``: stopped with one job running and one waiting for the (single)
    worker, then started again: the waiting job runs to the end, the running one ends failed."""
    import wave

    audio = tmp_path / "tone.wav"
    with wave.open(str(audio), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\x01\x00" * 16000 * 3)
    data_dir, key = tmp_path / "state", "dia_0123abcd_" + "k" * 43
    common = ("--engine", "fake", "--data-dir", str(data_dir), "--api-key", key)

    lp = start_local(*common, env={"DIARIST_FAKE_BEHAVIOUR": "slow", "DIARIST_FAKE_SLOW_S": "60"})
    try:
        client = lp.client()
        running = client.submit_file(audio)["jobId"]
        deadline = time.monotonic() + 60
        while client.job(running)["status"] != "running":
            assert time.monotonic() < deadline, client.job(running)
            time.sleep(0.2)
        waiting = client.submit_file(audio)["jobId"]
        while client.job(waiting)["status"] not in ("created", "pending"):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        time.sleep(1.0)  # the dispatcher hands it to the busy pool: "created"
        assert client.job(waiting)["status"] in ("pending", "created")
    finally:
        assert stop_local(lp) == 0, "".join(lp.lines[-30:])

    lp = start_local(*common, env={"DIARIST_FAKE_BEHAVIOUR": "ok"})
    try:
        client = lp.client()
        done = client.wait(waiting, timeout_s=60)
        assert done["status"] == "succeeded", done
        failed = client.job(running)
        assert failed["status"] == "failed" and failed["error"]["code"] == "worker_crashed", failed
        assert "local mode stopped" in failed["error"]["message"]
    finally:
        assert stop_local(lp) == 0, "".join(lp.lines[-30:])
