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
