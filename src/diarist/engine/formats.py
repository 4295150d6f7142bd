"""Renderers of a DiarizationResult: pure functions, no torch (the API and the worker import them too).

* :func:`to_pyannote_json`  pyannoteAI shape: ``diarization``, ``exclusiveDiarization``, ``confidence``
  (one object per channel under ``channels`` when several channels were diarized separately).
* :func:`to_phonexia_json`  ``{"channels": [{channel_number, speakers_count, segments: [...]}]}``
* :func:`to_rttm`           ``SPEAKER <file-stem> <1-based channel> <onset> <dur> <NA> <NA> <speaker> <NA> <NA>``
* :func:`to_csv`            ``channel,speaker,start,end,duration[,confidence]``

Voiceprints and identification (``diarist.domain.voiceprints``):

* :func:`identify_output`        pyannoteAI identify ``output``: the diarization plus ``identification:
  [{speaker, start, end, diarizationSpeaker, match}]`` and ``voiceprints: [{speaker, match, confidence}]``
* :func:`voiceprint_output`      pyannoteAI voiceprint ``output``: ``{"voiceprint": "<base64>"}``
* :func:`phonexia_voiceprints`   ``{"channels": [{channel_number, voiceprint, speech_length, model}]}``
* :func:`phonexia_comparison`    ``{"scores": {columns_count, rows_count, values}}``

Transcription (``diarist.domain.transcription``; only for a result that was transcribed):

* :func:`pyannote_output` adds ``wordLevelTranscription`` and ``turnLevelTranscription``
  (``[{start, end, text, speaker}]``) per channel, as pyannoteAI does
* :func:`to_vtt`   WebVTT, one cue per phrase with a voice tag: ``<v SPEAKER_00>text``
* :func:`to_srt`   SubRip, one cue per phrase, the speaker prefixed: ``SPEAKER_00: text``
* :func:`to_text`  "who said what": one ``[mm:ss.s] SPEAKER_00: text`` line per turn

Cues (:func:`transcript_cues`) are runs of one speaker's words of at most ``MAX_CUE_S`` seconds and
``MAX_CUE_CHARS`` characters, broken at pauses over ``MAX_CUE_GAP_S``. With several channels every
speaker is named with its 1-based channel (``ch1 SPEAKER_00``) and the cues of all channels are
merged in time order. The same writers (:func:`cues_of`, :func:`vtt_cues`, :func:`srt_cues`,
:func:`text_turns`) render the API's output of a transcribed job (``diarist.client.render``).

RTTM and CSV text is written by :func:`rttm_lines` and :func:`csv_lines` from :class:`TurnLine` rows,
the one implementation of both line formats (``diarist.client.render`` feeds them the turns of an API
output). Times are written with 3 decimals, a turn's confidence with 1.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import PurePath
from typing import Any, Literal, NamedTuple, Protocol

from diarist.domain.results import (
    ChannelResult,
    DiarizationResult,
    IdentifiedTurn,
    TranscriptItem,
    Turn,
    VoiceprintExtraction,
    VoiceprintResult,
)
from diarist.domain.voiceprints import ScoreMatrix

Format = Literal["json", "phonexia", "rttm", "csv", "vtt", "srt", "txt"]
FORMATS: tuple[str, ...] = ("json", "phonexia", "rttm", "csv", "vtt", "srt", "txt")
TRANSCRIPT_FORMATS: tuple[str, ...] = ("vtt", "srt", "txt")
CONTENT_TYPES = {
    "json": "application/json",
    "phonexia": "application/json",
    "rttm": "text/plain",
    "csv": "text/csv",
    "vtt": "text/vtt",
    "srt": "application/x-subrip",
    "txt": "text/plain",
}
MAX_CUE_S = 7.0
MAX_CUE_CHARS = 84
MAX_CUE_GAP_S = 1.5
# scripts written without spaces between words: their words are joined as they are
_UNSPACED_LANGUAGES = frozenset({"zh", "yue", "ja", "th", "lo", "my", "km", "bo"})


def _t(x: float) -> float:
    return round(float(x), 3)


def _turn(t: Turn, with_confidence: bool) -> dict[str, Any]:
    d: dict[str, Any] = {"speaker": t.speaker, "start": _t(t.start), "end": _t(t.end)}
    if with_confidence and t.speaker_confidence is not None:  # pyannoteAI: {SPEAKER_xx: 0-100}
        d["confidence"] = dict(t.speaker_confidence)
    elif with_confidence and t.confidence is not None:  # results stored before the per-speaker map
        d["confidence"] = round(float(t.confidence), 1)
    return d


def _spoken(x: TranscriptItem) -> dict[str, Any]:
    return {"start": _t(x.start), "end": _t(x.end), "text": x.text, "speaker": x.speaker}


def pyannote_output(
    result: DiarizationResult,
    *,
    exclusive: bool = True,
    confidence: bool = True,
    turn_confidence: bool = True,
    metadata: bool = False,
) -> dict[str, Any]:
    """The pyannoteAI-style ``output`` (the API's job output, the webhook's and the CLI's JSON).

    ``{diarization, exclusiveDiarization?, confidence?}`` for the first channel (the downmix in
    ``mix`` mode) at the top level, so pyannoteAI clients find what they expect; with several channels
    (``split``) every channel again under ``channels: [{channel (0-based), ...}]``. The flags choose
    the optional parts (the API follows the job's ``exclusive`` / ``confidence`` /
    ``turnLevelConfidence``); a transcribed result's channels carry ``wordLevelTranscription`` and
    ``turnLevelTranscription``; ``metadata`` adds duration, channels, model (and the transcription's
    model and languages) and warnings.
    """

    def channel(ch: ChannelResult) -> dict[str, Any]:
        out: dict[str, Any] = {"diarization": [_turn(t, turn_confidence) for t in ch.diarization]}
        if exclusive:
            out["exclusiveDiarization"] = [_turn(t, turn_confidence) for t in ch.exclusive_diarization]
        if confidence and ch.confidence is not None:
            out["confidence"] = {"score": list(ch.confidence.score), "resolution": ch.confidence.resolution}
        if ch.word_level_transcription is not None:
            out["wordLevelTranscription"] = [_spoken(x) for x in ch.word_level_transcription]
            out["turnLevelTranscription"] = [_spoken(x) for x in ch.turn_level_transcription or []]
        return out

    out: dict[str, Any] = channel(result.channels[0]) if result.channels else {"diarization": []}
    if len(result.channels) > 1:
        out["channels"] = [{"channel": ch.channel, **channel(ch)} for ch in result.channels]
    if metadata:
        out.update(
            duration=_t(result.duration),
            numChannels=result.num_channels,
            channelMode=result.channel_mode,
            model=result.model,
        )
        if result.transcription is not None:
            out["transcription"] = result.transcription.model_dump(by_alias=True)
    if result.warnings or metadata:
        out["warnings"] = list(result.warnings)
    return out


def to_pyannote_dict(result: DiarizationResult) -> dict[str, Any]:
    """Everything, with metadata: ``diarist diarize --format json`` (and ``diarist identify``'s)."""
    if result.identification is not None:
        return identify_output(result, metadata=True)
    return pyannote_output(result, metadata=True)


def _identified(t: IdentifiedTurn, with_confidence: bool) -> dict[str, Any]:
    d: dict[str, Any] = {
        "speaker": t.speaker,
        "start": _t(t.start),
        "end": _t(t.end),
        "diarizationSpeaker": t.diarization_speaker,
        "match": t.match,
    }
    if with_confidence and t.confidence is not None:
        d["confidence"] = round(float(t.confidence), 1)
    return d


def identify_output(
    result: DiarizationResult,
    *,
    exclusive: bool = True,
    confidence: bool = True,
    turn_confidence: bool = True,
    metadata: bool = False,
) -> dict[str, Any]:
    """The pyannoteAI identify job ``output``: :func:`pyannote_output` (same flags, same layout: the
    first channel at the top level, every channel under ``channels`` when there are several) plus, per
    channel, ``identification`` (every diarization turn: ``speaker`` = the matched label, else the
    diarization label; ``diarizationSpeaker``; ``match`` = label or null) and ``voiceprints`` (one per
    diarized speaker: ``{speaker, match, confidence: {label: 0-100}}``, labels in the order given)."""
    out = pyannote_output(
        result, exclusive=exclusive, confidence=confidence, turn_confidence=turn_confidence, metadata=metadata
    )

    def parts(ch: ChannelResult) -> dict[str, Any]:
        return {
            "identification": [_identified(t, turn_confidence) for t in ch.identification or []],
            "voiceprints": [
                {"speaker": m.speaker, "match": m.match, "confidence": dict(m.confidence)}
                for m in ch.voiceprint_matches or []
            ],
        }

    if result.channels:
        out.update(parts(result.channels[0]))
    else:
        out.update(identification=[], voiceprints=[])
    if len(result.channels) > 1:
        for entry, ch in zip(out["channels"], result.channels, strict=True):
            entry.update(parts(ch))
    if metadata and result.identification is not None:
        info = result.identification
        out["matching"] = {"exclusive": info.exclusive, "threshold": info.threshold}
        out["embeddingModel"] = info.embedding_model
    return out


def voiceprint_output(result: VoiceprintResult) -> dict[str, Any]:
    """The pyannoteAI voiceprint job ``output``: ``{"voiceprint": "<base64>"}`` and, when there is
    something to say, pyannoteAI's ``warning`` string (the warnings joined)."""
    out: dict[str, Any] = {"voiceprint": result.voiceprint}
    if result.warnings:
        out["warning"] = "; ".join(result.warnings)
    return out


def phonexia_voiceprints(result: VoiceprintExtraction) -> dict[str, Any]:
    """Phonexia's voiceprint extraction ``result``: one entry per channel with speech (``channel_number``
    0-based; 0 for a downmix), ``speech_length`` in seconds, ``model`` = the embedding model id."""
    return {
        "channels": [
            {
                "channel_number": ch.channel if ch.channel is not None else 0,
                "voiceprint": ch.voiceprint,
                "speech_length": round(float(ch.speech_s), 2),
                "model": result.embedding_model,
            }
            for ch in result.channels
        ]
    }


def phonexia_comparison(matrix: ScoreMatrix) -> dict[str, Any]:
    """Phonexia's voiceprint comparison ``result``: rows = ``voiceprints_b``, columns =
    ``voiceprints_a``, ``values`` row-major (signed log-likelihood ratios: > 0 = more likely the same
    speaker)."""
    return {
        "scores": {
            "columns_count": matrix.columns_count,
            "rows_count": matrix.rows_count,
            "values": list(matrix.values),
        }
    }


def to_pyannote_json(result: DiarizationResult, indent: int | None = 2) -> str:
    return json.dumps(to_pyannote_dict(result), indent=indent)


def _speaker_id(label: str, ch: ChannelResult) -> int:
    try:
        return ch.speakers.index(label)
    except ValueError:
        digits = "".join(c for c in label if c.isdigit())
        return int(digits) if digits else 0


def to_phonexia_dict(result: DiarizationResult) -> dict[str, Any]:
    """Phonexia speaker-diarization shape: per channel, integer speaker ids, overlap-aware segments."""
    channels = []
    for i, ch in enumerate(result.channels):
        number = ch.channel if ch.channel is not None else i
        segments = [
            {"speaker_id": _speaker_id(t.speaker, ch), "start_time": _t(t.start), "end_time": _t(t.end)}
            for t in ch.diarization
        ]
        channels.append({"channel_number": number, "speakers_count": len(ch.speakers), "segments": segments})
    return {"channels": channels}


def to_phonexia_json(result: DiarizationResult, indent: int | None = 2) -> str:
    return json.dumps(to_phonexia_dict(result), indent=indent)


class TurnLine(NamedTuple):
    """One speaker turn as the line formats write it."""

    channel: int | str  # written as given (RTTM wants the 1-based channel number)
    speaker: str
    start: float
    end: float
    confidence: float | None = None  # 0-100; only the CSV's confidence column shows it


def rttm_lines(turns: Iterable[TurnLine], uri: str) -> str:
    """One ``SPEAKER <uri> <channel> <onset> <duration> <NA> <NA> <speaker> <NA> <NA>`` line per turn,
    in the order given."""
    return "".join(
        f"SPEAKER {uri} {t.channel} {t.start:.3f} {t.end - t.start:.3f} <NA> <NA> {t.speaker} <NA> <NA>\n"
        for t in turns
    )


def csv_lines(
    turns: Iterable[TurnLine], *, duration: bool, confidence: bool, lineterminator: str = "\n"
) -> str:
    """A ``channel,speaker,start,end[,duration][,confidence]`` header, then one row per turn in the order
    given (an unknown confidence is an empty cell)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=lineterminator)
    w.writerow(
        ["channel", "speaker", "start", "end"]
        + (["duration"] if duration else [])
        + (["confidence"] if confidence else [])
    )
    for t in turns:
        row: list[Any] = [t.channel, t.speaker, f"{t.start:.3f}", f"{t.end:.3f}"]
        if duration:
            row.append(f"{t.end - t.start:.3f}")
        if confidence:
            row.append("" if t.confidence is None else f"{t.confidence:.1f}")
        w.writerow(row)
    return buf.getvalue()


def _rttm_uri(name: str) -> str:
    stem = PurePath(name).stem if name else "audio"
    return "".join(c if (c.isalnum() or c in "-_.") else "_" for c in stem) or "audio"


def _rttm_name(label: str) -> str:
    return "_".join(label.split()) or "_"


def to_rttm(
    result: DiarizationResult, file_id: str = "audio", exclusive: bool = False, identified: bool = False
) -> str:
    """RTTM lines sorted by channel, then onset; channel field is 1-based (1 for a downmix).
    ``identified``: the identification's turns, named by their match (whitespace in a label becomes
    ``_``), else by the diarization label."""
    if identified:
        lines = [
            TurnLine((ch.channel or 0) + 1, _rttm_name(t.speaker), t.start, t.end)
            for ch in result.channels
            for t in ch.identification or []
        ]
    else:
        lines = [
            TurnLine((ch.channel or 0) + 1, t.speaker, t.start, t.end)
            for ch in result.channels
            for t in (ch.exclusive_diarization if exclusive else ch.diarization)
        ]
    lines.sort(key=lambda t: (t.channel, t.start, t.end, t.speaker))
    return rttm_lines(lines, _rttm_uri(file_id))


def to_csv(result: DiarizationResult, exclusive: bool = False) -> str:
    """Channels 0-based (``mix`` for a downmix); a confidence column when the turns have confidence."""
    with_conf = any(t.confidence is not None for ch in result.channels for t in ch.diarization)
    lines = (
        TurnLine("mix" if ch.channel is None else ch.channel, t.speaker, t.start, t.end, t.confidence)
        for ch in result.channels
        for t in (ch.exclusive_diarization if exclusive else ch.diarization)
    )
    return csv_lines(lines, duration=True, confidence=with_conf)


class Cue(NamedTuple):
    """A phrase of one speaker, as the subtitle and text formats write it."""

    speaker: str  # already qualified with the channel when there are several
    start: float
    end: float
    text: str


class SpokenItem(Protocol):
    """A word or a turn of a transcript: a :class:`TranscriptItem` or an item of the API's output."""

    @property
    def start(self) -> float: ...
    @property
    def end(self) -> float: ...
    @property
    def text(self) -> str: ...
    @property
    def speaker(self) -> str: ...


class TranscriptChannel(NamedTuple):
    """One channel's transcript as the transcript formats read it, from a result
    (:func:`transcript_channels`) or from the API's output (``diarist.client.render``)."""

    prefix: str  # prepended to every speaker ("ch1 " with several channels, else "")
    words: Sequence[SpokenItem]
    turns: Sequence[SpokenItem]
    joiner: str  # between two words of a cue: " ", or "" for scripts written without spaces


def _speaker_name(ch: ChannelResult, speaker: str, multichannel: bool) -> str:
    return f"ch{(ch.channel or 0) + 1} {speaker}" if multichannel else speaker


def _joiner(result: DiarizationResult, index: int) -> str:
    info = result.transcription
    language = info.languages[index] if info and index < len(info.languages) else None
    return "" if language in _UNSPACED_LANGUAGES else " "


def _require_transcription(result: DiarizationResult) -> None:
    if not any(ch.word_level_transcription is not None for ch in result.channels):
        raise ValueError("this result has no transcription (diarize with transcription to get one)")


def transcript_channels(result: DiarizationResult) -> list[TranscriptChannel]:
    """A transcribed result's channels for the transcript formats (ValueError: not transcribed)."""
    _require_transcription(result)
    multi = len(result.channels) > 1
    return [
        TranscriptChannel(
            _speaker_name(ch, "", multi),
            ch.word_level_transcription or [],
            ch.turn_level_transcription or [],
            _joiner(result, i),
        )
        for i, ch in enumerate(result.channels)
    ]


def cues_of(channels: Iterable[TranscriptChannel]) -> list[Cue]:
    """Every channel's words as cues (see the module docstring), in time order."""
    cues: list[Cue] = []
    for ch in channels:
        join = ch.joiner
        run: list[SpokenItem] = []

        def flush(run: list[SpokenItem], prefix: str = ch.prefix, join: str = join) -> None:
            if run:
                text = join.join(w.text for w in run).strip()
                cues.append(Cue(prefix + run[0].speaker, run[0].start, run[-1].end, text))

        for w in ch.words:
            if run and (
                w.speaker != run[0].speaker
                or w.end - run[0].start > MAX_CUE_S
                or sum(len(x.text) + len(join) for x in run) + len(w.text) > MAX_CUE_CHARS
                or w.start - run[-1].end > MAX_CUE_GAP_S
            ):
                flush(run)
                run = []
            run.append(w)
        flush(run)
    cues.sort(key=lambda c: (c.start, c.end, c.speaker))
    return cues


def transcript_cues(result: DiarizationResult) -> list[Cue]:
    """Every channel's words as cues (see the module docstring), in time order."""
    return cues_of(transcript_channels(result))


def _clock(t: float, sep: str) -> str:
    ms = int(round(max(t, 0.0) * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def vtt_cues(cues: Iterable[Cue]) -> str:
    """WebVTT: a ``WEBVTT`` header, then one cue with a voice tag (``<v SPEAKER_00>``) per cue."""
    blocks = ["WEBVTT\n"]
    for c in cues:
        speaker = _vtt_escape(c.speaker)
        blocks.append(
            f"{_clock(c.start, '.')} --> {_clock(max(c.end, c.start + 0.001), '.')}\n"
            f"<v {speaker}>{_vtt_escape(c.text)}\n"
        )
    return "\n".join(blocks)


def srt_cues(cues: Iterable[Cue]) -> str:
    """SubRip: numbered cues from 1, the speaker prefixed to the text (``SPEAKER_00: ...``)."""
    blocks = [
        f"{i}\n{_clock(c.start, ',')} --> {_clock(max(c.end, c.start + 0.001), ',')}\n{c.speaker}: {c.text}\n"
        for i, c in enumerate(cues, start=1)
    ]
    return "\n".join(blocks)


def text_turns(channels: Iterable[TranscriptChannel], *, hours: bool) -> str:
    """Who said what: one ``[mm:ss.s] SPEAKER_00: text`` line per turn-level item (``[h:mm:ss.s]``
    with ``hours``), every channel's turns merged in time order."""
    rows = sorted((t.start, ch.prefix + t.speaker, t.text) for ch in channels for t in ch.turns)

    def stamp(t: float) -> str:
        m, s = divmod(t, 60)
        h, m = divmod(int(m), 60)
        return f"{h:d}:{m:02d}:{s:04.1f}" if hours else f"{int(m) + 60 * h:02d}:{s:04.1f}"

    return "".join(f"[{stamp(start)}] {speaker}: {text}\n" for start, speaker, text in rows)


def to_vtt(result: DiarizationResult) -> str:
    """WebVTT of a transcribed result (:func:`vtt_cues` of its :func:`transcript_cues`)."""
    return vtt_cues(transcript_cues(result))


def to_srt(result: DiarizationResult) -> str:
    """SubRip of a transcribed result (:func:`srt_cues` of its :func:`transcript_cues`)."""
    return srt_cues(transcript_cues(result))


def to_text(result: DiarizationResult) -> str:
    """Who said what (:func:`text_turns`; hours shown when the recording has them)."""
    return text_turns(transcript_channels(result), hours=result.duration >= 3600)


def render(result: DiarizationResult, fmt: str, file_id: str = "audio") -> str:
    """Dispatch by format name: json | phonexia | rttm | csv | vtt | srt | txt (the last three need a
    transcribed result: ValueError otherwise)."""
    if fmt == "vtt":
        return to_vtt(result)
    if fmt == "srt":
        return to_srt(result)
    if fmt == "txt":
        return to_text(result)
    if fmt == "json":
        return to_pyannote_json(result)
    if fmt == "phonexia":
        return to_phonexia_json(result)
    if fmt == "rttm":
        return to_rttm(result, file_id)
    if fmt == "csv":
        return to_csv(result)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
