"""The worker with the real engine (CPU, real weights): a voiceprint job on 5 s of one speaker of a dev
clip (AMI EN2001a, 11-16 s: MEE068 alone), then an identify job with that voiceprint on the next 14 s
of the recording (other audio, where MEE068 talks again among two others). Marker: engine (slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from diarist.adapters.aws import client
from diarist.domain.jobs import JobParams, JobStatus, LabeledVoiceprint, Matching
from diarist.domain.model_choice import DEFAULT_EMBEDDING_MODEL_ID
from diarist.domain.results import DiarizationResult, VoiceprintResult
from diarist.domain.voiceprints import decode_voiceprint
from diarist.settings import WorkerSettings, load
from diarist.worker.main import EXIT_OK, run_worker
from tests.pipeline.conftest import make_job

pytestmark = [pytest.mark.engine, pytest.mark.integration]


def test_voiceprint_then_identify_with_the_real_engine(aws, store, bus, shared_data, tmp_path: Path) -> None:
    from diarist.engine import EngineSettings, EngineSetupError

    try:
        EngineSettings().check()
    except EngineSetupError as e:
        pytest.skip(str(e))
    import soundfile

    from diarist.engine import load_engine
    from diarist.worker.diarizer import EngineJobDiarizer

    diarizer = EngineJobDiarizer(load_engine(EngineSettings(device="cpu")))
    audio, rate = soundfile.read(str(shared_data / "ami_EN2001a_0000s_30s.wav"))
    s3 = client("s3")
    for name, (a, b) in {"enrol.wav": (11, 16), "meeting.wav": (16, 30)}.items():
        soundfile.write(str(tmp_path / name), audio[a * rate : b * rate], rate)
        s3.upload_file(str(tmp_path / name), aws.media_bucket, f"media/t1/{name}")

    def run(job_id: str, name: str, **kw: object) -> int:
        store.create(make_job(job_id, input_url=f"s3://{aws.media_bucket}/media/t1/{name}", **kw))
        return run_worker(
            job_id, "t1", settings=load(WorkerSettings), store=store, events=bus, diarizer=diarizer
        )

    def result(job_id: str) -> bytes:
        return bytes(
            s3.get_object(Bucket=aws.results_bucket, Key=f"results/t1/{job_id}/result.json")["Body"].read()
        )

    assert run("ev", "enrol.wav", kind="voiceprint") == EXIT_OK
    job = store.get("ev")
    assert job.status is JobStatus.SUCCEEDED, job.error
    vp = VoiceprintResult.model_validate_json(result("ev"))
    # the engine's id for the pinned weights is the one the API expects by default
    assert decode_voiceprint(vp.voiceprint, DEFAULT_EMBEDDING_MODEL_ID).speech_s == pytest.approx(vp.speech_s)
    assert 3.0 <= vp.speech_s <= 5.0

    params = JobParams(
        voiceprints=[LabeledVoiceprint(label="enrolled", voiceprint=vp.voiceprint)],
        matching=Matching(exclusive=True, threshold=50),
    )
    assert run("ei", "meeting.wav", kind="identify", params=params) == EXIT_OK
    job = store.get("ei")
    assert job.status is JobStatus.SUCCEEDED, job.error
    ident = DiarizationResult.model_validate_json(result("ei"))
    matches = ident.channels[0].voiceprint_matches or []
    # the enrolled speaker talks in the meeting: matched, with a high score; only one speaker takes the
    # label (exclusive)
    assert [m.match for m in matches].count("enrolled") == 1, matches
    best = max(matches, key=lambda m: m.confidence["enrolled"])
    assert best.match == "enrolled" and best.confidence["enrolled"] >= 50
    assert any(t.speaker == "enrolled" for t in ident.channels[0].identification or [])
    assert [d.status for d in bus.published] == [JobStatus.SUCCEEDED, JobStatus.SUCCEEDED]
