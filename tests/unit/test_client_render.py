"""Client-side renderers of the API's output (RTTM, CSV, table, timeline)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

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


# -- a transcribed job's output: the same bytes as the engine's renderers of the result ----------


def _transcribed(channels: int = 1, language: str = "en", hour: float = 0.0) -> DiarizationResult:
    from diarist.domain.results import TranscriptionInfo
    from diarist.domain.transcription import WordTiming

    turns = [
        Turn(speaker="SPEAKER_00", start=hour + 0.0, end=hour + 3.0),
        Turn(speaker="SPEAKER_01", start=hour + 3.25, end=hour + 12.0),
    ]
    zh = language == "zh"
    words = [
        WordTiming(hour + 0.25, hour + 0.625, "你好" if zh else " Hello"),
        WordTiming(hour + 0.75, hour + 1.2, "世界" if zh else " <script>alert(1)</script>"),
        WordTiming(hour + 3.4, hour + 3.9, "谢谢" if zh else " Thanks"),
        *[
            WordTiming(hour + 4.0 + 0.5 * i, hour + 4.4 + 0.5 * i, f"字{i}" if zh else f" w{i}")
            for i in range(16)
        ],
    ]
    chans = [
        ChannelResult(
            channel=None if channels == 1 else c,
            speakers=["SPEAKER_00", "SPEAKER_01"],
            diarization=turns,
            exclusive_diarization=turns,
        ).transcribed(words if c == 0 else words[:3])
        for c in range(channels)
    ]
    return DiarizationResult(
        duration=hour + 12.0,
        sample_rate=16000,
        num_channels=channels,
        channel_mode="mix" if channels == 1 else "split",
        channels=chans,
        model="m",
        transcription=TranscriptionInfo(model="faster-whisper-base", languages=[language] * channels),
    )


@pytest.mark.parametrize(
    ("channels", "language", "hour"), [(1, "en", 0.0), (2, "en", 0.0), (1, "zh", 0.0), (1, "en", 3600.0)]
)
@pytest.mark.parametrize("fmt", ["vtt", "srt", "txt"])
def test_a_transcribed_jobs_output_renders_as_the_engine_renders_its_result(
    fmt: str, channels: int, language: str, hour: float
) -> None:
    result = _transcribed(channels, language, hour)
    output = formats.pyannote_output(result, exclusive=False, confidence=False)
    writer = {"vtt": render.to_vtt, "srt": render.to_srt, "txt": render.to_text}[fmt]
    text = writer(output)
    assert text == formats.render(result, fmt)
    assert text.strip()


def test_transcript_formats_of_an_api_output_have_speakers_and_escape_the_text() -> None:
    output = formats.pyannote_output(_transcribed(), exclusive=False, confidence=False)
    assert "<v SPEAKER_00>Hello &lt;script&gt;alert(1)&lt;/script&gt;" in render.to_vtt(output)
    assert "\nSPEAKER_01: Thanks w0" in render.to_srt(output)
    assert render.to_text(output).splitlines()[0] == "[00:00.2] SPEAKER_00: Hello <script>alert(1)</script>"


@pytest.mark.parametrize("fmt", ["vtt", "srt", "txt"])
def test_an_output_without_transcription_is_refused_clearly(fmt: str) -> None:
    from diarist.cli.client_cmd import render as cli_render

    with pytest.raises(ValueError, match="no transcription.*transcription: true"):
        cli_render(MONO, fmt, "job")
    with pytest.raises(ValueError, match="no transcription"):
        cli_render(STEREO, fmt, "job")
