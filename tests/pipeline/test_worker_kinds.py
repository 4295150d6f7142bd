"""The worker runs every kind of job that reads audio (voiceprint, identify, voiceprint extraction)
through the same flow as a diarization, on moto with the fake engine: statuses, the result of the
kind in S3, RTTM only where there are turns, input errors that fail the job with their code."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from diarist.adapters.aws import client
from diarist.domain.jobs import JobParams, JobStatus, LabeledVoiceprint, Matching
from diarist.domain.model_choice import DEFAULT_EMBEDDING_MODEL_ID
from diarist.domain.results import DiarizationResult, VoiceprintExtraction, VoiceprintResult
from diarist.domain.voiceprints import decode_voiceprint, encode_voiceprint
from diarist.settings import WorkerSettings, load
from diarist.testing.fake_engine import FAKE_MODEL, FakeJobDiarizer
from diarist.worker.main import EXIT_OK, run_worker
from tests.pipeline.conftest import make_job

pytestmark = pytest.mark.integration

RATE = 16000


def tones(*hz: float, each_s: float = 2.0, channels: int = 1) -> bytes:
    """A WAV of consecutive tones, ``each_s`` seconds each (the fake engine's turns are 2 s)."""
    t = np.arange(int(each_s * RATE)) / RATE
    mono = np.concatenate([0.3 * np.sin(2 * np.pi * f * t) for f in hz]).astype("float32")
    data = np.stack([mono * (1 + c) / channels for c in range(channels)], axis=1) if channels > 1 else mono
    buf = io.BytesIO()
    soundfile.write(buf, data, RATE, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def upload(aws, name: str, data: bytes) -> str:
    client("s3").put_object(Bucket=aws.media_bucket, Key=f"media/t1/{name}", Body=data)
    return f"s3://{aws.media_bucket}/media/t1/{name}"


def run(aws, store, bus, job_id: str, **job) -> tuple[int, object]:
    store.create(make_job(job_id, **job))
    code = run_worker(
        job_id, "t1", settings=load(WorkerSettings), store=store, events=bus, diarizer=FakeJobDiarizer()
    )
    return code, store.get(job_id)


def stored(aws, job_id: str, suffix: str = "json") -> bytes | None:
    try:
        obj = client("s3").get_object(Bucket=aws.results_bucket, Key=f"results/t1/{job_id}/result.{suffix}")
    except client("s3").exceptions.NoSuchKey:
        return None
    return bytes(obj["Body"].read())


def fake_voiceprint(tmp_path: Path, data: bytes) -> str:
    path = tmp_path / "vp.wav"
    path.write_bytes(data)
    return FakeJobDiarizer().voiceprint(path, JobParams(), lambda p: None).voiceprint


def test_a_voiceprint_job_stores_a_valid_voiceprint_of_the_deployments_model(aws, store, bus) -> None:
    url = upload(aws, "alice.wav", tones(300, 300, 300))
    code, job = run(aws, store, bus, "v1", kind="voiceprint", input_url=url, requested_model="precision-2")
    assert code == EXIT_OK and job.status is JobStatus.SUCCEEDED, job.error
    assert job.result_location == f"s3://{aws.results_bucket}/results/t1/v1/result.json"
    assert job.result_model == FAKE_MODEL and job.progress == 100
    result = VoiceprintResult.model_validate_json(stored(aws, "v1") or b"")
    vp = decode_voiceprint(result.voiceprint, DEFAULT_EMBEDDING_MODEL_ID)
    assert result.embedding_model == vp.model == DEFAULT_EMBEDDING_MODEL_ID and vp.dim == 192
    assert result.duration == 6.0 and stored(aws, "v1", "rttm") is None  # no turns, no RTTM
    assert [d.status for d in bus.published] == [JobStatus.SUCCEEDED]


@pytest.mark.parametrize(
    ("audio", "code"),
    [
        (tones(300, each_s=40.0), "input_too_long_for_voiceprint"),  # over 30 s
        (tones(0, each_s=5.0), "input_no_speech"),  # silence
        (b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 64, "input_corrupt"),
    ],
)
def test_a_voiceprint_job_with_unusable_audio_fails_with_its_code(
    aws, store, bus, audio: bytes, code: str
) -> None:
    url = upload(aws, "bad.wav", audio)
    exit_code, job = run(aws, store, bus, "v2", kind="voiceprint", input_url=url)
    assert exit_code == EXIT_OK and job.status is JobStatus.FAILED
    assert job.error is not None and job.error.code == code, job.error
    assert stored(aws, "v2") is None and [d.status for d in bus.published] == [JobStatus.FAILED]


def test_an_identify_job_names_the_speakers_it_recognises(aws, store, bus, tmp_path: Path) -> None:
    alice = fake_voiceprint(tmp_path, tones(300, 300))
    bob = fake_voiceprint(tmp_path, tones(500, 500))
    carol = fake_voiceprint(tmp_path, tones(900, 900))
    # a conversation: turns every 2 s, SPEAKER_00 at 500 Hz (bob), SPEAKER_01 at 300 Hz (alice)
    url = upload(aws, "meeting.wav", tones(500, 300, 500, 300))
    params = JobParams(
        voiceprints=[
            LabeledVoiceprint(label=label, voiceprint=v)
            for label, v in (("alice", alice), ("carol", carol), ("bob", bob))
        ],
        matching=Matching(exclusive=True, threshold=50),
    )
    code, job = run(aws, store, bus, "i1", kind="identify", input_url=url, params=params)
    assert code == EXIT_OK and job.status is JobStatus.SUCCEEDED, job.error
    result = DiarizationResult.model_validate_json(stored(aws, "i1") or b"")
    ch = result.channels[0]
    assert [(m.speaker, m.match) for m in ch.voiceprint_matches or []] == [
        ("SPEAKER_00", "bob"),
        ("SPEAKER_01", "alice"),
    ]
    assert (ch.voiceprint_matches or [])[0].confidence == {"alice": 0, "carol": 0, "bob": 100}
    assert [t.speaker for t in ch.identification or []] == ["bob", "alice", "bob", "alice"]
    assert result.identification is not None and result.identification.labels == ["alice", "carol", "bob"]
    assert (result.identification.exclusive, result.identification.threshold) == (True, 50)
    rttm = (stored(aws, "i1", "rttm") or b"").decode().splitlines()
    assert [line.split()[7] for line in rttm] == ["bob", "alice", "bob", "alice"]


def test_an_identify_job_with_another_models_voiceprint_fails_without_a_result(aws, store, bus) -> None:
    theirs = encode_voiceprint("ecapa-other-model", [1.0] * 192)
    params = JobParams(voiceprints=[LabeledVoiceprint(label="x", voiceprint=theirs)], matching=Matching())
    url = upload(aws, "meeting.wav", tones(300, 500))
    code, job = run(aws, store, bus, "i2", kind="identify", input_url=url, params=params)
    assert code == EXIT_OK and job.status is JobStatus.FAILED
    assert job.error is not None and job.error.code == "voiceprint_model_mismatch"
    assert "voiceprints[0].voiceprint" in job.error.message and stored(aws, "i2") is None


def test_a_voiceprint_extraction_job_stores_one_voiceprint_per_channel(aws, store, bus) -> None:
    url = upload(aws, "stereo.wav", tones(300, 300, channels=2))
    code, job = run(
        aws, store, bus, "x1", kind="voiceprint_extraction", source="phonexia", input_url=url,
        params=JobParams(channel_mode="split"),
    )  # fmt: skip
    assert code == EXIT_OK and job.status is JobStatus.SUCCEEDED, job.error
    result = VoiceprintExtraction.model_validate_json(stored(aws, "x1") or b"")
    assert [c.channel for c in result.channels] == [0, 1] and result.channel_mode == "split"
    for c in result.channels:
        assert decode_voiceprint(c.voiceprint, DEFAULT_EMBEDDING_MODEL_ID).speech_s == c.speech_s == 4.0
    assert json.loads(stored(aws, "x1") or b"")["embeddingModel"] == DEFAULT_EMBEDDING_MODEL_ID
