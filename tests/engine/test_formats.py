"""Renderers are pure functions of DiarizationResult: no torch, no engine."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest

from diarist.domain.results import ChannelResult, Confidence, DiarizationResult, Turn
from diarist.engine import formats


def _result(stereo: bool = False, confidence: bool = True) -> DiarizationResult:
    def ch(n: int | None, offset: float) -> ChannelResult:
        turns = [
            Turn(
                speaker="SPEAKER_00",
                start=0.5 + offset,
                end=2.25 + offset,
                confidence=90.0 if confidence else None,
            ),
            Turn(speaker="SPEAKER_01", start=2.0 + offset, end=4.0, confidence=75.5 if confidence else None),
        ]
        excl = [
            Turn(speaker="SPEAKER_00", start=0.5 + offset, end=2.0 + offset),
            Turn(speaker="SPEAKER_01", start=2.0 + offset, end=4.0),
        ]
        return ChannelResult(
            channel=n,
            speakers=["SPEAKER_00", "SPEAKER_01"],
            diarization=turns,
            exclusive_diarization=excl,
            confidence=Confidence(score=[100, 50, 0]) if confidence else None,
        )

    chans = [ch(0, 0.0), ch(1, 0.125)] if stereo else [ch(None, 0.0)]
    return DiarizationResult(
        duration=4.0,
        sample_rate=16000,
        num_channels=2 if stereo else 1,
        channel_mode="split" if stereo else "mix",
        channels=chans,
        model="test",
    )


def test_formats_module_does_not_import_torch() -> None:
    import importlib

    importlib.reload(formats)
    assert "torch" not in formats.__dict__
    src = Path(formats.__file__).read_text()
    assert "import torch" not in src and "from pyannote" not in src and "import pyannote" not in src


def test_pyannote_json_shape_mono() -> None:
    d = json.loads(formats.to_pyannote_json(_result()))
    assert d["diarization"][0] == {"speaker": "SPEAKER_00", "start": 0.5, "end": 2.25, "confidence": 90.0}
    assert [t["speaker"] for t in d["exclusiveDiarization"]] == ["SPEAKER_00", "SPEAKER_01"]
    assert d["exclusiveDiarization"][0]["end"] == 2.0
    assert d["confidence"] == {"score": [100, 50, 0], "resolution": 0.02}
    assert d["duration"] == 4.0 and d["channelMode"] == "mix"


def test_pyannote_json_per_channel() -> None:
    d = json.loads(formats.to_pyannote_json(_result(stereo=True)))
    assert [c["channel"] for c in d["channels"]] == [0, 1]
    assert d["channels"][1]["diarization"][0]["start"] == 0.625
    # pyannoteAI clients read the top level: the first channel is there too
    assert d["diarization"] == d["channels"][0]["diarization"]


def test_pyannote_json_without_confidence() -> None:
    d = json.loads(formats.to_pyannote_json(_result(confidence=False)))
    assert "confidence" not in d and "confidence" not in d["diarization"][0]


def test_phonexia_shape() -> None:
    d = formats.to_phonexia_dict(_result(stereo=True))
    assert [c["channel_number"] for c in d["channels"]] == [0, 1]
    assert d["channels"][0]["speakers_count"] == 2
    assert d["channels"][0]["segments"][1] == {"speaker_id": 1, "start_time": 2.0, "end_time": 4.0}
    assert all(isinstance(s["speaker_id"], int) for c in d["channels"] for s in c["segments"])


def test_rttm_lines() -> None:
    text = formats.to_rttm(_result(stereo=True), file_id="/data/my call.wav")
    lines = text.splitlines()
    assert len(lines) == 4
    assert lines[0] == "SPEAKER my_call 1 0.500 1.750 <NA> <NA> SPEAKER_00 <NA> <NA>"
    assert lines[2].split()[2] == "2" and lines[2].split()[3] == "0.625"
    for line in lines:
        assert len(line.split()) == 10


def test_rttm_mix_uses_channel_1_and_exclusive_option() -> None:
    text = formats.to_rttm(_result(), file_id="x.mp3", exclusive=True)
    assert {ln.split()[2] for ln in text.splitlines()} == {"1"}
    assert text.splitlines()[0].split()[4] == "1.500"


def test_csv() -> None:
    rows = list(csv.DictReader(io.StringIO(formats.to_csv(_result(stereo=True)))))
    assert len(rows) == 4
    assert rows[0] == {
        "channel": "0",
        "speaker": "SPEAKER_00",
        "start": "0.500",
        "end": "2.250",
        "duration": "1.750",
        "confidence": "90.0",
    }
    assert rows[-1]["channel"] == "1"
    mono = list(csv.DictReader(io.StringIO(formats.to_csv(_result(confidence=False)))))
    assert mono[0]["channel"] == "mix" and "confidence" not in mono[0]


def test_render_dispatch_and_unknown() -> None:
    r = _result()
    assert formats.render(r, "rttm", "a.wav") == formats.to_rttm(r, "a.wav")
    assert json.loads(formats.render(r, "phonexia"))["channels"][0]["channel_number"] == 0
    with pytest.raises(ValueError):
        formats.render(r, "xml")


def test_no_torch_imported_by_formats_alone() -> None:
    import subprocess

    code = "import sys, diarist.engine.formats, diarist.engine; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_pyannote_output_follows_the_jobs_options() -> None:
    bare = formats.pyannote_output(_result(), exclusive=False, confidence=False, turn_confidence=False)
    assert set(bare) == {"diarization"}
    assert bare["diarization"][0] == {"speaker": "SPEAKER_00", "start": 0.5, "end": 2.25}
    full = formats.pyannote_output(_result())
    assert {"diarization", "exclusiveDiarization", "confidence"} <= set(full) and "model" not in full


def test_turn_level_confidence_is_a_map_per_speaker() -> None:
    """pyannoteAI's per-turn shape; a result stored before the map keeps its number."""
    result = _result()
    turn = result.channels[0].diarization[0]
    with_map = turn.model_copy(update={"speaker_confidence": {"SPEAKER_00": 93, "SPEAKER_01": 16}})
    channel = result.channels[0].model_copy(update={"diarization": [with_map]})
    out = formats.pyannote_output(result.model_copy(update={"channels": [channel]}))
    assert out["diarization"][0]["confidence"] == {"SPEAKER_00": 93, "SPEAKER_01": 16}
    assert "speakerConfidence" not in turn.model_dump(by_alias=True)  # unset: left out of stored JSON
    old = formats.pyannote_output(_result(confidence=True))["diarization"]
    assert any(isinstance(t.get("confidence"), float) for t in old)
