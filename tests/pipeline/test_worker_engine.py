"""The worker with the real engine (CPU, real weights) on 12 s of a dev clip. Marker: engine (slow).

The job asks for two speakers: left to itself the engine finds one in this clip, so two in the result
show that the job's speaker count reached the engine.
"""

from __future__ import annotations

import pytest

from diarist.adapters.aws import client
from diarist.domain.jobs import JobParams, JobStatus
from diarist.domain.results import DiarizationResult
from diarist.settings import WorkerSettings, load
from diarist.worker.main import EXIT_OK, run_worker
from tests.pipeline.conftest import make_job

pytestmark = [pytest.mark.engine, pytest.mark.integration]


def test_worker_with_the_real_engine(aws, store, bus, shared_data, tmp_path) -> None:
    from diarist.engine import EngineSettings, EngineSetupError

    try:
        EngineSettings().check()
    except EngineSetupError as e:
        pytest.skip(str(e))
    import soundfile

    from diarist.engine import load_engine
    from diarist.worker.diarizer import EngineJobDiarizer

    audio, rate = soundfile.read(str(shared_data / "ami_EN2001a_0000s_30s.wav"))
    clip = tmp_path / "ami-12s.wav"
    soundfile.write(str(clip), audio[: 12 * rate], rate)  # 12 s keep this test short
    client("s3").upload_file(str(clip), aws.media_bucket, "media/t1/ami.wav")
    store.create(
        make_job(
            "e1", input_url=f"s3://{aws.media_bucket}/media/t1/ami.wav", params=JobParams(num_speakers=2)
        )
    )
    code = run_worker(
        "e1",
        "t1",
        settings=load(WorkerSettings),
        store=store,
        events=bus,
        diarizer=EngineJobDiarizer(load_engine(EngineSettings(device="cpu"))),
    )
    assert code == EXIT_OK
    job = store.get("e1")
    assert job.status is JobStatus.SUCCEEDED, job.error
    body = client("s3").get_object(Bucket=aws.results_bucket, Key="results/t1/e1/result.json")["Body"].read()
    result = DiarizationResult.model_validate_json(body)
    assert 11.5 < result.duration <= 12.5 and result.channels[0].speakers
    assert [ch.speakers for ch in result.channels] == [["SPEAKER_00", "SPEAKER_01"]]
    assert bus.published[0].status is JobStatus.SUCCEEDED
