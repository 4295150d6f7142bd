"""The webhook body's ``output`` of a voiceprint or identify job is the same rendering as
``GET /v1/jobs/{id}`` (``services.reading.render_pyannote_output``): in-memory objects, no network."""

from __future__ import annotations

import json
from typing import Any

from diarist.domain.jobs import Job, JobParams, JobStatus, LabeledVoiceprint, Matching
from diarist.domain.model_choice import DEFAULT_EMBEDDING_MODEL_ID
from diarist.domain.results import (
    ChannelResult,
    DiarizationResult,
    Identification,
    IdentifiedTurn,
    SpeakerMatch,
    Turn,
    VoiceprintResult,
)
from diarist.domain.voiceprints import encode_voiceprint
from diarist.services.reading import render_pyannote_output
from diarist.services.webhooks import WebhookService

VP = encode_voiceprint(DEFAULT_EMBEDDING_MODEL_ID, [1.0, 2.0, 3.0] * 64)


class Objects:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def get_bytes(self, bucket: str, key: str) -> bytes:
        assert (bucket, key) == ("results", "r/result.json")
        return self.data


def _payload(job: Job, result: Any) -> dict[str, Any]:
    objects = Objects(result.model_dump_json(by_alias=True).encode())
    service = WebhookService(jobs=None, ledger=None, objects=objects, secrets=None, retries=None)  # type: ignore[arg-type]
    return json.loads(service.payload(job))


def _job(**kw: Any) -> Job:
    return Job(
        job_id="j1",
        tenant_id="t1",
        status=JobStatus.SUCCEEDED,
        input_url="s3://media/a.wav",
        result_location="s3://results/r/result.json",
        **kw,
    )


def test_a_voiceprint_jobs_webhook_carries_the_voiceprint() -> None:
    result = VoiceprintResult(
        voiceprint=VP,
        embedding_model=DEFAULT_EMBEDDING_MODEL_ID,
        speaker="SPEAKER_00",
        speech_s=9.0,
        num_speakers=1,
        duration=10.0,
        model="m",
    )
    job = _job(kind="voiceprint")
    body = _payload(job, result)
    assert body == {"jobId": "j1", "status": "succeeded", "output": {"voiceprint": VP}}
    assert body["output"] == render_pyannote_output(job, result)


def test_an_identify_jobs_webhook_carries_the_identification() -> None:
    turns = [Turn(speaker="SPEAKER_00", start=0.0, end=2.0)]
    result = DiarizationResult(
        duration=2.0,
        sample_rate=16000,
        num_channels=1,
        channel_mode="mix",
        channels=[
            ChannelResult(
                channel=None,
                speakers=["SPEAKER_00"],
                diarization=turns,
                exclusive_diarization=turns,
                identification=[
                    IdentifiedTurn(
                        speaker="ann", start=0.0, end=2.0, diarization_speaker="SPEAKER_00", match="ann"
                    )
                ],
                voiceprint_matches=[SpeakerMatch(speaker="SPEAKER_00", match="ann", confidence={"ann": 88})],
            )
        ],
        model="m",
        identification=Identification(
            labels=["ann"], exclusive=True, threshold=0, embedding_model=DEFAULT_EMBEDDING_MODEL_ID
        ),
    )
    params = JobParams(
        exclusive=True, voiceprints=[LabeledVoiceprint(label="ann", voiceprint=VP)], matching=Matching()
    )
    job = _job(kind="identify", params=params)
    output = _payload(job, result)["output"]
    assert output == render_pyannote_output(job, result)
    assert output["identification"] == [
        {"speaker": "ann", "start": 0.0, "end": 2.0, "diarizationSpeaker": "SPEAKER_00", "match": "ann"}
    ]
    assert output["voiceprints"] == [{"speaker": "SPEAKER_00", "match": "ann", "confidence": {"ann": 88}}]
    assert output["exclusiveDiarization"] == [{"speaker": "SPEAKER_00", "start": 0.0, "end": 2.0}]


def test_a_transcribed_diarizations_webhook_carries_the_transcription() -> None:
    from diarist.domain.transcription import TranscriptionParams
    from diarist.testing.fake_engine import FakeJobDiarizer

    params = JobParams(transcription=TranscriptionParams())
    result = FakeJobDiarizer(turn_s=2.0).result(4.0, 16000, 1, params)
    job = _job(kind="diarize", params=params)
    body = _payload(job, result)
    output = body["output"]
    assert output == render_pyannote_output(job, result)
    assert [t["text"] for t in output["turnLevelTranscription"]] == ["this is speaker 0", "this is speaker 1"]
    assert len(output["wordLevelTranscription"]) == 8
    assert {"start", "end", "text", "speaker"} == set(output["wordLevelTranscription"][0])
