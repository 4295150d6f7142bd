"""Who said what (``diarist.domain.transcription``): words attributed to the exclusive diarization,
grouped into turns, per channel; the model and language rules. Pure, no engine."""

from __future__ import annotations

import pytest

from diarist.domain.results import ChannelResult, Turn
from diarist.domain.transcription import (
    UNKNOWN_SPEAKER,
    SpeakerSpan,
    SpokenText,
    TranscriptionParams,
    WordTiming,
    attribute_words,
    group_turns,
    language_problem,
    transcription_model_problem,
    transcription_warnings,
)


def w(start: float, end: float, text: str) -> WordTiming:
    return WordTiming(start, end, text)


A, B = "SPEAKER_00", "SPEAKER_01"


def test_each_word_goes_to_the_turn_it_falls_in() -> None:
    spans = [SpeakerSpan(A, 0.0, 2.0), SpeakerSpan(B, 2.5, 5.0)]
    words = [w(0.1, 0.4, " hi"), w(0.5, 1.9, " there"), w(2.6, 3.0, " hello"), w(4.0, 4.9, " back")]
    assert [x.speaker for x in attribute_words(words, spans)] == [A, A, B, B]


def test_a_word_across_a_speaker_change_goes_to_the_turn_it_overlaps_most() -> None:
    spans = [SpeakerSpan(A, 0.0, 2.0), SpeakerSpan(B, 2.0, 4.0)]
    assert attribute_words([w(1.5, 2.9, " word")], spans)[0].speaker == B  # 0.5 s of A, 0.9 s of B
    assert attribute_words([w(1.0, 2.2, " word")], spans)[0].speaker == A


def test_overlapped_speech_follows_the_exclusive_diarization() -> None:
    """In overlap the overlap-aware diarization has both speakers; the exclusive one keeps one per
    instant, and the word goes to that one."""
    overlap_aware = [Turn(speaker=A, start=0.0, end=3.0), Turn(speaker=B, start=2.0, end=5.0)]
    exclusive = [Turn(speaker=A, start=0.0, end=2.0), Turn(speaker=B, start=2.0, end=5.0)]
    ch = ChannelResult(
        channel=None, speakers=[A, B], diarization=overlap_aware, exclusive_diarization=exclusive
    )
    out = ch.transcribed([w(2.1, 2.8, " yes"), w(0.5, 1.0, " so")])
    assert [(x.text, x.speaker) for x in out.word_level_transcription or []] == [("yes", B), ("so", A)]
    # and with the other exclusive choice, the other speaker
    ch2 = ch.model_copy(
        update={
            "exclusive_diarization": [
                Turn(speaker=A, start=0.0, end=3.0),
                Turn(speaker=B, start=3.0, end=5.0),
            ]
        }
    )
    assert (ch2.transcribed([w(2.1, 2.8, " yes")]).word_level_transcription or [])[0].speaker == A


def test_a_word_outside_every_turn_goes_to_the_nearest_turn() -> None:
    spans = [SpeakerSpan(A, 0.0, 1.0), SpeakerSpan(B, 5.0, 6.0)]
    words = [w(1.2, 1.5, " a"), w(4.2, 4.6, " b"), w(7.0, 7.3, " c"), w(-0.0, 0.0, " d")]
    assert [x.speaker for x in attribute_words(words, spans)] == [A, B, B, A]


def test_without_any_turn_the_speaker_is_unknown() -> None:
    assert attribute_words([w(0.0, 1.0, " lonely")], []) == [SpokenText(0.0, 1.0, " lonely", UNKNOWN_SPEAKER)]


def test_many_short_turns_under_one_long_word() -> None:
    spans = [SpeakerSpan(A if i % 2 else B, i * 0.1, i * 0.1 + 0.1) for i in range(20)]
    spans.append(SpeakerSpan(A, 2.0, 4.0))
    assert attribute_words([w(0.0, 3.0, " long")], spans)[0].speaker == A


def test_turns_group_consecutive_words_of_one_speaker() -> None:
    words = [
        SpokenText(0.0, 0.5, " Hello", A),
        SpokenText(0.6, 1.0, " there.", A),
        SpokenText(1.2, 1.5, " Hi!", B),
        SpokenText(1.6, 2.0, " So", A),
        SpokenText(2.1, 2.4, " anyway", A),
    ]
    assert group_turns(words) == [
        SpokenText(0.0, 1.0, "Hello there.", A),
        SpokenText(1.2, 1.5, "Hi!", B),
        SpokenText(1.6, 2.4, "So anyway", A),
    ]
    assert group_turns([]) == []


def test_multichannel_words_are_attributed_per_channel() -> None:
    """The same instant is one speaker on channel 0 and another on channel 1: each channel's words
    go to that channel's speaker."""
    ch0 = ChannelResult(
        channel=0, speakers=[A], diarization=[Turn(speaker=A, start=0, end=4)],
        exclusive_diarization=[Turn(speaker=A, start=0, end=4)],
    )  # fmt: skip
    ch1 = ChannelResult(
        channel=1, speakers=[A, B],
        diarization=[Turn(speaker=B, start=0, end=2), Turn(speaker=A, start=2, end=4)],
        exclusive_diarization=[Turn(speaker=B, start=0, end=2), Turn(speaker=A, start=2, end=4)],
    )  # fmt: skip
    words = [w(0.5, 1.0, " one"), w(2.5, 3.0, " two")]
    assert [x.speaker for x in ch0.transcribed(words).word_level_transcription or []] == [A, A]
    assert [x.speaker for x in ch1.transcribed(words).word_level_transcription or []] == [B, A]
    turns = ch1.transcribed(words).turn_level_transcription or []
    assert [(t.text, t.speaker) for t in turns] == [("one", B), ("two", A)]


def test_model_and_language_rules() -> None:
    assert transcription_model_problem(None) is None
    assert transcription_model_problem("faster-whisper-large-v3-turbo") is None
    assert "parakeet-tdt-0.6b-v3" in (transcription_model_problem("whisper") or "")
    assert language_problem("en") is None and language_problem(None) is None
    assert language_problem("EN") and language_problem("english")
    assert transcription_warnings(TranscriptionParams(), "faster-whisper-base") == []
    assert (
        transcription_warnings(TranscriptionParams(model="faster-whisper-base"), "faster-whisper-base") == []
    )
    (warning,) = transcription_warnings(
        TranscriptionParams(model="faster-whisper-large-v3-turbo"), "faster-whisper-base"
    )
    assert "faster-whisper-large-v3-turbo" in warning and "runs faster-whisper-base" in warning
    (warning,) = transcription_warnings(TranscriptionParams(language="de"), "faster-whisper-tiny.en")
    assert "English only" in warning
    assert transcription_warnings(TranscriptionParams(language="en"), "faster-whisper-tiny.en") == []


@pytest.mark.parametrize("kind", ["identify", "voiceprint", "voiceprint_extraction"])
def test_only_a_diarization_transcribes(kind: str) -> None:
    from diarist.domain.job_kinds import param_problems
    from diarist.domain.jobs import JobParams

    params = JobParams(transcription=TranscriptionParams())
    assert [p["field"] for p in param_problems(kind, params, "x")][:1] == ["transcription"]  # type: ignore[arg-type]
    assert param_problems("diarize", params, "x") == []
    bad = JobParams(transcription=TranscriptionParams(model="m", language="zz"))
    fields = [p["field"] for p in param_problems("diarize", bad, "x")]
    assert fields == ["transcriptionConfig.model", "transcriptionConfig.language"]
