"""Transcription joined with diarization: which ASR model a job asks for and which one runs, the
language rule, and who said each word. Pure: no torch, no faster-whisper (the API imports it).

Models. pyannoteAI's ``transcriptionConfig.model`` names ``parakeet-tdt-0.6b-v3`` (its default) or
``faster-whisper-large-v3-turbo``. A Diarist deployment runs the one faster-whisper model its worker
has (``DeploymentAsr``; the default image and ``scripts/fetch_weights.py``: ``faster-whisper-base``;
a GPU image may bake ``faster-whisper-large-v3-turbo``), whatever the job asks for.

Invariants:

- The accepted names are ``ACCEPTED_TRANSCRIPTION_MODELS`` (pyannoteAI's two and the faster-whisper
  models a deployment can run); anything else is refused at submission naming the allowed values. No
  model (absent or null) means "what this deployment runs", without a warning.
- A job that names a model this deployment does not run gets a warning saying what runs instead
  (``transcription_model_warning``), as ``model_choice`` does for the diarization model: never a
  silent substitution. ``ASR_MODELS`` is the one table from a deployment's model name to its weights
  directory under the model dir.
- ``language`` is a Whisper language code (``WHISPER_LANGUAGES``) or None (detected once per
  channel, on its first minutes of speech, then kept for the whole channel). An English-only model
  given another language transcribes English and the job carries a warning.
- Who said a word is ``attribute_words``: the speaker of the *exclusive* diarization turn that
  overlaps the word most (so a word in overlapped speech goes to the one speaker the exclusive
  diarization keeps there); a word no turn overlaps goes to the nearest turn; with no turn at all,
  to ``UNKNOWN_SPEAKER``. Multichannel audio is transcribed and attributed per channel, against
  that channel's diarization only. ``group_turns`` makes the turn-level items: maximal runs of
  consecutive words of one speaker.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

PARAKEET: Final = "parakeet-tdt-0.6b-v3"
WHISPER_LARGE_V3_TURBO: Final = "faster-whisper-large-v3-turbo"
WHISPER_BASE: Final = "faster-whisper-base"
WHISPER_TINY_EN: Final = "faster-whisper-tiny.en"

DeploymentAsr = Literal["faster-whisper-base", "faster-whisper-tiny.en", "faster-whisper-large-v3-turbo"]
"""The faster-whisper model a deployment's worker runs (``DIARIST_TRANSCRIPTION_MODEL``)."""

DEFAULT_ASR: DeploymentAsr = WHISPER_BASE


@dataclass(frozen=True)
class AsrModel:
    directory: str  # under the engine's model dir (CTranslate2 format: model.bin, config.json, ...)
    english_only: bool
    description: str


ASR_MODELS: dict[DeploymentAsr, AsrModel] = {
    "faster-whisper-base": AsrModel("whisper-base", False, "Whisper base (multilingual, 74 M parameters)"),
    "faster-whisper-tiny.en": AsrModel("whisper-tiny.en", True, "Whisper tiny.en (English only, 39 M)"),
    "faster-whisper-large-v3-turbo": AsrModel(
        "whisper-large-v3-turbo", False, "Whisper large-v3-turbo (multilingual, 809 M parameters)"
    ),
}
"""Each model a deployment can run -> its weights directory under the model dir."""

ACCEPTED_TRANSCRIPTION_MODELS: tuple[str, ...] = (
    PARAKEET,
    WHISPER_LARGE_V3_TURBO,
    WHISPER_BASE,
    WHISPER_TINY_EN,
)

SERVES: dict[DeploymentAsr, frozenset[str]] = {name: frozenset({name}) for name in ASR_MODELS}
"""The requested names each deployment model honours without a warning (parakeet: none)."""

WHISPER_LANGUAGES: tuple[str, ...] = (
    "af", "am", "ar", "as", "az", "ba", "be", "bg", "bn", "bo", "br", "bs", "ca", "cs", "cy", "da", "de",
    "el", "en", "es", "et", "eu", "fa", "fi", "fo", "fr", "gl", "gu", "ha", "haw", "he", "hi", "hr", "ht",
    "hu", "hy", "id", "is", "it", "ja", "jw", "ka", "kk", "km", "kn", "ko", "la", "lb", "ln", "lo", "lt",
    "lv", "mg", "mi", "mk", "ml", "mn", "mr", "ms", "mt", "my", "ne", "nl", "nn", "no", "oc", "pa", "pl",
    "ps", "pt", "ro", "ru", "sa", "sd", "si", "sk", "sl", "sn", "so", "sq", "sr", "su", "sv", "sw", "ta",
    "te", "tg", "th", "tk", "tl", "tr", "tt", "uk", "ur", "uz", "vi", "yi", "yo", "zh", "yue",
)  # fmt: skip
"""The language codes Whisper knows (faster-whisper's tokenizer list)."""

UNKNOWN_SPEAKER: Final = "UNKNOWN"
"""The speaker of a word in a channel where the diarization found nobody."""


class TranscriptionParams(BaseModel):
    """What a job asks of the transcription (its presence on ``JobParams`` means "transcribe")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | None = Field(default=None, description="the requested model name (None: the deployment's)")
    language: str | None = Field(default=None, description="a Whisper language code; None: detected")


def transcription_model_problem(model: str | None) -> str | None:
    """Why ``model`` cannot be asked for (None: it can)."""
    if model is None or model in ACCEPTED_TRANSCRIPTION_MODELS:
        return None
    return f"must be one of {', '.join(ACCEPTED_TRANSCRIPTION_MODELS)} (or null)"


def language_problem(language: str | None) -> str | None:
    """Why ``language`` cannot be asked for (None: it can)."""
    if language is None or language in WHISPER_LANGUAGES:
        return None
    return "must be a Whisper language code such as en, de, fr, es, zh (or null: detected)"


def transcription_warnings(params: TranscriptionParams, deployment: DeploymentAsr) -> list[str]:
    """The warnings a job asking for ``params`` carries on a deployment running ``deployment``."""
    out = []
    model = ASR_MODELS[deployment]
    if params.model is not None and params.model not in SERVES[deployment]:
        out.append(
            f"transcription model {params.model} is not available in this deployment: the job runs "
            f"{deployment} ({model.description})"
        )
    if model.english_only and params.language not in (None, "en"):
        out.append(f"{deployment} transcribes English only; language {params.language} is not honoured")
    return out


# -- who said what -------------------------------------------------------------------------------


@dataclass(frozen=True)
class WordTiming:
    """One recognised word: seconds from the start of the recording; ``text`` as the recogniser
    wrote it (Whisper's words carry their leading space, so joining them rebuilds the sentence)."""

    start: float
    end: float
    text: str
    probability: float | None = None


@dataclass(frozen=True)
class SpeakerSpan:
    """One exclusive diarization turn (no two of a channel overlap)."""

    speaker: str
    start: float
    end: float


@dataclass(frozen=True)
class SpokenText:
    """A word or a turn with its speaker: pyannoteAI's ``{start, end, text, speaker}``."""

    start: float
    end: float
    text: str
    speaker: str


def _speaker_of(word: WordTiming, spans: Sequence[SpeakerSpan], starts: Sequence[float]) -> str:
    if not spans:
        return UNKNOWN_SPEAKER
    # spans are sorted and disjoint (their ends sorted too): the ones overlapping the word are the
    # last ones starting before it ends, back to the first that ends after it starts
    i = bisect.bisect_left(starts, word.end)
    best, best_overlap = None, 0.0
    j = i - 1
    while j >= 0 and spans[j].end > word.start:
        overlap = min(spans[j].end, word.end) - max(spans[j].start, word.start)
        if overlap > best_overlap:
            best, best_overlap = spans[j], overlap
        j -= 1
    if best is not None:
        return best.speaker
    mid = (word.start + word.end) / 2
    near = spans[max(0, i - 1) : i + 1]
    return min(near, key=lambda s: max(s.start - mid, mid - s.end, 0.0)).speaker


def attribute_words(words: Sequence[WordTiming], exclusive: Sequence[SpeakerSpan]) -> list[SpokenText]:
    """Each word with its speaker (the rule in the module docstring), in the order of ``words``."""
    spans = sorted(exclusive, key=lambda s: (s.start, s.end))
    starts = [s.start for s in spans]
    return [SpokenText(w.start, w.end, w.text, _speaker_of(w, spans, starts)) for w in words]


def group_turns(words: Sequence[SpokenText]) -> list[SpokenText]:
    """Turn-level items: each maximal run of consecutive words of one speaker, its text the words
    joined as written (stripped)."""
    turns: list[SpokenText] = []
    run: list[SpokenText] = []
    for w in [*words, None]:
        if run and (w is None or w.speaker != run[0].speaker):
            text = "".join(x.text for x in run).strip()
            turns.append(SpokenText(run[0].start, max(x.end for x in run), text, run[0].speaker))
            run = []
        if w is not None:
            run.append(w)
    return turns
