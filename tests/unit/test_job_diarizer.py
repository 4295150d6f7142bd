"""The worker's mapping of a job's parameters to the engine's options, and the engine adapter using it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from diarist.domain.jobs import JobParams
from diarist.domain.results import DiarizationResult
from diarist.engine.options import DiarizeOptions, InputLimits
from diarist.worker.diarizer import EngineJobDiarizer, diarize_options


def test_an_exact_speaker_count_reaches_the_engine() -> None:
    options = diarize_options(JobParams(num_speakers=3))
    assert (options.num_speakers, options.min_speakers, options.max_speakers) == (3, None, None)


@pytest.mark.parametrize(("lo", "hi"), [(2, 5), (2, None), (None, 4), (3, 3)])
def test_speaker_bounds_reach_the_engine(lo: int | None, hi: int | None) -> None:
    options = diarize_options(JobParams(min_speakers=lo, max_speakers=hi))
    assert (options.num_speakers, options.min_speakers, options.max_speakers) == (None, lo, hi)


@pytest.mark.parametrize("mode", ["split", "mix"])
def test_channel_mode_reaches_the_engine(mode: str) -> None:
    assert diarize_options(JobParams(channel_mode=mode)).channel_mode == mode


@pytest.mark.parametrize(
    ("confidence", "turn_level", "expected"),
    [(False, False, False), (True, False, True), (False, True, True), (True, True, True)],
)
def test_frame_or_turn_confidence_asks_the_engine_for_confidence(
    confidence: bool, turn_level: bool, expected: bool
) -> None:
    params = JobParams(confidence=confidence, turn_level_confidence=turn_level)
    assert diarize_options(params).confidence is expected


def test_default_parameters_ask_for_no_count_a_downmix_and_no_confidence() -> None:
    assert diarize_options(JobParams()) == DiarizeOptions(channel_mode="mix", confidence=False)


class _RecordingEngine:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def diarize(self, path: Path, options: DiarizeOptions, progress: Any, *, limits: InputLimits) -> Any:
        self.calls.append((path, options, progress, limits))
        return DiarizationResult(
            duration=1.0, sample_rate=16000, num_channels=1, channel_mode="mix", channels=[], model="stub"
        )


def test_the_engine_adapter_passes_the_mapped_options_and_default_limits() -> None:
    engine = _RecordingEngine()
    params = JobParams(num_speakers=2, channel_mode="split", turn_level_confidence=True)

    def progress(pct: float) -> None:
        pass

    result = EngineJobDiarizer(engine).diarize(Path("a.wav"), params, progress)
    assert result.model == "stub"
    assert engine.calls == [(Path("a.wav"), diarize_options(params), progress, InputLimits())]
    assert engine.calls[0][1].num_speakers == 2


def test_a_transcription_reaches_the_engine_with_its_language() -> None:
    from diarist.domain.transcription import TranscriptionParams

    options = diarize_options(
        JobParams(transcription=TranscriptionParams(model="faster-whisper-base", language="fr"))
    )
    assert options.transcribe is True and options.language == "fr"
    assert diarize_options(JobParams()).transcribe is False
