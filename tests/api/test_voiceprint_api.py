"""Voiceprints and identification through ``lambda_handler`` on moto: pyannoteAI's ``/v1/voiceprint``
and ``/v1/identify`` with the SDK's exact bodies, every bad input a 400 naming the field with nothing
stored or queued, the outputs of each kind; Phonexia's voiceprint extraction and comparison."""

from __future__ import annotations

import base64
import io
import math
import wave
from pathlib import Path
from typing import Any

import pytest

from diarist.adapters.aws import client
from diarist.domain.jobs import JobStatus
from diarist.domain.model_choice import DEFAULT_EMBEDDING_MODEL_ID, model_warning
from diarist.domain.results import (
    ChannelVoiceprint,
    Identification,
    IdentifiedTurn,
    SpeakerMatch,
    VoiceprintExtraction,
    VoiceprintResult,
)
from diarist.domain.voiceprints import compare_voiceprints, encode_voiceprint
from tests.api.conftest import Api, finish_with_result, small_result
from tests.api.events import HOST, STAGE, multipart_body

pytestmark = pytest.mark.integration

AUDIO = "https://audio.example.com/call.wav"
EXTRACTION = "/api/technology/speaker-identification-voiceprint-extraction"
COMPARISON = "/api/technology/speaker-identification-voiceprint-comparison"


def vp(seed: int, model: str = DEFAULT_EMBEDDING_MODEL_ID) -> str:
    """A valid voiceprint of ``model`` (a deterministic 192-value vector)."""
    return encode_voiceprint(model, [math.sin(seed * 7.1 + i * 0.37) + 0.01 * seed for i in range(192)], 12.0)


def sdk_voiceprint_body(url: str) -> dict[str, Any]:
    """What pyannoteai-sdk 0.4.0's ``Client.voiceprint(url)`` sends."""
    return {"url": url, "model": "precision-2"}


def sdk_identify_body(url: str, voiceprints: dict[str, str]) -> dict[str, Any]:
    """What ``Client.identify(url, voiceprints)`` sends: every key, the defaults as the SDK has them."""
    return {
        "url": url,
        "model": "precision-2",
        "numSpeakers": None,
        "minSpeakers": None,
        "maxSpeakers": None,
        "confidence": False,
        "turnLevelConfidence": False,
        "exclusive": False,
        "voiceprints": [{"label": k, "voiceprint": v} for k, v in voiceprints.items()],
        "matching": {"exclusive": True, "threshold": 0.0},
    }


def nothing_stored_or_queued(api: Api) -> None:
    from functions.api import deps

    assert api.queue_messages() == []
    assert deps.reader().list("tenant-a").jobs == []


def wav(seconds: float, rate: int = 8000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * int(seconds * rate))
    return buf.getvalue()


def put_media(api: Api, name: str, data: bytes) -> str:
    client("s3").put_object(Bucket=api.resources.media_bucket, Key=f"media/tenant-a/{name}", Body=data)
    return f"media://{name}"


# -- POST /v1/voiceprint ----------------------------------------------------------------------------


def test_the_sdks_voiceprint_body_is_accepted_and_queued(api: Api) -> None:
    r = api.call("POST", "/v1/voiceprint", body=sdk_voiceprint_body(AUDIO))
    assert r.status == 200, r.body
    job_id = r.body["jobId"]
    assert r.body == {
        "jobId": job_id,
        "status": "created",
        "warning": model_warning("precision-2", "diarist"),
    }
    job = api.store.get(job_id)
    assert job is not None and job.kind == "voiceprint" and job.requested_model == "precision-2"
    assert job.params.voiceprints is None and job.status is JobStatus.PENDING
    assert api.queue_messages() == [{"version": 1, "jobId": job_id, "tenantId": "tenant-a"}]
    view = api.call("GET", f"/v1/jobs/{job_id}").body
    assert view["kind"] == "voiceprint" and view["status"] == "pending"


def test_voiceprint_optional_fields_may_be_null(api: Api) -> None:
    body = {"url": AUDIO, "model": None, "webhook": None, "webhookStatusOnly": None}
    r = api.call("POST", "/v1/voiceprint", body=body)
    assert r.status == 200 and r.body == {"jobId": r.body["jobId"], "status": "created"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": AUDIO, "model": "community-1"}, "model"),  # the reference: precision-2 only
        ({"url": AUDIO, "model": "precision-1"}, "model"),
        ({"model": "precision-2"}, "url"),
        ({"url": "ftp://x/y.wav"}, "url"),
        ({"url": AUDIO, "numSpeakers": 2}, "numSpeakers"),  # not a voiceprint field
        ({"url": AUDIO, "webhook": "http://10.0.0.1/hook"}, "webhook"),
    ],
)
def test_voiceprint_bad_input_is_400_naming_the_field(api: Api, body: dict, field: str) -> None:
    r = api.call("POST", "/v1/voiceprint", body=body)
    assert r.status == 400 and r.fields() == [field], r.body
    nothing_stored_or_queued(api)


def test_a_five_minute_voiceprint_recording_is_refused_at_submission(api: Api, tmp_path: Path) -> None:
    path = tmp_path / "five-minutes.wav"
    path.write_bytes(wav(300.0))
    url = put_media(api, "five-minutes.wav", path.read_bytes())
    r = api.call("POST", "/v1/voiceprint", body=sdk_voiceprint_body(url))
    assert r.status == 400 and r.fields() == ["url"], r.body
    assert "at most 30 s" in r.body["message"] and "300.0 s" in r.body["message"]
    nothing_stored_or_queued(api)
    # the same recording is fine to diarize, and a 20 s one fine for a voiceprint
    assert api.call("POST", "/v1/diarize", body={"url": url}).status == 200
    ok = put_media(api, "twenty.wav", wav(20.0))
    assert api.call("POST", "/v1/voiceprint", body=sdk_voiceprint_body(ok)).status == 200


def test_a_long_flac_voiceprint_recording_is_refused_too(api: Api, tmp_path: Path) -> None:
    import numpy as np
    import soundfile

    path = tmp_path / "long.flac"
    soundfile.write(str(path), np.zeros(8000 * 45, dtype="int16"), 8000, format="FLAC")
    r = api.call("POST", "/v1/voiceprint", body={"url": put_media(api, "long.flac", path.read_bytes())})
    assert r.status == 400 and r.fields() == ["url"] and "45.0 s" in r.body["message"], r.body
    nothing_stored_or_queued(api)


def test_a_voiceprint_recording_of_unknown_length_is_left_to_the_worker(api: Api) -> None:
    url = put_media(api, "clip.mp3", b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb" * 5000)
    r = api.call("POST", "/v1/voiceprint", body={"url": url})
    assert r.status == 200, r.body  # no header to read: the worker decodes it and decides


def test_a_succeeded_voiceprint_job_outputs_the_voiceprint(api: Api) -> None:
    job_id = api.call("POST", "/v1/voiceprint", body=sdk_voiceprint_body(AUDIO)).body["jobId"]
    blob = vp(1)
    result = VoiceprintResult(
        voiceprint=blob,
        embedding_model=DEFAULT_EMBEDDING_MODEL_ID,
        speaker="SPEAKER_01",
        speech_s=12.0,
        num_speakers=2,
        duration=20.0,
        model="test",
        warnings=["2 speakers found; the voiceprint is of the most talkative one"],
    )
    finish_with_result(api, job_id, "tenant-a", result)
    body = api.call("GET", f"/v1/jobs/{job_id}").body
    assert body["status"] == "succeeded" and body["kind"] == "voiceprint"
    assert body["output"] == {
        "voiceprint": blob,
        "warning": "2 speakers found; the voiceprint is of the most talkative one",
    }


# -- POST /v1/identify ------------------------------------------------------------------------------


def test_the_sdks_identify_body_is_accepted_and_queued(api: Api) -> None:
    prints = {"lex": vp(1), "mark": vp(2)}
    r = api.call("POST", "/v1/identify", body=sdk_identify_body(AUDIO, prints))
    assert r.status == 200, r.body
    job = api.store.get(r.body["jobId"])
    assert job is not None and job.kind == "identify" and job.status is JobStatus.PENDING
    assert [(v.label, v.voiceprint) for v in job.params.voiceprints or []] == list(prints.items())
    assert job.params.matching is not None
    assert job.params.matching.exclusive is True and job.params.matching.threshold == 0.0
    assert any("precision-2" in w for w in job.warnings)
    assert api.queue_messages() == [{"version": 1, "jobId": job.job_id, "tenantId": "tenant-a"}]


def test_identify_nulls_mean_the_defaults(api: Api) -> None:
    body = {
        **sdk_identify_body(AUDIO, {"Sam": vp(3)}),
        "model": None,
        "confidence": None,
        "turnLevelConfidence": None,
        "exclusive": None,
        "webhook": None,
        "webhookStatusOnly": None,
        "matching": {"exclusive": None, "threshold": None},
    }
    r = api.call("POST", "/v1/identify", body=body)
    assert r.status == 200 and r.body == {"jobId": r.body["jobId"], "status": "created"}, r.body
    job = api.store.get(r.body["jobId"])
    assert job is not None and job.params.matching is not None
    assert (job.params.matching.exclusive, job.params.matching.threshold) == (True, 0.0)
    r = api.call(
        "POST", "/v1/identify", body={"url": AUDIO, "voiceprints": [{"label": "a", "voiceprint": vp(4)}]}
    )
    assert r.status == 200, r.body
    job = api.store.get(r.body["jobId"])
    assert job is not None and job.params.matching is not None and job.params.matching.threshold == 0.0
    r = api.call("POST", "/v1/identify", body={**body, "matching": None, "numSpeakers": 2, "exclusive": True})
    assert r.status == 200, r.body


def _truncated() -> str:
    return vp(1)[:-40]


def _garbage() -> str:
    return base64.b64encode(b"this is not a voiceprint at all").decode()


BAD_IDENTIFY: list[tuple[str, Any, list[str], str]] = [
    # (case, voiceprints, fields, a word of the message)
    ("another model", [{"label": "a", "voiceprint": vp(1)}, {"label": "b", "voiceprint": vp(2, "ecapa-x")}],
     ["voiceprints[1].voiceprint"], "ecapa-x"),
    ("truncated", [{"label": "a", "voiceprint": _truncated()}], ["voiceprints[0].voiceprint"], "truncated"),
    ("garbage base64", [{"label": "a", "voiceprint": _garbage()}], ["voiceprints[0].voiceprint"], "not a Diarist"),
    ("not base64", [{"label": "a", "voiceprint": "%%%not base64%%%"}], ["voiceprints[0].voiceprint"], "base64"),
    ("not a string", [{"label": "a", "voiceprint": 42}], ["voiceprints[0].voiceprint"], "string"),
    ("51 voiceprints", [{"label": f"p{i}", "voiceprint": vp(i)} for i in range(51)], ["voiceprints"], "1 to 50"),
    ("none", [], ["voiceprints"], "1 to 50"),
    ("duplicate labels", [{"label": "ann", "voiceprint": vp(1)}, {"label": "ann", "voiceprint": vp(2)}],
     ["voiceprints[1].label"], "twice"),
    ("SPEAKER_ label", [{"label": "SPEAKER_00", "voiceprint": vp(1)}], ["voiceprints[0].label"], "SPEAKER_"),
    ("speaker_ any case", [{"label": "x", "voiceprint": vp(1)}, {"label": "Speaker_bob", "voiceprint": vp(2)}],
     ["voiceprints[1].label"], "SPEAKER_"),
    ("long label", [{"label": "x" * 101, "voiceprint": vp(1)}], ["voiceprints[0].label"], "100"),
    ("empty label", [{"label": " ", "voiceprint": vp(1)}], ["voiceprints[0].label"], "non-empty"),
    ("unknown key", [{"label": "a", "voiceprint": vp(1), "name": "x"}], ["voiceprints[0].name"], "unknown"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "voiceprints", "fields", "word"), BAD_IDENTIFY, ids=[c[0] for c in BAD_IDENTIFY]
)
def test_identify_bad_voiceprints_are_400_naming_the_field(
    api: Api, case: str, voiceprints: Any, fields: list[str], word: str
) -> None:
    body = {**sdk_identify_body(AUDIO, {}), "voiceprints": voiceprints}
    r = api.call("POST", "/v1/identify", body=body)
    assert r.status == 400 and r.fields() == fields, (case, r.body)
    assert word in r.body["errors"][0]["message"], r.body
    assert r.body["message"].startswith(f"invalid request: {fields[0]}: ")
    nothing_stored_or_queued(api)


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"matching": {"exclusive": True, "threshold": 101}}, ["matching.threshold"]),
        ({"matching": {"exclusive": True, "threshold": -0.5}}, ["matching.threshold"]),
        ({"matching": {"exclusive": "yes", "threshold": 0}}, ["matching.exclusive"]),
        ({"matching": {"threshold": 0, "strict": True}}, ["matching.strict"]),
        ({"model": "community-1"}, ["model"]),
        ({"transcription": False}, ["transcription"]),  # identify has no transcription
        ({"numSpeakers": 2, "maxSpeakers": 3}, ["maxSpeakers"]),
        ({"url": None}, ["url"]),
    ],
)
def test_identify_other_bad_fields_are_400(api: Api, change: dict, fields: list[str]) -> None:
    body = {**sdk_identify_body(AUDIO, {"a": vp(1)}), **change}
    r = api.call("POST", "/v1/identify", body=body)
    assert r.status == 400 and r.fields() == fields, r.body
    nothing_stored_or_queued(api)
    missing = {k: v for k, v in sdk_identify_body(AUDIO, {}).items() if k != "voiceprints"}
    r = api.call("POST", "/v1/identify", body=missing)
    assert r.status == 400 and r.fields() == ["voiceprints"], r.body


def test_the_deployments_embedding_model_decides_which_voiceprints_are_valid(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from diarist.settings import load
    from functions.api import deps

    monkeypatch.setenv("DIARIST_EMBEDDING_MODEL_ID", "pipeline-embedding-0123456789ab")
    load.cache_clear()
    deps.reset()
    r = api.call("POST", "/v1/identify", body=sdk_identify_body(AUDIO, {"a": vp(1)}))
    assert r.status == 400 and r.fields() == ["voiceprints[0].voiceprint"], r.body
    assert "pipeline-embedding-0123456789ab" in r.body["message"]
    theirs = vp(1, "pipeline-embedding-0123456789ab")
    assert api.call("POST", "/v1/identify", body=sdk_identify_body(AUDIO, {"a": theirs})).status == 200


def _identified_result(channels: int = 1) -> Any:
    base = small_result(channels, confidence=True)
    chans = []
    for ch in base.channels:
        names = {"SPEAKER_00": "lex", "SPEAKER_01": None}
        chans.append(
            ch.model_copy(
                update={
                    "identification": [
                        IdentifiedTurn(
                            speaker=names[t.speaker] or t.speaker,
                            start=t.start,
                            end=t.end,
                            diarization_speaker=t.speaker,
                            match=names[t.speaker],
                            confidence=t.confidence,
                        )
                        for t in ch.diarization
                    ],
                    "voiceprint_matches": [
                        SpeakerMatch(speaker="SPEAKER_00", match="lex", confidence={"lex": 97, "mark": 3}),
                        SpeakerMatch(speaker="SPEAKER_01", match=None, confidence={"lex": 2, "mark": 31}),
                    ],
                }
            )
        )
    return base.model_copy(
        update={
            "channels": chans,
            "identification": Identification(
                labels=["lex", "mark"],
                exclusive=True,
                threshold=50,
                embedding_model=DEFAULT_EMBEDDING_MODEL_ID,
            ),
        }
    )


def test_a_succeeded_identify_job_outputs_identification_and_voiceprints(api: Api) -> None:
    body = {**sdk_identify_body(AUDIO, {"lex": vp(1), "mark": vp(2)}), "matching": {"threshold": 50}}
    job_id = api.call("POST", "/v1/identify", body=body).body["jobId"]
    finish_with_result(api, job_id, "tenant-a", _identified_result())
    out = api.call("GET", f"/v1/jobs/{job_id}").body["output"]
    assert set(out) == {"diarization", "identification", "voiceprints"}  # nothing that was not asked for
    assert out["diarization"][0] == {"speaker": "SPEAKER_00", "start": 0.5, "end": 4.0}
    assert out["identification"][:2] == [
        {"speaker": "lex", "start": 0.5, "end": 4.0, "diarizationSpeaker": "SPEAKER_00", "match": "lex"},
        {
            "speaker": "SPEAKER_01",
            "start": 3.5,
            "end": 7.25,
            "diarizationSpeaker": "SPEAKER_01",
            "match": None,
        },
    ]
    assert out["voiceprints"] == [
        {"speaker": "SPEAKER_00", "match": "lex", "confidence": {"lex": 97, "mark": 3}},
        {"speaker": "SPEAKER_01", "match": None, "confidence": {"lex": 2, "mark": 31}},
    ]
    # the parts a job asks for, as for a diarization
    body = {**body, "exclusive": True, "confidence": True, "turnLevelConfidence": True}
    job_id = api.call("POST", "/v1/identify", body=body).body["jobId"]
    finish_with_result(api, job_id, "tenant-a", _identified_result())
    out = api.call("GET", f"/v1/jobs/{job_id}").body["output"]
    assert {"exclusiveDiarization", "confidence", "identification", "voiceprints"} <= set(out)
    assert out["identification"][0]["confidence"] == 91.0


def test_identify_jobs_cancel_list_and_replay_like_any_job(api: Api) -> None:
    body = sdk_identify_body(AUDIO, {"lex": vp(1)})
    r1 = api.call("POST", "/v1/identify", body=body, headers={"Idempotency-Key": "k1"})
    r2 = api.call("POST", "/v1/identify", body=body, headers={"Idempotency-Key": "k1"})
    assert r1.status == r2.status == 200 and r1.body["jobId"] == r2.body["jobId"]
    other = {**body, "voiceprints": [{"label": "lex", "voiceprint": vp(2)}]}
    assert api.call("POST", "/v1/identify", body=other, headers={"Idempotency-Key": "k1"}).status == 409
    # a diarize request with the same key is another request
    assert (
        api.call("POST", "/v1/diarize", body={"url": AUDIO}, headers={"Idempotency-Key": "k1"}).status == 409
    )
    items = api.call("GET", "/v2/jobs").body["items"]
    assert [(i["id"], i["kind"]) for i in items] == [(r1.body["jobId"], "identify")]
    assert api.call("POST", f"/v1/jobs/{r1.body['jobId']}/cancel").body["status"] == "canceled"


# -- Phonexia: voiceprint extraction ----------------------------------------------------------------


def extract(api: Api, data: bytes, query: str = "") -> Any:
    body, ctype = multipart_body({"file": ("call.wav", "audio/wav", data)})
    return api.call("POST", EXTRACTION + query, body=body, headers={"Content-Type": ctype})


def test_voiceprint_extraction_upload_poll_and_result(api: Api) -> None:
    r = extract(api, wav(5.0), "?channel_mode=mix")
    assert r.status == 202, r.body
    task_id = r.body["task"]["task_id"]
    assert r.body == {"task": {"task_id": task_id, "state": "pending"}}
    assert r.headers["x-location"] == f"https://{HOST}/{STAGE}{EXTRACTION}/{task_id}"
    job = api.store.get(task_id)
    assert job is not None and job.kind == "voiceprint_extraction" and job.params.channel_mode == "mix"
    assert api.queue_messages() == [{"version": 1, "jobId": task_id, "tenantId": "tenant-a"}]
    assert api.call("GET", f"{EXTRACTION}/{task_id}").body == {
        "task": {"task_id": task_id, "state": "pending"}
    }
    result = VoiceprintExtraction(
        duration=5.0,
        num_channels=2,
        channel_mode="split",
        channels=[
            ChannelVoiceprint(
                channel=0, voiceprint=vp(1), speech_s=3.456, speaker="SPEAKER_00", num_speakers=1
            ),
            ChannelVoiceprint(
                channel=1, voiceprint=vp(2), speech_s=4.0, speaker="SPEAKER_00", num_speakers=1
            ),
        ],
        embedding_model=DEFAULT_EMBEDDING_MODEL_ID,
        model="test",
    )
    finish_with_result(api, task_id, "tenant-a", result)
    body = api.call("GET", f"{EXTRACTION}/{task_id}").body
    assert body == {
        "task": {"task_id": task_id, "state": "done"},
        "result": {
            "channels": [
                {
                    "channel_number": 0,
                    "voiceprint": vp(1),
                    "speech_length": 3.46,
                    "model": DEFAULT_EMBEDDING_MODEL_ID,
                },
                {
                    "channel_number": 1,
                    "voiceprint": vp(2),
                    "speech_length": 4.0,
                    "model": DEFAULT_EMBEDDING_MODEL_ID,
                },
            ]
        },
    }
    # each technology polls its own tasks
    assert api.call("GET", f"/api/technology/speaker-diarization/{task_id}").status == 404
    assert api.call("GET", f"{COMPARISON}/{task_id}").status == 404


def test_voiceprint_extraction_bad_input_in_phonexias_shape(api: Api) -> None:
    body, ctype = multipart_body({"audio": ("call.wav", "audio/wav", wav(1.0))})
    r = api.call("POST", EXTRACTION, body=body, headers={"Content-Type": ctype})
    assert r.status == 400 and r.body["type"] == "bad_request" and r.body["detail"][0].startswith("file:")
    r = extract(api, wav(1.0), "?channel_mode=both")
    assert r.status == 400 and r.body["detail"][0].startswith("channel_mode:")
    nothing_stored_or_queued(api)


# -- Phonexia: voiceprint comparison ----------------------------------------------------------------


def test_comparison_is_computed_at_once_and_polled(api: Api) -> None:
    a = [vp(1), vp(2), vp(3)]
    b = [vp(2), vp(9)]
    r = api.call("POST", COMPARISON, body={"voiceprints_a": a, "voiceprints_b": b})
    assert r.status == 202, r.body
    task_id = r.body["task"]["task_id"]
    assert r.body == {"task": {"task_id": task_id, "state": "done"}}
    assert r.headers["x-location"] == f"https://{HOST}/{STAGE}{COMPARISON}/{task_id}"
    body = api.call("GET", f"{COMPARISON}/{task_id}").body
    expected = compare_voiceprints(a, b)
    assert body["task"] == {"task_id": task_id, "state": "done"}
    scores = body["result"]["scores"]
    assert (scores["rows_count"], scores["columns_count"]) == (2, 3)
    assert scores["values"] == expected.values and len(scores["values"]) == 6
    assert scores["values"][1] == max(scores["values"][:3]) > 0  # b[0] is a[1]: row-major, rows = b
    job = api.store.get(task_id)
    assert job is not None and job.kind == "voiceprint_comparison" and job.status is JobStatus.SUCCEEDED
    assert job.started_at is not None and job.finished_at is not None
    assert api.queue_messages() == []  # never queued: no worker needed
    assert api.call("GET", f"{EXTRACTION}/{task_id}").status == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"voiceprints_a": [], "voiceprints_b": [vp(1)]}, "voiceprints_a"),
        ({"voiceprints_a": [vp(1)], "voiceprints_b": []}, "voiceprints_b"),
        ({"voiceprints_a": [vp(1)], "voiceprints_b": [vp(2), vp(3, "ecapa-x")]}, "voiceprints_b[1]"),
        ({"voiceprints_a": [vp(1)[:-12]], "voiceprints_b": [vp(2)]}, "voiceprints_a[0]"),
        ({"voiceprints_a": [vp(1)], "voiceprints_b": [7]}, "voiceprints_b[0]"),
        ({"voiceprints_a": [vp(1)]}, "voiceprints_b"),
        ({"voiceprints_a": [vp(1)] * 3, "voiceprints_b": [vp(2)] * 3}, "voiceprints_b"),  # over the cap of 8
    ],
)
def test_comparison_bad_input_is_400_naming_the_field(
    api: Api, monkeypatch: pytest.MonkeyPatch, body: dict, field: str
) -> None:
    from diarist.settings import load
    from functions.api import deps

    monkeypatch.setenv("DIARIST_COMPARISON_MAX_PAIRS", "8")
    load.cache_clear()
    deps.reset()
    r = api.call("POST", COMPARISON, body=body)
    assert r.status == 400 and r.body["type"] == "bad_request", r.body
    assert [d.split(": ", 1)[0] for d in r.body["detail"]] == [field], r.body
    nothing_stored_or_queued(api)


def test_a_finished_diarization_is_still_rendered_as_before(api: Api) -> None:
    job_id = api.call("POST", "/v1/diarize", body={"url": AUDIO}).body["jobId"]
    finish_with_result(api, job_id, "tenant-a", small_result())
    body = api.call("GET", f"/v1/jobs/{job_id}").body
    assert body["kind"] == "diarize" and set(body["output"]) == {"diarization"}


def test_a_comparison_whose_result_cannot_be_stored_ends_failed(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from diarist.adapters.s3_store import S3ObjectStore

    real = S3ObjectStore.put_bytes

    def put_bytes(self: S3ObjectStore, bucket: str, key: str, data: bytes, content_type: str) -> None:
        if bucket == api.resources.results_bucket:
            raise RuntimeError("S3 is down")
        real(self, bucket, key, data, content_type)

    monkeypatch.setattr(S3ObjectStore, "put_bytes", put_bytes)
    r = api.call("POST", COMPARISON, body={"voiceprints_a": [vp(1)], "voiceprints_b": [vp(2)]})
    assert r.status == 500, r.body
    from functions.api import deps

    (job,) = deps.reader().list("tenant-a").jobs
    assert job.status is JobStatus.FAILED and job.error is not None and job.error.code == "internal_error"
