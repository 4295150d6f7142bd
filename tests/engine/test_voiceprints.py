"""Voiceprints and identification with the real engine (CPU, real weights; see conftest.py).

Enrolment excerpts are cut from one simulated conversation's reference turns into tmp files; the
identification runs on another conversation with the same speakers (audio that recurs across the
simulated files is kept out of the excerpts, see benchmarks/_speakers.py).
"""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest

from diarist.domain.errors import AudioInputError, ErrorCode, VoiceprintInvalid, VoiceprintModelMismatch
from diarist.domain.results import VoiceprintResult
from diarist.domain.voiceprints import compare_voiceprints, decode_voiceprint, encode_voiceprint
from diarist.engine import DiarizeOptions

from .conftest import DEV_SET

pytestmark = pytest.mark.engine

SIM = DEV_SET / "simulated"


def _excerpt(dest: Path, wav: Path, channel: int, speaker: str, until: float, length: float = 29.0) -> Path:
    """``speaker``'s reference turns of ``channel`` (1-based) before ``until`` s, back to back, into a
    mono 16 kHz wav of ``length`` s (padded with faint noise)."""
    import soundfile as sf

    if not wav.is_file():
        pytest.skip(f"dev set not found at {DEV_SET}")
    audio, sr = sf.read(str(wav), dtype="float32", always_2d=True)
    parts = []
    for line in wav.with_suffix(".rttm").read_text().splitlines():
        p = line.split()
        start, dur = float(p[3]), float(p[4])
        if int(p[2]) == channel and p[7] == speaker and start + dur <= until:
            parts.append(audio[int(start * sr) : int((start + dur) * sr), channel - 1])
    x = np.concatenate(parts)[: int(length * sr)]
    noise = (np.random.default_rng(0).standard_normal(int(length * sr) - len(x)) * 3e-4).astype(np.float32)
    sf.write(str(dest), np.concatenate([x, noise]), sr, subtype="PCM_16")
    return dest


@pytest.fixture(scope="module")
def excerpts(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("excerpts")
    return {
        # LS2033 alone on channel 2; its turns after 45 s recur in sim_dev_3spk_overlap: left out
        "LS2033": _excerpt(d / "ls2033.wav", SIM / "sim_dev_stereo_1plus1.wav", 2, "LS2033", 45.0, 30.2),
        "LS3080": _excerpt(d / "ls3080.wav", SIM / "sim_dev_stereo_1plus2.wav", 1, "LS3080", 90.0),
        "LS1998": _excerpt(d / "ls1998.wav", SIM / "sim_dev_stereo_1plus1.wav", 1, "LS1998", 90.0),
    }


@pytest.fixture(scope="module")
def voiceprints(engine, excerpts) -> dict[str, VoiceprintResult]:
    return {name: engine.voiceprint(path) for name, path in excerpts.items()}


def test_voiceprint_of_one_speaker_round_trips(engine, voiceprints) -> None:
    vp = voiceprints["LS2033"]  # 30.2 s of audio: within the limit's grace for encoder padding
    assert vp.num_speakers == 1 and vp.speaker == "SPEAKER_00" and not vp.warnings
    assert 20.0 < vp.speech_s <= 30.2 and 30.0 <= vp.duration <= 30.3
    assert vp.embedding_model == engine.embedding_model_id
    assert (
        engine.embedding_model_id.startswith("campplus-3dspeaker-") and len(engine.embedding_model_id) == 31
    )
    decoded = decode_voiceprint(vp.voiceprint, engine.embedding_model_id)
    assert decoded.dim == 192 and decoded.speech_s == pytest.approx(vp.speech_s, abs=1e-3)
    assert decoded.to_base64() == vp.voiceprint and len(vp.voiceprint) < 20_000
    # one speaker, other recordings: the same speaker's voiceprints are far closer than anyone else's
    others = (
        decode_voiceprint(voiceprints["LS3080"].voiceprint),
        decode_voiceprint(voiceprints["LS1998"].voiceprint),
    )
    assert all(decoded.cosine(o) < 0.4 for o in others)


def test_identify_names_the_main_speakers(engine, voiceprints) -> None:
    """sim_dev_3spk_overlap: LS2033 and LS3080 enrolled from other recordings, LS1998 is absent and
    LS367 is not enrolled: the two enrolled speakers are named, nobody takes the absent one's name."""
    wav = SIM / "sim_dev_3spk_overlap.wav"
    labels = {name: vp.voiceprint for name, vp in voiceprints.items()}
    result = engine.identify(wav, labels, DiarizeOptions(confidence=False))
    ch = result.channels[0]
    assert result.identification is not None and result.identification.labels == [
        "LS2033",
        "LS3080",
        "LS1998",
    ]
    matches = {m.speaker: m for m in ch.voiceprint_matches or []}
    assert set(matches) == set(ch.speakers)
    named = {m.match: s for s, m in matches.items() if m.match}
    assert set(named) == {"LS2033", "LS3080"}, matches
    assert all(m.confidence["LS1998"] < 50 for m in matches.values())
    # each name sits on its reference speaker's speech
    ref = [ln.split() for ln in wav.with_suffix(".rttm").read_text().splitlines()]
    for name in ("LS2033", "LS3080"):
        turns = [t for t in ch.identification or [] if t.match == name]
        assert turns and all(t.speaker == name and t.diarization_speaker == named[name] for t in turns)
        mine = [(float(p[3]), float(p[3]) + float(p[4])) for p in ref if p[7] == name]
        covered = sum(max(0.0, min(t.end, e) - max(t.start, s)) for t in turns for s, e in mine)
        assert covered / sum(t.end - t.start for t in turns) > 0.8, name
    unmatched = [t for t in ch.identification or [] if t.match is None]
    assert all(t.speaker == t.diarization_speaker for t in unmatched)


def _wav(path: Path, seconds: float) -> Path:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * 16000)) / 16000
    x = 0.1 * np.sin(2 * np.pi * 220 * t) + 0.002 * rng.standard_normal(len(t))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes((x * 32767).astype("<i2").tobytes())
    return path


def test_a_five_minute_input_is_refused_for_a_voiceprint(engine, tmp_path: Path, monkeypatch) -> None:
    long = _wav(tmp_path / "long.wav", 300.0)
    with pytest.raises(AudioInputError) as exc:
        engine.voiceprint(long)
    assert exc.value.code == ErrorCode.INPUT_TOO_LONG_FOR_VOICEPRINT and "30 s" in exc.value.message
    # a container that declares no duration: refused while decoding, at the limit
    from dataclasses import replace

    from diarist.engine import voiceprints as engine_voiceprints

    real_probe = engine_voiceprints.probe
    monkeypatch.setattr(engine_voiceprints, "probe", lambda *a: replace(real_probe(*a), duration=None))
    with pytest.raises(AudioInputError) as exc:
        engine.voiceprint(long)
    assert exc.value.code == ErrorCode.INPUT_TOO_LONG_FOR_VOICEPRINT


def test_no_speech_is_refused(engine, tmp_path: Path) -> None:
    p = tmp_path / "noise.wav"
    noise = (np.random.default_rng(1).standard_normal(16000 * 8) * 0.002 * 32767).astype("<i2")
    with wave.open(str(p), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(noise.tobytes())
    with pytest.raises(AudioInputError) as exc:
        engine.voiceprint(p)
    assert exc.value.code == ErrorCode.INPUT_NO_SPEECH and "speech" in exc.value.message


def test_bad_voiceprints_are_refused_before_any_audio_is_read(engine, tmp_path: Path) -> None:
    missing = tmp_path / "never-read.wav"  # a VoiceprintError, not input_unreachable: checked first
    other = encode_voiceprint("campplus-3dspeaker-000000000000", [1.0] * 192)
    with pytest.raises(VoiceprintModelMismatch) as exc:
        engine.identify(missing, {"Sam": other})
    assert exc.value.code == ErrorCode.VOICEPRINT_MODEL_MISMATCH
    assert (
        "campplus-3dspeaker-000000000000" in exc.value.message
        and exc.value.field == "voiceprints[0].voiceprint"
    )
    good = encode_voiceprint(engine.embedding_model_id, [1.0] * 192)
    with pytest.raises(VoiceprintInvalid) as exc2:
        engine.identify(missing, {"Sam": good, "Rick": "bm90IGEgdm9pY2VwcmludA=="})
    assert exc2.value.code == ErrorCode.VOICEPRINT_INVALID and exc2.value.field == "voiceprints[1].voiceprint"
    with pytest.raises(ValueError, match="SPEAKER_"):
        engine.identify(missing, {"SPEAKER_00": good})


def test_phonexia_extraction_one_voiceprint_per_channel(engine) -> None:
    stereo = DEV_SET / "fasterwhisper_stereo_5s.wav"
    if not stereo.is_file():
        pytest.skip(f"dev set not found at {DEV_SET}")
    ex = engine.extract_voiceprints(stereo)
    assert [c.channel for c in ex.channels] == [0, 1] and ex.embedding_model == engine.embedding_model_id
    assert all(c.speech_s >= 1.0 and c.num_speakers == 1 for c in ex.channels)
    prints = [c.voiceprint for c in ex.channels]
    m = compare_voiceprints(prints, prints, engine.embedding_model_id)
    assert (m.rows_count, m.columns_count) == (2, 2)
    assert m.values[0] > 0 and m.values[3] > 0 and m.values[1] < 0 and m.values[1] == m.values[2]


def test_cli_voiceprint_then_identify(engine, excerpts, tmp_path: Path, monkeypatch, capsys) -> None:
    from diarist.cli import main

    monkeypatch.setenv("DIARIST_MODEL_DIR", str(engine.settings.model_dir))
    vp_file = tmp_path / "ls3080.vp"
    assert main(["voiceprint", str(excerpts["LS3080"]), "-o", str(vp_file), "-q"]) == 0
    decode_voiceprint(vp_file.read_text(), engine.embedding_model_id)
    out = tmp_path / "out.json"
    argv = ["identify", str(excerpts["LS2033"]), "-v", f"Ann={excerpts['LS2033']}", "-v", f"Bob={vp_file}"]
    assert main([*argv, "-o", str(out), "-q"]) == 0  # Ann from audio, Bob from a voiceprint file
    data = json.loads(out.read_text())
    assert [v["match"] for v in data["voiceprints"]] == ["Ann"]
    assert data["voiceprints"][0]["confidence"]["Ann"] > 90 > data["voiceprints"][0]["confidence"]["Bob"]
    assert {t["speaker"] for t in data["identification"]} == {"Ann"}
    assert main([*argv, "--format", "rttm", "-q", "-o", str(tmp_path / "o.rttm")]) == 0
    assert {ln.split()[7] for ln in (tmp_path / "o.rttm").read_text().splitlines()} == {"Ann"}
    bad = tmp_path / "bad.vp"
    bad.write_text("bm90IGEgdm9pY2VwcmludA==\n")
    capsys.readouterr()
    assert main(["identify", str(excerpts["LS2033"]), "-v", f"Ann={bad}", "-q"]) == 3
    assert "voiceprint_invalid" in capsys.readouterr().err
    assert main(["identify", str(excerpts["LS2033"]), "-v", f"SPEAKER_01={vp_file}", "-q"]) == 2
