"""The transcript formats of ``diarist.engine.formats`` (pure, no engine): JSON items, WebVTT with
voice tags, SRT with the speaker prefixed, plain "who said what" text."""

from __future__ import annotations

import re

import pytest

from diarist.domain.results import ChannelResult, DiarizationResult, TranscriptionInfo, Turn
from diarist.domain.transcription import WordTiming
from diarist.engine.formats import pyannote_output, render, to_pyannote_dict, transcript_cues

A, B = "SPEAKER_00", "SPEAKER_01"
TURNS = [
    Turn(speaker=A, start=0.0, end=3.0),
    Turn(speaker=B, start=3.2, end=6.0),
    Turn(speaker=A, start=6.5, end=70.0),
]
WORDS = [
    WordTiming(0.2, 0.6, " Hello"),
    WordTiming(0.7, 1.2, " <everyone>"),
    WordTiming(1.3, 2.0, " & welcome."),
    WordTiming(3.4, 3.9, " Thanks!"),
    *[WordTiming(7.0 + 0.5 * i, 7.4 + 0.5 * i, f" w{i}") for i in range(30)],  # 15 s of one speaker
    WordTiming(65.0, 65.5, " later"),  # after a long pause
]


def result(channels: int = 1, language: str = "en") -> DiarizationResult:
    chans = [
        ChannelResult(
            channel=None if channels == 1 else c,
            speakers=[A, B],
            diarization=TURNS,
            exclusive_diarization=TURNS,
        ).transcribed(WORDS if c == 0 else WORDS[:4])
        for c in range(channels)
    ]
    return DiarizationResult(
        duration=70.0,
        sample_rate=16000,
        num_channels=channels,
        channel_mode="mix" if channels == 1 else "split",
        channels=chans,
        model="m",
        transcription=TranscriptionInfo(model="faster-whisper-base", languages=[language] * channels),
    )


def test_json_carries_word_and_turn_level_items_like_pyannoteai() -> None:
    out = pyannote_output(result())
    assert len(out["wordLevelTranscription"]) == len(WORDS)
    assert out["wordLevelTranscription"][0] == {"start": 0.2, "end": 0.6, "text": "Hello", "speaker": A}
    turns = out["turnLevelTranscription"]
    assert [t["speaker"] for t in turns] == [A, B, A]
    assert turns[0]["text"] == "Hello <everyone> & welcome." and turns[0]["start"] == 0.2
    assert turns[0]["end"] == 2.0
    full = to_pyannote_dict(result())
    assert full["transcription"] == {
        "model": "faster-whisper-base",
        "languages": ["en"],
        "languageProbability": [],
    }
    multi = pyannote_output(result(2))
    assert [len(ch["wordLevelTranscription"]) for ch in multi["channels"]] == [len(WORDS), 4]


def test_vtt_has_a_header_timed_cues_and_voice_tags() -> None:
    text = render(result(), "vtt")
    blocks = text.strip().split("\n\n")
    assert blocks[0] == "WEBVTT"
    cue = re.compile(r"^(\d\d:\d\d:\d\d\.\d{3}) --> (\d\d:\d\d:\d\d\.\d{3})\n<v (SPEAKER_\d\d)>(.+)$")
    parsed = [cue.match(b) for b in blocks[1:]]
    assert all(parsed), blocks
    first = parsed[0]
    assert first is not None and first.groups() == (
        "00:00:00.200",
        "00:00:02.000",
        A,
        "Hello &lt;everyone&gt; &amp; welcome.",
    )
    speakers = [m.group(3) for m in parsed if m]
    assert speakers[:2] == [A, B]
    # the 15 s monologue is cut into cues of at most 7 s; the word after a long pause is its own cue
    starts = [m.group(1) for m in parsed if m]
    assert len(parsed) >= 5 and starts[-1] == "00:01:05.000"
    for m in parsed:
        assert m is not None
        h0, m0, s0 = m.group(1).split(":")
        h1, m1, s1 = m.group(2).split(":")
        d = (int(h1) * 3600 + int(m1) * 60 + float(s1)) - (int(h0) * 3600 + int(m0) * 60 + float(s0))
        assert 0 < d <= 7.0 + 1e-6


def test_srt_numbers_cues_and_prefixes_the_speaker() -> None:
    blocks = render(result(), "srt").strip().split("\n\n")
    cue = re.compile(r"^(\d+)\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n(SPEAKER_\d\d): (.+)$")
    parsed = [cue.match(b) for b in blocks]
    assert all(parsed), blocks
    assert [int(m.group(1)) for m in parsed if m] == list(range(1, len(blocks) + 1))
    assert blocks[0].splitlines()[1] == "00:00:00,200 --> 00:00:02,000"
    assert parsed[1] is not None and parsed[1].group(2, 3) == (B, "Thanks!")


def test_text_is_who_said_what_one_line_per_turn() -> None:
    lines = render(result(), "txt").splitlines()
    assert lines[0] == "[00:00.2] SPEAKER_00: Hello <everyone> & welcome."
    assert lines[1] == "[00:03.4] SPEAKER_01: Thanks!"
    assert lines[2].startswith("[00:07.0] SPEAKER_00: w0 w1 ") and lines[2].endswith("w29 later")
    assert len(lines) == 3


def test_several_channels_name_the_channel_and_merge_in_time_order() -> None:
    text = render(result(2), "txt").splitlines()
    assert text[0] in ("[00:00.2] ch1 SPEAKER_00: Hello <everyone> & welcome.",)
    assert text[1] == "[00:00.2] ch2 SPEAKER_00: Hello <everyone> & welcome."
    vtt = render(result(2), "vtt")
    assert "<v ch1 SPEAKER_00>" in vtt and "<v ch2 SPEAKER_01>Thanks!" in vtt
    starts = [c.start for c in transcript_cues(result(2))]
    assert starts == sorted(starts)


def test_languages_written_without_spaces_are_joined_without_them() -> None:
    words = [WordTiming(0.0, 0.3, "你好"), WordTiming(0.3, 0.6, "世界")]
    r = result(language="zh")
    chan = r.channels[0].transcribed(words)
    r = r.model_copy(update={"channels": [chan]})
    assert "<v SPEAKER_00>你好世界" in render(r, "vtt")


@pytest.mark.parametrize("fmt", ["vtt", "srt", "txt"])
def test_a_result_without_transcription_is_refused_clearly(fmt: str) -> None:
    plain = result().model_copy(
        update={
            "channels": [
                ChannelResult(channel=None, speakers=[A], diarization=TURNS, exclusive_diarization=TURNS)
            ],
            "transcription": None,
        }
    )
    with pytest.raises(ValueError, match="no transcription"):
        render(plain, fmt)
    assert "wordLevelTranscription" not in pyannote_output(plain)
    assert "transcription" not in to_pyannote_dict(plain)
