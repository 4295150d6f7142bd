"""The official pyannoteAI Python SDK (pyannoteai-sdk 0.4.0), unchanged but for its base URL, against
``diarist local`` over real HTTP on loopback: its README flows (diarization; voiceprints and
identification), a failed job, a canceled job and a wrong key; and Phonexia's voiceprint extraction and
comparison through the same server. The engine is the fake one (``--engine fake``): this is about the
API, so it stays fast. The fake's voiceprints follow the audio's dominant frequency, so a speaker
talking at 300 Hz is recognised in a conversation where SPEAKER_00 does."""

from __future__ import annotations

import json
import math
import struct
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
from pyannoteai.sdk import Client
from pyannoteai.sdk.client import PyannoteAICanceledJob, PyannoteAIFailedJob
from requests.exceptions import HTTPError

from tests.e2e.conftest import LocalProcess, start_local, stop_local

pytestmark = [
    pytest.mark.e2e,
    # the SDK warns about temporary storage and polling on every upload and retrieve
    pytest.mark.filterwarnings("ignore::UserWarning:pyannoteai.sdk.client"),
]

SLOW_S = "2"  # each fake job runs this long: a job canceled right after submission is still active


@pytest.fixture(scope="module")
def local() -> Iterator[LocalProcess]:
    lp = start_local(
        "--engine", "fake", env={"DIARIST_FAKE_BEHAVIOUR": "slow", "DIARIST_FAKE_SLOW_S": SLOW_S}
    )
    yield lp
    assert stop_local(lp) == 0, "".join(lp.lines[-30:])


@pytest.fixture
def sdk(local: LocalProcess, monkeypatch: pytest.MonkeyPatch) -> type[Client]:
    """The SDK's client class, pointed at local mode: the one change its documentation allows."""
    assert local.api_url.startswith("http://127.0.0.1:")
    monkeypatch.setattr(Client, "API_URL", f"{local.api_url}/v1")
    return Client


def _wav(path: Path, seconds: float, *, tone: int = 0) -> Path:
    rate = 16000
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes((i * 7 + tone) % 256 for i in range(int(rate * seconds) * 2)))
    return path


def _tones(path: Path, *hz: int, each_s: float = 2.0) -> Path:
    """A WAV of consecutive tones (the fake engine gives a new speaker turn every 2 s)."""
    rate = 16000
    frames = b"".join(
        struct.pack("<h", int(9000 * math.sin(2 * math.pi * f * i / rate)))
        for f in hz
        for i in range(int(rate * each_s))
    )
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return path


def test_readme_flow_voiceprints_then_identification(
    sdk: type[Client], local: LocalProcess, tmp_path: Path
) -> None:
    client = sdk(token=local.api_key)
    # one voiceprint per speaker, from a short recording of each (the SDK's README)
    voiceprints = {}
    for name, hz in (("lex", 300), ("mark", 500)):
        job_id = client.voiceprint(client.upload(_tones(tmp_path / f"{name}.wav", hz, hz)))
        job = client.retrieve(job_id, every_seconds=1)
        assert job["status"] == "succeeded" and job["kind"] == "voiceprint"
        voiceprints[name] = job["output"]["voiceprint"]
        assert isinstance(voiceprints[name], str) and 1000 < len(voiceprints[name]) < 2000
    # a conversation: SPEAKER_00 at 500 Hz (mark) and SPEAKER_01 at 300 Hz (lex), taking turns
    meeting = client.upload(_tones(tmp_path / "meeting.wav", 500, 300, 500, 300))
    job_id = client.identify(meeting, voiceprints)  # the SDK's body: matching {exclusive, threshold 0.0}
    job = client.retrieve(job_id, every_seconds=1)
    assert job["status"] == "succeeded" and job["kind"] == "identify"
    output = job["output"]
    assert [t["speaker"] for t in output["identification"]] == ["mark", "lex", "mark", "lex"]
    assert [t["diarizationSpeaker"] for t in output["identification"]][:2] == ["SPEAKER_00", "SPEAKER_01"]
    assert output["voiceprints"] == [
        {"speaker": "SPEAKER_00", "match": "mark", "confidence": {"lex": 0, "mark": 100}},
        {"speaker": "SPEAKER_01", "match": "lex", "confidence": {"lex": 100, "mark": 0}},
    ]
    assert output["diarization"][0]["speaker"] == "SPEAKER_00"
    # a bad voiceprint is the SDK's HTTPError (400), before any job exists
    with pytest.raises(HTTPError, match="400"):
        client.identify(meeting, {"lex": voiceprints["lex"][:-8]})
    with pytest.raises(HTTPError, match="400"):
        client.identify(meeting, {"SPEAKER_00": voiceprints["lex"]})


def _phonexia(
    local: LocalProcess, http: urllib3.PoolManager, method: str, url: str, **kw: Any
) -> tuple[int, dict, dict]:
    headers = {"Authorization": f"Bearer {local.api_key}", **kw.pop("headers", {})}
    resp = http.request(method, url, headers=headers, **kw)
    return resp.status, dict(resp.headers), json.loads(resp.data)


def _poll_done(local: LocalProcess, http: urllib3.PoolManager, location: str) -> dict:
    deadline = time.monotonic() + 60
    while True:
        _, _, data = _phonexia(local, http, "GET", location)
        if data["task"]["state"] in ("done", "failed", "rejected") or time.monotonic() > deadline:
            return data
        time.sleep(0.3)


def test_phonexia_voiceprint_extraction_and_comparison(local: LocalProcess, tmp_path: Path) -> None:
    http = urllib3.PoolManager()
    base = local.api_url + "/api/technology/"
    extracted = []
    for hz in (300, 500):
        audio = _tones(tmp_path / f"{hz}.wav", hz, hz).read_bytes()
        status, headers, body = _phonexia(
            local, http, "POST", base + "speaker-identification-voiceprint-extraction?channel_mode=mix",
            fields={"file": (f"{hz}.wav", audio, "audio/wav")},
        )  # fmt: skip
        assert status == 202 and body["task"]["state"] == "pending", body
        location = headers["X-Location"]
        assert location.startswith(
            local.api_url + "/api/technology/speaker-identification-voiceprint-extraction/"
        )
        data = _poll_done(local, http, location)
        assert data["task"]["state"] == "done", data
        (channel,) = data["result"]["channels"]
        assert channel["channel_number"] == 0 and channel["speech_length"] == 4.0
        assert channel["model"].startswith("campplus-3dspeaker-")
        extracted.append(channel["voiceprint"])
    # every b against every a: rows = b, columns = a
    status, headers, body = _phonexia(
        local, http, "POST", base + "speaker-identification-voiceprint-comparison",
        body=json.dumps({"voiceprints_a": extracted, "voiceprints_b": extracted[::-1]}),
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    assert status == 202, body
    data = _poll_done(local, http, headers["X-Location"])
    scores = data["result"]["scores"]
    assert (scores["rows_count"], scores["columns_count"]) == (2, 2)
    different, same, same2, different2 = scores["values"]
    assert same > 0 > different and same == same2 and different == different2
    status, _, body = _phonexia(
        local, http, "POST", base + "speaker-identification-voiceprint-comparison",
        body=json.dumps({"voiceprints_a": extracted, "voiceprints_b": ["AAAA"]}),
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    assert status == 400 and body["detail"][0].startswith("voiceprints_b[0]: "), body


def test_readme_flow_upload_diarize_retrieve(sdk: type[Client], local: LocalProcess, tmp_path: Path) -> None:
    client = sdk(token=local.api_key)  # the constructor calls GET /v1/test
    audio = _wav(tmp_path / "meeting.wav", 7.0)
    media_url = client.upload(audio)  # POST /v1/media/input (201), then a presigned PUT to the emulator
    assert media_url.startswith("media://") and len(media_url) == len("media://") + 32  # md5 of the file
    job_id = client.diarize(media_url)  # the SDK's default body: model precision-2, every key
    job = client.retrieve(job_id, every_seconds=1)
    assert job["status"] == "succeeded" and job["jobId"] == job_id
    turns = job["output"]["diarization"]
    assert turns and all(set(t) == {"speaker", "start", "end"} for t in turns)
    assert turns[0]["speaker"].startswith("SPEAKER_") and max(t["end"] for t in turns) == pytest.approx(7.0)
    # never a silent substitution: the job says what ran instead of precision-2
    assert job["requestedModel"] == "precision-2" and job["resultModel"] == "diarist-fake-engine"
    assert any("precision-2" in w for w in job["warnings"])


def test_a_corrupt_upload_fails_with_our_error_message(
    sdk: type[Client], local: LocalProcess, tmp_path: Path
) -> None:
    client = sdk(token=local.api_key)
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 200)
    job_id = client.diarize(client.upload(bad))
    with pytest.raises(PyannoteAIFailedJob) as e:
        client.retrieve(job_id, every_seconds=1)
    ours = local.client().job(job_id)
    assert ours["status"] == "failed" and ours["error"]["code"].startswith("input_")
    assert e.value.args == (ours["error"]["message"], job_id)
    assert "not a readable audio file" in e.value.args[0]


def test_a_canceled_job_raises_canceled(sdk: type[Client], local: LocalProcess, tmp_path: Path) -> None:
    client = sdk(token=local.api_key)
    job_id = client.diarize(client.upload(_wav(tmp_path / "call.wav", 3.0, tone=1)))
    assert local.client().cancel(job_id)["status"] == "canceled"
    with pytest.raises(PyannoteAICanceledJob) as e:
        client.retrieve(job_id, every_seconds=1)
    assert e.value.args == ("the job was canceled", job_id)


def test_a_wrong_key_is_the_sdks_authentication_error(sdk: type[Client]) -> None:
    with pytest.raises(HTTPError, match="Failed to authenticate to pyannoteAI API"):
        sdk(token="dia_00000000_" + "a" * 43)


def test_our_cli_pages_with_next_cursor(
    local: LocalProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from diarist.cli import main

    for tone in (2, 3):
        local.client().submit_file(_wav(tmp_path / f"{tone}.wav", 1.0, tone=tone))
    args = ["jobs", "--api-url", local.api_url, "--api-key", local.api_key, "--limit", "1"]
    assert main(args) == 0
    first = capsys.readouterr()
    assert len(first.out.splitlines()) == 1 and "(more: --cursor " in first.err
    cursor = first.err.split("--cursor ", 1)[1].split(")")[0]
    assert main([*args, "--cursor", cursor]) == 0
    second = capsys.readouterr().out.splitlines()
    assert len(second) == 1 and second[0].split()[0] != first.out.split()[0]


def test_our_cli_voiceprint_and_identify_through_the_api(
    local: LocalProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from diarist.cli import main

    api = ["--api", "--api-url", local.api_url, "--api-key", local.api_key, "--quiet"]
    lex_vp = tmp_path / "lex.vp"
    assert main(["voiceprint", str(_tones(tmp_path / "lex.wav", 300, 300)), *api, "-o", str(lex_vp)]) == 0
    assert lex_vp.read_text().startswith("RFZQUg")  # b"DVPR", base64
    mark = _tones(tmp_path / "mark.wav", 500, 500)  # an audio VPFILE: its voiceprint is made first
    meeting = _tones(tmp_path / "meeting.wav", 500, 300, 500, 300)
    argv = ["identify", str(meeting), "-v", f"lex={lex_vp}", "-v", f"mark={mark}", "--format", "rttm", *api]
    assert main(argv) == 0
    rttm = capsys.readouterr().out.splitlines()
    assert [line.split()[7] for line in rttm] == ["mark", "lex", "mark", "lex"]
    # a 40 s recording uploaded as WAV is refused at submission (400 naming url): exit 2
    assert main(["voiceprint", str(_tones(tmp_path / "long.wav", 300, each_s=40.0)), *api]) == 2
    assert "url: a voiceprint is made from at most 30 s" in capsys.readouterr().err


def test_local_no_auth_serves_requests_without_a_key_as_the_local_tenant(tmp_path: Path) -> None:
    lp = start_local("--engine", "fake", "--no-auth")
    try:
        assert any("--no-auth" in line and "WARNING" in line for line in lp.lines)
        assert lp.api_url.startswith("http://127.0.0.1:")
        http = urllib3.PoolManager()
        audio = _tones(tmp_path / "a.wav", 300, 300).read_bytes()
        url = lp.api_url + "/api/technology/speaker-identification-voiceprint-extraction"
        resp = http.request("POST", url, fields={"file": ("a.wav", audio, "audio/wav")})  # no Authorization
        assert resp.status == 202, resp.data
        task_id = json.loads(resp.data)["task"]["task_id"]
        assert lp.client().job(task_id)["kind"] == "voiceprint_extraction"  # the local tenant's job
        bad = http.request("GET", lp.api_url + "/v1/test", headers={"Authorization": "Bearer dia_nope"})
        assert bad.status == 401  # a wrong key is still refused
    finally:
        assert stop_local(lp) == 0
