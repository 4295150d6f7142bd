"""Client-side renderers of the API's output (RTTM, CSV, table, timeline)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from diarist.client import render
from diarist.domain.results import ChannelResult, DiarizationResult, Turn
from diarist.engine import formats

MONO = {
    "diarization": [
        {"speaker": "SPEAKER_01", "start": 3.5, "end": 5.0},
        {"speaker": "SPEAKER_00", "start": 0.25, "end": 3.75},
    ]
}
STEREO = {
    "diarization": [],
    "channels": [
        {"channel": 0, "diarization": [{"speaker": "SPEAKER_00", "start": 1.0, "end": 2.0}]},
        {"channel": 1, "diarization": [{"speaker": "SPEAKER_00", "start": 0.5, "end": 1.5}]},
    ],
}


def test_rttm_is_sorted_with_file_id_and_one_based_channel() -> None:
    lines = render.to_rttm(MONO, "meeting").splitlines()
    assert lines == [
        "SPEAKER meeting 1 0.250 3.500 <NA> <NA> SPEAKER_00 <NA> <NA>",
        "SPEAKER meeting 1 3.500 1.500 <NA> <NA> SPEAKER_01 <NA> <NA>",
    ]


def test_rttm_per_channel() -> None:
    fields = [line.split() for line in render.to_rttm(STEREO, "call").splitlines()]
    assert [(f[2], f[3]) for f in fields] == [("1", "1.000"), ("2", "0.500")]


def test_csv_and_table() -> None:
    csv_lines = render.to_csv(MONO).splitlines()
    assert csv_lines[0] == "channel,speaker,start,end"
    assert csv_lines[1] == "1,SPEAKER_00,0.250,3.750"
    table = render.to_table(STEREO).splitlines()
    assert table[0].startswith("ch1 ") and table[1].startswith("ch2 ")


def test_timeline_png(tmp_path: Path) -> None:
    out = render.timeline_png(MONO, tmp_path / "t.png", title="x")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000


def _stereo_result() -> DiarizationResult:
    def channel(number: int, offset: float) -> ChannelResult:
        turns = [
            Turn(speaker="SPEAKER_00", start=0.25 + offset, end=3.75 + offset, confidence=80.0),
            Turn(speaker="SPEAKER_01", start=3.5 + offset, end=5.125, confidence=60.5),
        ]
        return ChannelResult(
            channel=number,
            speakers=["SPEAKER_00", "SPEAKER_01"],
            diarization=turns,
            exclusive_diarization=turns,
        )

    return DiarizationResult(
        duration=6.0,
        sample_rate=16000,
        num_channels=2,
        channel_mode="split",
        channels=[channel(0, 0.0), channel(1, 0.5)],
        model="test",
    )


def test_the_same_turns_render_the_same_from_a_result_and_from_its_api_output() -> None:
    result = _stereo_result()
    output = formats.pyannote_output(result)
    assert render.to_rttm(output, "call") == formats.to_rttm(result, "call.wav")

    def times(text: str) -> list[tuple[str, str, str]]:
        return [(row["speaker"], row["start"], row["end"]) for row in csv.DictReader(io.StringIO(text))]

    assert times(render.to_csv(output)) == times(formats.to_csv(result))
