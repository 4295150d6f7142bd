"""Result schema of a diarization: what the engine returns, the worker stores in S3 and the API renders.

Times are seconds from the start of the recording. Speaker labels are ``SPEAKER_00``, ``SPEAKER_01`` ...
numbered by first appearance. Channels are 0-based here; RTTM output uses 1-based channel numbers.

An identification (diarization + voiceprint matching) is a ``DiarizationResult`` whose ``identification``
says what was matched and whose channels carry ``identification`` turns and ``voiceprintMatches``; these
optional parts are left out of the JSON when unset, so a plain diarization's JSON is unchanged (and
still version 1). A transcribed diarization likewise has ``transcription`` (model, languages) and
channels with ``wordLevelTranscription`` and ``turnLevelTranscription`` (``domain.transcription``). A voiceprint job's result is a :class:`VoiceprintResult`; Phonexia's per-channel
voiceprint extraction a :class:`VoiceprintExtraction`; its comparison a :class:`VoiceprintComparison`.
Blob format, scores and matching rule: ``diarist.domain.voiceprints``. Which result a job kind stores:
``RESULT_TYPES`` (``parse_result``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from diarist.domain.jobs import JobKind
from diarist.domain.transcription import SpeakerSpan, SpokenText, WordTiming, attribute_words, group_turns
from diarist.domain.voiceprints import ScoreMatrix, match_speakers

CONFIDENCE_RESOLUTION_S = 0.02
RESULT_SCHEMA_VERSION: Literal[1] = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _drop_unset(data: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if not (k in keys and v is None)}


class Turn(_Model):
    """One speaker turn. With turn-level confidence asked for: ``confidence`` (0-100), how active
    the turn's own speaker is over it, and ``speaker_confidence``, the same for every speaker of the
    channel (pyannoteAI's per-turn ``confidence: {SPEAKER_xx: 0-100}``; left out of the JSON when
    unset, so results stored before it are unchanged)."""

    speaker: str
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    confidence: float | None = Field(default=None, ge=0, le=100)
    speaker_confidence: dict[str, int] | None = Field(default=None, alias="speakerConfidence")

    @model_serializer(mode="wrap")
    def _serialize(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return _drop_unset(handler(self), ("speaker_confidence", "speakerConfidence"))


class Confidence(_Model):
    """Frame-level confidence: one integer 0-100 per ``resolution`` seconds, from time 0."""

    score: list[int]
    resolution: float = CONFIDENCE_RESOLUTION_S


class IdentifiedTurn(_Model):
    """A diarization turn with its speaker's match: ``speaker`` is the matched voiceprint label, or the
    diarization label (``diarizationSpeaker``) when the speaker matched none (``match`` None)."""

    speaker: str
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    diarization_speaker: str = Field(alias="diarizationSpeaker")
    match: str | None
    confidence: float | None = Field(default=None, ge=0, le=100, description="the turn's, as in Turn")


class SpeakerMatch(_Model):
    """One diarized speaker against every voiceprint: ``confidence`` maps each label (in the order the
    voiceprints were given) to a 0-100 score; ``match`` is the label it was matched to, or None."""

    speaker: str
    match: str | None
    confidence: dict[str, int]


class TranscriptItem(_Model):
    """A word or a speaker turn of a transcription: pyannoteAI's ``{start, end, text, speaker}``
    (who said it: ``domain.transcription.attribute_words``)."""

    start: float = Field(ge=0)
    end: float = Field(ge=0)
    text: str
    speaker: str


class TranscriptionInfo(_Model):
    """What transcribed a result: the faster-whisper model that ran and the language per channel
    (given, or detected with ``languageProbability``)."""

    model: str
    languages: list[str | None] = Field(description="Per channel, in ``channels`` order; None: no speech")
    language_probability: list[float | None] = Field(
        default_factory=list, alias="languageProbability", description="Per channel; None when given"
    )


class ChannelResult(_Model):
    """The diarization of one audio channel (or of the downmix when ``channel`` is None), and its
    transcription when the job asked for one (left out of the JSON otherwise)."""

    channel: int | None = Field(description="0-based audio channel; None for a downmix of all channels")
    speakers: list[str]
    diarization: list[Turn] = Field(description="Overlap-aware turns")
    exclusive_diarization: list[Turn] = Field(alias="exclusiveDiarization", description="No overlaps")
    confidence: Confidence | None = None
    identification: list[IdentifiedTurn] | None = Field(
        default=None, description="Identification only: the turns of ``diarization`` with their matches"
    )
    voiceprint_matches: list[SpeakerMatch] | None = Field(
        default=None, alias="voiceprintMatches", description="Identification only: one per speaker"
    )
    word_level_transcription: list[TranscriptItem] | None = Field(
        default=None, alias="wordLevelTranscription", description="Transcription only: every word"
    )
    turn_level_transcription: list[TranscriptItem] | None = Field(
        default=None,
        alias="turnLevelTranscription",
        description="Transcription only: consecutive words of one speaker",
    )

    @model_serializer(mode="wrap")
    def _serialize(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        keys = (
            "identification",
            "voiceprint_matches",
            "voiceprintMatches",
            "word_level_transcription",
            "wordLevelTranscription",
            "turn_level_transcription",
            "turnLevelTranscription",
        )
        return _drop_unset(handler(self), keys)

    def transcribed(self, words: Sequence[WordTiming]) -> ChannelResult:
        """This channel with ``words`` (this channel's, recognised) attributed to its exclusive
        diarization and grouped into turns (``domain.transcription``). The engine and its test
        double both transcribe through here."""
        spans = [SpeakerSpan(t.speaker, t.start, t.end) for t in self.exclusive_diarization]
        spoken = attribute_words(words, spans)

        def items(xs: list[SpokenText]) -> list[TranscriptItem]:
            return [
                TranscriptItem(
                    start=round(x.start, 3), end=round(x.end, 3), text=x.text.strip(), speaker=x.speaker
                )
                for x in xs
            ]

        return self.model_copy(
            update={
                "word_level_transcription": items(spoken),
                "turn_level_transcription": items(group_turns(spoken)),
            }
        )

    def identified(
        self, labels: list[str], scores: list[list[int]], *, exclusive: bool, threshold: float
    ) -> ChannelResult:
        """This channel with its speakers matched to voiceprint ``labels`` (``scores``: one row of
        0-100 scores per speaker, in ``speakers`` order): ``voiceprint_matches`` per speaker and the
        ``identification`` turns, by ``domain.voiceprints.match_speakers`` (``exclusive``, ``threshold``).
        The engine and its test double both identify through here."""
        matched = match_speakers(scores, exclusive=exclusive, threshold=threshold)
        names = {
            s: (labels[j] if j is not None else None) for s, j in zip(self.speakers, matched, strict=True)
        }
        return self.model_copy(
            update={
                "voiceprint_matches": [
                    SpeakerMatch(speaker=s, match=names[s], confidence=dict(zip(labels, row, strict=True)))
                    for s, row in zip(self.speakers, scores, strict=True)
                ],
                "identification": [
                    IdentifiedTurn(
                        speaker=names.get(t.speaker) or t.speaker,
                        start=t.start,
                        end=t.end,
                        diarization_speaker=t.speaker,
                        match=names.get(t.speaker),
                        confidence=t.confidence,
                    )
                    for t in self.diarization
                ],
            }
        )


class Identification(_Model):
    """What an identification matched against: the labels in the order given, the matching options and
    the embedding model of the voiceprints."""

    labels: list[str]
    exclusive: bool
    threshold: float = Field(ge=0, le=100)
    embedding_model: str = Field(alias="embeddingModel")


class DiarizationResult(_Model):
    """Everything one job produced. Stored as JSON in S3 (never in DynamoDB)."""

    version: Literal[1] = RESULT_SCHEMA_VERSION
    duration: float = Field(ge=0, description="Seconds of audio")
    sample_rate: int = Field(alias="sampleRate")
    num_channels: int = Field(alias="numChannels", ge=1)
    channel_mode: Literal["split", "mix"] = Field(alias="channelMode")
    channels: list[ChannelResult]
    model: str = Field(description="Which weights produced this result")
    warnings: list[str] = Field(default_factory=list)
    identification: Identification | None = Field(default=None, description="Set for an identification")
    transcription: TranscriptionInfo | None = Field(default=None, description="Set when transcribed")

    @model_serializer(mode="wrap")
    def _serialize(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return _drop_unset(handler(self), ("identification", "transcription"))


class VoiceprintResult(_Model):
    """A voiceprint job's result: the voiceprint (base64) of the most talkative speaker of <= 30 s."""

    version: Literal[1] = RESULT_SCHEMA_VERSION
    voiceprint: str = Field(description="base64 blob, see diarist.domain.voiceprints")
    embedding_model: str = Field(alias="embeddingModel", description="The embedding model id in the blob")
    speaker: str = Field(description="The diarization label of the speaker used")
    speech_s: float = Field(alias="speechSeconds", ge=0, description="Seconds of speech used")
    num_speakers: int = Field(alias="numSpeakers", ge=1, description="Speakers found in the audio")
    duration: float = Field(ge=0, description="Seconds of audio")
    model: str = Field(description="Which weights produced this result")
    warnings: list[str] = Field(default_factory=list)


class ChannelVoiceprint(_Model):
    """Phonexia's per-channel voiceprint: the channel's most talkative speaker."""

    channel: int | None = Field(description="0-based audio channel; None for a downmix of all channels")
    voiceprint: str
    speech_s: float = Field(alias="speechSeconds", ge=0, description="Seconds of speech used")
    speaker: str = Field(description="The diarization label of the speaker used")
    num_speakers: int = Field(alias="numSpeakers", ge=1, description="Speakers found in the channel")


class VoiceprintExtraction(_Model):
    """Phonexia's voiceprint extraction: one voiceprint per channel with speech (the whole file)."""

    version: Literal[1] = RESULT_SCHEMA_VERSION
    duration: float = Field(ge=0)
    num_channels: int = Field(alias="numChannels", ge=1)
    channel_mode: Literal["split", "mix"] = Field(alias="channelMode")
    channels: list[ChannelVoiceprint] = Field(description="Channels without speech are left out")
    embedding_model: str = Field(alias="embeddingModel")
    model: str
    warnings: list[str] = Field(default_factory=list)


class VoiceprintComparison(_Model):
    """Phonexia's voiceprint comparison: ``values[j * columnsCount + i]`` is the log-likelihood ratio
    of ``voiceprints_b[j]`` against ``voiceprints_a[i]`` (``domain.voiceprints.compare_voiceprints``)."""

    version: Literal[1] = RESULT_SCHEMA_VERSION
    columns_count: int = Field(alias="columnsCount", ge=0, description="len(voiceprints_a)")
    rows_count: int = Field(alias="rowsCount", ge=0, description="len(voiceprints_b)")
    values: list[float]
    embedding_model: str = Field(alias="embeddingModel")
    model: str = Field(description="What computed the scores (the embedding model's calibration)")
    warnings: list[str] = Field(default_factory=list)

    @classmethod
    def of(cls, matrix: ScoreMatrix, embedding_model: str) -> VoiceprintComparison:
        return cls(
            columns_count=matrix.columns_count,
            rows_count=matrix.rows_count,
            values=list(matrix.values),
            embedding_model=embedding_model,
            model=embedding_model,
        )

    def matrix(self) -> ScoreMatrix:
        return ScoreMatrix(columns_count=self.columns_count, rows_count=self.rows_count, values=self.values)


JobResult = DiarizationResult | VoiceprintResult | VoiceprintExtraction | VoiceprintComparison
"""What a job of some kind produced (stored as JSON in S3 by alias)."""

RESULT_TYPES: dict[JobKind, type[JobResult]] = {
    "diarize": DiarizationResult,
    "identify": DiarizationResult,
    "voiceprint": VoiceprintResult,
    "voiceprint_extraction": VoiceprintExtraction,
    "voiceprint_comparison": VoiceprintComparison,
}


def parse_result(kind: JobKind, data: bytes | str) -> JobResult:
    """A stored result of a ``kind`` job."""
    return RESULT_TYPES[kind].model_validate_json(data)
