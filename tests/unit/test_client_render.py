"""Client-side renderers of the API's output (RTTM, CSV, table, timeline)."""

from __future__ import annotations

from pathlib import Path

from diarist.client import render

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
