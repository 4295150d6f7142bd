"""``diarist diarize`` refuses speaker counts that break the domain rule before loading anything."""

from __future__ import annotations

import pytest

from diarist.cli import main


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--num-speakers", "2", "--min-speakers", "1"], "--min-speakers: cannot be combined"),
        (["--num-speakers", "2", "--max-speakers", "3"], "--max-speakers: cannot be combined"),
        (["--min-speakers", "3", "--max-speakers", "2"], "--min-speakers: must not be greater"),
        (["--num-speakers", "0"], "--num-speakers: must be a whole number from 1 to 100"),
    ],
)
def test_bad_speaker_counts_exit_2_naming_the_flag(
    flags: list[str], expected: str, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["diarize", str(tmp_path / "a.wav"), "-q", *flags])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("diarist diarize: ") and expected in err


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--transcribe", "--language", "klingon"], "language"),
        (["--language", "en"], "--language only applies with --transcribe"),
    ],
)
def test_bad_transcription_flags_exit_2(
    flags: list[str], expected: str, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["diarize", str(tmp_path / "a.wav"), "-q", *flags])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("diarist diarize: ") and expected in err


def test_missing_transcription_weights_exit_4_saying_how_to_fetch(
    tmp_path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from diarist.engine.settings import EngineSettings

    monkeypatch.setattr(EngineSettings, "check", lambda self: None)  # diarization weights: not the point
    rc = main(["diarize", str(tmp_path / "a.wav"), "-q", "--format", "vtt", "--model-dir", str(tmp_path)])
    assert rc == 4
    err = capsys.readouterr().err
    assert "whisper-base" in err and "fetch_weights.py" in err
