"""Transcription with the real engine (faster-whisper base, CPU, offline weights): a real AMI
recording gives the expected words with their speakers; chunking keeps word times; stereo is
transcribed per channel."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from diarist.domain.results import DiarizationResult
from diarist.engine import DiarizeOptions
from diarist.engine.transcription import cut_points
from tests.engine.conftest import DEV_SET

pytestmark = pytest.mark.engine

AMI = DEV_SET / "ami_EN2001a_0000s_30s.wav"
# what is said in it (AMI's manual transcript words that base gets right): a reference-free check
EXPECTED = {"feedback", "specification", "yesterday", "duplication", "effort"}


def _words(result: DiarizationResult, channel: int = 0) -> list[str]:
    return [
        re.sub(r"[^\w']", "", w.text.lower()) for w in result.channels[channel].word_level_transcription or []
    ]


@pytest.fixture(scope="module")
def ami(engine, ffmpeg) -> DiarizationResult:
    if not AMI.is_file():
        pytest.skip(f"dev set not found: {AMI}")
    try:
        engine.transcriber()
    except Exception as e:  # EngineSetupError: weights not fetched
        pytest.skip(f"transcription weights missing: {e}")
    return engine.diarize(AMI, DiarizeOptions(transcribe=True, confidence=False))


def test_a_real_recording_gives_the_expected_words_with_speakers(ami: DiarizationResult) -> None:
    words = _words(ami)
    assert set(words) >= EXPECTED, words
    ch = ami.channels[0]
    items = ch.word_level_transcription or []
    assert all(0 <= w.start <= w.end <= ami.duration + 0.5 for w in items)
    assert [w.start for w in items] == sorted(w.start for w in items)
    assert {w.speaker for w in items} <= set(ch.speakers) and len(ch.speakers) >= 2
    turns = ch.turn_level_transcription or []
    assert turns and all(a.speaker != b.speaker for a, b in zip(turns, turns[1:], strict=False))
    assert "specification" in " ".join(t.text for t in turns).lower()
    assert ami.transcription is not None and ami.transcription.model == "faster-whisper-base"
    assert ami.transcription.languages == ["en"]


def test_chunking_keeps_word_times(engine, ami: DiarizationResult, tmp_path: Path) -> None:
    """The same file in chunks of <= 12 s (cut at quiet points) finds the same words at the same times."""
    from diarist.engine.audio import AudioStore, decode, probe
    from diarist.engine.options import InputLimits

    t = engine.transcriber()
    whole: dict[str, float] = {}
    for w in ami.channels[0].word_level_transcription or []:
        whole.setdefault(w.text.strip(" ,.?").lower(), w.start)
    saved = t.chunk_s
    t.chunk_s = 12.0
    try:
        decoded = decode(AMI, tmp_path, InputLimits(), "mix", probe(AMI, InputLimits()))
        with AudioStore(decoded.paths[0], decoded.num_samples) as store:
            cuts = cut_points(store.num_samples, t.chunk_s, lambda lo, hi: (lo + hi) // 2)
            assert len(cuts) >= 2
            got = t.transcribe(store, "en")
    finally:
        t.chunk_s = saved
    chunked: dict[str, float] = {}
    for x in got.words:
        chunked.setdefault(x.text.strip(" ,.?").lower(), x.start)
    common = [k for k in ("feedback", "yesterday", "duplication") if k in whole and k in chunked]
    assert common, (whole, chunked)
    for k in common:
        assert abs(whole[k] - chunked[k]) < 0.6, (k, whole[k], chunked[k])


def test_stereo_is_transcribed_per_channel(engine, ffmpeg) -> None:
    path = DEV_SET / "fasterwhisper_stereo_5s.wav"
    if not path.is_file():
        pytest.skip(f"dev set not found: {path}")
    r = engine.diarize(path, DiarizeOptions(transcribe=True, channel_mode="split", confidence=False))
    assert [ch.channel for ch in r.channels] == [0, 1]
    assert r.transcription is not None and len(r.transcription.languages) == 2
    texts = [" ".join(_words(r, i)) for i in range(2)]
    assert all(texts) and texts[0] != texts[1]
    for ch in r.channels:
        assert {w.speaker for w in ch.word_level_transcription or []} <= set(ch.speakers)


def test_cut_points_bound_every_chunk() -> None:
    sr = 16000
    n = 1000 * sr
    cuts = cut_points(n, 300.0, lambda lo, hi: lo)  # always cut as early as allowed
    assert cuts[-1] == n and len(cuts) >= 4
    bounds = [0, *cuts]
    assert all(0 < b - a <= (300 + 10) * sr for a, b in zip(bounds, bounds[1:], strict=False))
    assert all(b - a <= 300 * sr for a, b in zip(bounds[:-2], bounds[1:-1], strict=False))
    assert cut_points(10 * sr, 300.0, lambda lo, hi: lo) == [10 * sr]
    assert cut_points(305 * sr, 300.0, lambda lo, hi: lo) == [305 * sr]  # no 5 s scrap
