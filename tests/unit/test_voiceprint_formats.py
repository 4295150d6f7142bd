"""The voiceprint and identification renderers give pyannoteAI's and Phonexia's shapes exactly, and the
result schema stays backward compatible (no torch)."""

from __future__ import annotations

import json

from diarist.domain.results import (
    ChannelResult,
    ChannelVoiceprint,
    DiarizationResult,
    Identification,
    IdentifiedTurn,
    SpeakerMatch,
    Turn,
    VoiceprintExtraction,
    VoiceprintResult,
)
from diarist.domain.voiceprints import ScoreMatrix
from diarist.engine import formats

# a plain diarization as the main branch's worker stores it (by alias)
STORED_V1 = {
    "version": 1,
    "duration": 4.0,
    "sampleRate": 16000,
    "numChannels": 1,
    "channelMode": "split",
    "channels": [
        {
            "channel": 0,
            "speakers": ["SPEAKER_00", "SPEAKER_01"],
            "diarization": [
                {"speaker": "SPEAKER_00", "start": 0.5, "end": 2.25, "confidence": None},
                {"speaker": "SPEAKER_01", "start": 2.0, "end": 4.0, "confidence": None},
            ],
            "exclusiveDiarization": [
                {"speaker": "SPEAKER_00", "start": 0.5, "end": 2.0, "confidence": None},
                {"speaker": "SPEAKER_01", "start": 2.0, "end": 4.0, "confidence": None},
            ],
            "confidence": None,
        }
    ],
    "model": "test",
    "warnings": [],
}


def _channel(n: int | None, names: dict[str, str | None]) -> ChannelResult:
    base = ChannelResult.model_validate({**STORED_V1["channels"][0], "channel": n})  # type: ignore[dict-item]
    return base.model_copy(
        update={
            "identification": [
                IdentifiedTurn(
                    speaker=names[t.speaker] or t.speaker,
                    start=t.start,
                    end=t.end,
                    diarization_speaker=t.speaker,
                    match=names[t.speaker],
                )
                for t in base.diarization
            ],
            "voiceprint_matches": [
                SpeakerMatch(
                    speaker="SPEAKER_00", match=names["SPEAKER_00"], confidence={"Sam": 86, "Rick": 24}
                ),
                SpeakerMatch(
                    speaker="SPEAKER_01", match=names["SPEAKER_01"], confidence={"Sam": 3, "Rick": 12}
                ),
            ],
        }
    )


def _identified(stereo: bool = False) -> DiarizationResult:
    names: dict[str, str | None] = {"SPEAKER_00": "Sam", "SPEAKER_01": None}
    plain = DiarizationResult.model_validate(STORED_V1)
    chans = (
        [_channel(0, names), _channel(1, {"SPEAKER_00": None, "SPEAKER_01": "Rick"})]
        if stereo
        else [_channel(0, names)]
    )
    return plain.model_copy(
        update={
            "channels": chans,
            "num_channels": 2 if stereo else 1,
            "identification": Identification(
                labels=["Sam", "Rick"], exclusive=True, threshold=50, embedding_model="campplus-3dspeaker-x"
            ),
        }
    )


def test_stored_v1_json_still_validates_and_serialises_unchanged() -> None:
    result = DiarizationResult.model_validate(STORED_V1)
    assert result.identification is None and result.channels[0].identification is None
    assert json.loads(result.model_dump_json(by_alias=True)) == STORED_V1  # no new keys for plain jobs
    assert "identification" not in result.model_dump()
    assert "identification" not in result.model_dump()["channels"][0]


def test_identified_result_round_trips() -> None:
    r = _identified(stereo=True)
    data = json.loads(r.model_dump_json(by_alias=True))
    assert data["identification"]["embeddingModel"] == "campplus-3dspeaker-x"
    assert data["channels"][0]["identification"][0]["diarizationSpeaker"] == "SPEAKER_00"
    assert "voiceprintMatches" in data["channels"][1]
    assert DiarizationResult.model_validate(data) == r


def test_identify_output_is_pyannoteais_shape() -> None:
    out = formats.identify_output(_identified(), exclusive=False, confidence=False, turn_confidence=False)
    assert set(out) == {"diarization", "identification", "voiceprints"}
    assert out["diarization"][0] == {"speaker": "SPEAKER_00", "start": 0.5, "end": 2.25}
    assert out["identification"] == [
        {"speaker": "Sam", "start": 0.5, "end": 2.25, "diarizationSpeaker": "SPEAKER_00", "match": "Sam"},
        {
            "speaker": "SPEAKER_01",
            "start": 2.0,
            "end": 4.0,
            "diarizationSpeaker": "SPEAKER_01",
            "match": None,
        },
    ]
    assert out["voiceprints"] == [
        {"speaker": "SPEAKER_00", "match": "Sam", "confidence": {"Sam": 86, "Rick": 24}},
        {"speaker": "SPEAKER_01", "match": None, "confidence": {"Sam": 3, "Rick": 12}},
    ]
    assert list(out["voiceprints"][0]["confidence"]) == ["Sam", "Rick"]  # the order the labels were given
    full = formats.identify_output(_identified(), exclusive=True)
    assert {"diarization", "exclusiveDiarization", "identification", "voiceprints"} <= set(full)
    assert json.loads(json.dumps(full)) == full


def test_identify_output_per_channel_and_metadata() -> None:
    out = formats.identify_output(_identified(stereo=True), metadata=True)
    assert out["identification"] == out["channels"][0]["identification"]
    assert out["channels"][1]["voiceprints"][1]["match"] == "Rick"
    assert out["channels"][1]["identification"][1]["speaker"] == "Rick"
    assert out["matching"] == {"exclusive": True, "threshold": 50} and out["embeddingModel"].startswith(
        "campplus"
    )
    assert formats.to_pyannote_dict(_identified()) == formats.identify_output(_identified(), metadata=True)
    plain = DiarizationResult.model_validate(STORED_V1)
    assert "identification" not in formats.to_pyannote_dict(plain)


def test_identified_rttm_names_the_speakers() -> None:
    r = _identified()
    r.channels[0].identification[0].speaker = "Sam Smith"  # type: ignore[index]
    lines = formats.to_rttm(r, "call.wav", identified=True).splitlines()
    assert [ln.split()[7] for ln in lines] == ["Sam_Smith", "SPEAKER_01"]
    assert all(len(ln.split()) == 10 for ln in lines)
    assert [ln.split()[7] for ln in formats.to_rttm(r, "call.wav").splitlines()] == [
        "SPEAKER_00",
        "SPEAKER_01",
    ]


def test_voiceprint_output_is_pyannoteais_shape() -> None:
    vp = VoiceprintResult(
        voiceprint="RFZQUg==",
        embedding_model="m",
        speaker="SPEAKER_00",
        speech_s=12.3,
        num_speakers=1,
        duration=20.0,
        model="test",
    )
    assert formats.voiceprint_output(vp) == {"voiceprint": "RFZQUg=="}
    two = vp.model_copy(update={"warnings": ["2 speakers found", "short"]})
    assert formats.voiceprint_output(two) == {"voiceprint": "RFZQUg==", "warning": "2 speakers found; short"}
    assert VoiceprintResult.model_validate_json(vp.model_dump_json(by_alias=True)) == vp


def test_phonexia_extraction_and_comparison_shapes() -> None:
    ex = VoiceprintExtraction(
        duration=60.0,
        num_channels=2,
        channel_mode="split",
        channels=[
            ChannelVoiceprint(
                channel=0, voiceprint="AAAA", speech_s=21.456, speaker="SPEAKER_00", num_speakers=1
            ),
            ChannelVoiceprint(
                channel=1, voiceprint="BBBB", speech_s=3.0, speaker="SPEAKER_01", num_speakers=2
            ),
        ],
        embedding_model="campplus-3dspeaker-x",
        model="test",
    )
    assert formats.phonexia_voiceprints(ex) == {
        "channels": [
            {
                "channel_number": 0,
                "voiceprint": "AAAA",
                "speech_length": 21.46,
                "model": "campplus-3dspeaker-x",
            },
            {
                "channel_number": 1,
                "voiceprint": "BBBB",
                "speech_length": 3.0,
                "model": "campplus-3dspeaker-x",
            },
        ]
    }
    mix = ex.model_copy(update={"channels": [ex.channels[0].model_copy(update={"channel": None})]})
    assert formats.phonexia_voiceprints(mix)["channels"][0]["channel_number"] == 0
    m = ScoreMatrix(columns_count=3, rows_count=2, values=[3.0, 1.0, 2.0, 8.0, 2.0, -6.0])
    assert formats.phonexia_comparison(m) == {
        "scores": {"columns_count": 3, "rows_count": 2, "values": [3.0, 1.0, 2.0, 8.0, 2.0, -6.0]}
    }


def test_turn_type_unchanged() -> None:
    """Identification adds nothing to a turn; the per-speaker turn confidence is the one addition,
    and it is left out of the JSON when unset (stored turns read back unchanged)."""
    assert set(Turn.model_fields) == {"speaker", "start", "end", "confidence", "speaker_confidence"}
    assert Turn(speaker="SPEAKER_00", start=0, end=1).model_dump(by_alias=True) == {
        "speaker": "SPEAKER_00",
        "start": 0,
        "end": 1,
        "confidence": None,
    }
