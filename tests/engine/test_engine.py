"""The real engine on CPU with the real weights (loaded once per session, see conftest.py)."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import numpy as np
import pytest

from diarist.domain.errors import AudioInputError, ErrorCode
from diarist.domain.results import DiarizationResult
from diarist.engine import DiarizeOptions
from diarist.engine.formats import pyannote_output, render, to_phonexia_dict
from diarist.engine.options import InputLimits

from .conftest import DEV_SET, load_rttm, to_annotation

pytestmark = pytest.mark.engine

STEREO = DEV_SET / "fasterwhisper_stereo_5s.wav"


@pytest.fixture(scope="module")
def sample_run(engine, sample) -> tuple[DiarizationResult, list[float]]:
    wav, _ = sample
    seen: list[float] = []
    result = engine.diarize(wav, DiarizeOptions(confidence=True), progress=seen.append)
    return result, seen


@pytest.fixture(scope="module")
def sample_result(sample_run) -> DiarizationResult:
    return sample_run[0]


def _der(reference, hypothesis, duration: float, collar: float = 0.0) -> float:
    from pyannote.core import Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    return float(
        DiarizationErrorRate(collar=collar)(reference, hypothesis, uem=Timeline([Segment(0, duration)]))
    )


def test_two_speaker_sample_der_below_10_percent(sample_result: DiarizationResult, sample) -> None:
    _, rttm = sample
    ch = sample_result.channels[0]
    assert ch.channel == 0 and sample_result.num_channels == 1 and sample_result.channel_mode == "split"
    assert ch.speakers == ["SPEAKER_00", "SPEAKER_01"]
    der = _der(load_rttm(rttm), to_annotation(ch.diarization), sample_result.duration)
    assert der < 0.10, f"DER {der:.3f}"


def test_labels_by_first_appearance_and_sorted_turns(sample_result: DiarizationResult) -> None:
    turns = sample_result.channels[0].diarization
    assert turns == sorted(turns, key=lambda t: (t.start, t.end, t.speaker))
    first = {}
    for t in turns:
        first.setdefault(t.speaker, t.start)
    assert list(first) == sorted(first)
    assert all(0 <= t.start < t.end <= sample_result.duration + 1e-6 for t in turns)


def test_exclusive_has_no_overlap(sample_result: DiarizationResult) -> None:
    ch = sample_result.channels[0]
    excl = sorted(ch.exclusive_diarization, key=lambda t: t.start)
    assert excl
    for a, b in zip(excl, excl[1:], strict=False):
        assert a.end <= b.start + 1e-6, (a, b)
    overlap_in_full = any(
        a.end > b.start + 0.05 for a, b in zip(ch.diarization, ch.diarization[1:], strict=False)
    )
    assert overlap_in_full, "the overlap-aware output should contain the sample's overlapping speech"
    total = sum(t.end - t.start for t in excl)
    assert total > 15.0


def test_confidence_every_20ms_in_range(sample_result: DiarizationResult) -> None:
    conf = sample_result.channels[0].confidence
    assert conf is not None and conf.resolution == 0.02
    assert len(conf.score) == math.ceil(sample_result.duration / 0.02 - 1e-9) == 1500
    scores = np.array(conf.score)
    assert scores.min() >= 0 and scores.max() <= 100
    assert scores.std() > 1  # not a constant
    # confident overall on this clean recording; less confident near speaker changes than inside turns
    assert np.median(scores) >= 70
    turn_conf = [t.confidence for t in sample_result.channels[0].diarization]
    assert all(c is not None and 0 <= c <= 100 for c in turn_conf)


def test_progress_is_monotonic_and_complete(sample_run) -> None:
    seen = sample_run[1]
    assert seen[0] == 0.0 and seen[-1] == 100.0 and len(seen) >= 3
    assert all(b >= a for a, b in zip(seen, seen[1:], strict=False))


@pytest.mark.parametrize("n", [1, 3])
def test_forced_speaker_count(engine, sample, n: int) -> None:
    result = engine.diarize(sample[0], DiarizeOptions(num_speakers=n, confidence=False))
    ch = result.channels[0]
    assert len(ch.speakers) == n
    assert {t.speaker for t in ch.diarization} == set(ch.speakers)
    assert ch.confidence is None and all(t.confidence is None for t in ch.diarization)


def test_min_max_speakers(engine, sample) -> None:
    result = engine.diarize(sample[0], DiarizeOptions(min_speakers=3, max_speakers=4, confidence=False))
    assert 3 <= len(result.channels[0].speakers) <= 4
    result = engine.diarize(sample[0], DiarizeOptions(max_speakers=1, confidence=False))
    assert len(result.channels[0].speakers) == 1


def test_stereo_split_per_channel(engine) -> None:
    if not STEREO.is_file():
        pytest.skip(f"stereo dev file not found at {STEREO} (needs <repo>/../shared/data/diarization-dev)")
    result = engine.diarize(STEREO, DiarizeOptions(channel_mode="split"))
    assert result.num_channels == 2 and [c.channel for c in result.channels] == [0, 1]
    for ch in result.channels:
        ref = load_rttm(STEREO.with_suffix(".rttm"), channel=ch.channel + 1)
        assert len(ch.speakers) == 1
        assert _der(ref, to_annotation(ch.diarization), result.duration, collar=0.5) < 0.25
        assert len(ch.confidence.score) == 250
    rttm = render(result, "rttm", "fasterwhisper_stereo_5s.wav").splitlines()
    assert {ln.split()[2] for ln in rttm} == {"1", "2"}
    ph = to_phonexia_dict(result)
    assert [c["channel_number"] for c in ph["channels"]] == [0, 1]
    assert all(c["speakers_count"] == 1 and c["segments"] for c in ph["channels"])


def test_stereo_mix(engine) -> None:
    if not STEREO.is_file():
        pytest.skip(f"stereo dev file not found at {STEREO}")
    result = engine.diarize(STEREO, DiarizeOptions(channel_mode="mix", confidence=False))
    assert result.channel_mode == "mix" and len(result.channels) == 1 and result.channels[0].channel is None
    assert 1 <= len(result.channels[0].speakers) <= 2


def test_compressed_and_video_inputs(engine, sample, ffmpeg, tmp_path: Path) -> None:
    """mp3 and the audio track of a video give the same speakers as the wav."""
    wav = sample[0]
    mp3 = tmp_path / "sample.mp3"
    subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-y",
            "-i",
            str(wav),
            "-t",
            "20",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "64k",
            str(mp3),
        ],
        check=True,
    )
    mp4 = tmp_path / "sample.mp4"
    subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "color=c=black:s=64x64:d=20",
            "-i",
            str(wav),
            "-t",
            "20",
            "-shortest",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            str(mp4),
        ],
        check=True,
    )
    for f in (mp3, mp4):
        result = engine.diarize(f, DiarizeOptions(confidence=False))
        assert 19.5 <= result.duration <= 20.5, f
        assert len(result.channels[0].speakers) == 2, f


def test_engine_reports_coded_input_errors(engine, tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio at all\n" * 20)
    with pytest.raises(AudioInputError) as exc:
        engine.diarize(bad)
    assert exc.value.code == ErrorCode.INPUT_UNSUPPORTED
    silent = tmp_path / "silent.wav"
    import wave

    with wave.open(str(silent), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\0" * 16000 * 2)
    with pytest.raises(AudioInputError) as exc:
        engine.diarize(silent)
    assert exc.value.code == ErrorCode.INPUT_SILENT


def test_duration_limit_via_engine(engine, sample) -> None:
    with pytest.raises(AudioInputError) as exc:
        engine.diarize(sample[0], limits=InputLimits(max_duration_s=10))
    assert exc.value.code == ErrorCode.INPUT_TOO_LONG


def test_noise_without_speech_gives_empty_result_with_warning(engine, tmp_path: Path) -> None:
    import wave

    rng = np.random.default_rng(0)
    noise = (rng.standard_normal(16000 * 12) * 0.002 * 32767).astype("<i2")
    p = tmp_path / "noise.wav"
    with wave.open(str(p), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(noise.tobytes())
    result = engine.diarize(p)
    assert result.channels[0].diarization == [] and result.channels[0].speakers == []
    assert any("no speech" in w for w in result.warnings)
    assert len(result.channels[0].confidence.score) == 600


def test_result_round_trips_and_renders(sample_result: DiarizationResult) -> None:
    data = json.loads(sample_result.model_dump_json(by_alias=True))
    again = DiarizationResult.model_validate(data)
    assert again == sample_result
    out = json.loads(render(sample_result, "json"))
    assert {"diarization", "exclusiveDiarization", "confidence"} <= set(out)
    assert len(out["confidence"]["score"]) == 1500


def test_cli_diarize_rttm(engine, sample, tmp_path: Path, monkeypatch, capsys) -> None:
    """The CLI handler end to end (in-process, so the loaded engine's weights are reused from disk)."""
    from diarist.cli import main

    monkeypatch.setenv("DIARIST_MODEL_DIR", str(engine.settings.model_dir))
    out = tmp_path / "out.rttm"
    rc = main(["diarize", str(sample[0]), "--num-speakers", "2", "--format", "rttm", "-o", str(out), "-q"])
    assert rc == 0
    lines = out.read_text().splitlines()
    assert lines and all(ln.startswith("SPEAKER sample 1 ") for ln in lines)
    assert {ln.split()[7] for ln in lines} == {"SPEAKER_00", "SPEAKER_01"}
    rc = main(["diarize", str(tmp_path / "missing.wav"), "-q"])
    assert rc == 3
    assert "input_unreachable" in capsys.readouterr().err


def test_turn_confidence_covers_every_speaker(sample_result: DiarizationResult) -> None:
    """pyannoteAI's per-turn ``confidence: {SPEAKER_xx: 0-100}``: every speaker of the channel,
    the turn's own speaker agreeing with the turn's scalar confidence and, outside overlaps,
    ahead of the others."""
    channel = sample_result.channels[0]
    assert len(channel.speakers) >= 2
    own_first = 0
    for turn in channel.diarization:
        per = turn.speaker_confidence
        assert per is not None and set(per) == set(channel.speakers)
        assert all(0 <= v <= 100 for v in per.values())
        assert turn.confidence is not None and abs(per[turn.speaker] - turn.confidence) <= 0.5
        own_first += per[turn.speaker] == max(per.values())
    assert own_first >= 0.8 * len(channel.diarization)
    rendered = pyannote_output(sample_result)["diarization"][0]["confidence"]
    assert rendered == channel.diarization[0].speaker_confidence
