"""The rules of each job kind's parameters and inputs: one home, asked by every dialect (pure).

Invariants:

- ``param_problems(kind, params, embedding_model)`` lists every broken rule of a job's parameters as
  ``{field, message}`` with pyannoteAI's field names (``voiceprints``, ``voiceprints[3].label``,
  ``voiceprints[1].voiceprint``); an empty list means the job may be created. identify: 1 to
  ``MAX_VOICEPRINTS`` voiceprints with distinct labels of at most 100 characters that do not start
  with ``SPEAKER_`` (any case), each a valid blob of *this deployment's* embedding model (another
  model's scores could not be compared). No other kind carries voiceprints.
- ``comparison_problems`` is Phonexia's comparison: each list 1 to ``MAX_COMPARISON_LIST``
  voiceprints, at most ``max_pairs`` pairs; ``compare`` then decodes every voiceprint (errors name
  ``voiceprints_a[i]`` / ``voiceprints_b[j]``) and scores every pair.
- ``voiceprint_input_problem``: a voiceprint's audio is at most ``MAX_VOICEPRINT_INPUT_BYTES`` and
  ``MAX_VOICEPRINT_INPUT_S`` (+ ``VOICEPRINT_INPUT_GRACE_S`` of encoder padding). The API applies it
  to what it can know cheaply at submission (an uploaded object's size, a WAV/FLAC header's
  duration); the worker's engine applies the same limits to the decoded audio.
- Only a ``diarize`` job transcribes (pyannoteAI: not identify); its ``transcriptionConfig.model``
  and ``.language`` follow ``domain.transcription`` (problems named with those field paths).
"""

from __future__ import annotations

from collections.abc import Sequence

from diarist.domain.errors import VoiceprintError
from diarist.domain.jobs import JobKind, JobParams
from diarist.domain.transcription import TranscriptionParams, language_problem, transcription_model_problem
from diarist.domain.voiceprints import (
    MAX_VOICEPRINT_INPUT_S,
    MAX_VOICEPRINTS,
    VOICEPRINT_INPUT_GRACE_S,
    ScoreMatrix,
    compare_voiceprints,
    decode_voiceprint,
    voiceprint_label_problems,
)

MAX_VOICEPRINT_INPUT_BYTES = 100 << 20  # pyannoteAI: a voiceprint's audio file is at most 100 MiB
MAX_COMPARISON_LIST = 50_000  # Phonexia: each list of a comparison holds 1-50,000 voiceprints
MAX_COMPARISON_PAIRS = 1_000_000  # Phonexia's default cap on len(a) * len(b)

Problem = dict[str, str]


def _problem(field: str, message: str) -> Problem:
    return {"field": field, "message": message}


def _without_field(error: VoiceprintError, field: str) -> str:
    prefix = f"{field}: "
    return error.message[len(prefix) :] if error.message.startswith(prefix) else error.message


def voiceprint_problems(
    labels: Sequence[str], voiceprints: Sequence[str], embedding_model: str
) -> list[Problem]:
    """identify's voiceprints: the labels' rules, then each blob against ``embedding_model``."""
    problems = [
        _problem("voiceprints" if i is None else f"voiceprints[{i}].label", message)
        for i, message in voiceprint_label_problems(list(labels))
    ]
    if len(voiceprints) > MAX_VOICEPRINTS:  # the count is the problem: the blobs are not read
        return problems
    for i, text in enumerate(voiceprints):
        field = f"voiceprints[{i}].voiceprint"
        try:
            decode_voiceprint(text, embedding_model, field=field)
        except VoiceprintError as e:
            problems.append(_problem(field, _without_field(e, field)))
    return problems


def param_problems(kind: JobKind, params: JobParams, embedding_model: str) -> list[Problem]:
    """Every broken rule of a ``kind`` job's ``params`` (empty: the job may be created)."""
    problems = [] if params.transcription is None else _transcription_problems(kind, params.transcription)
    return problems + _voiceprint_param_problems(kind, params, embedding_model)


def _voiceprint_param_problems(kind: JobKind, params: JobParams, embedding_model: str) -> list[Problem]:
    if kind != "identify":
        if params.voiceprints is not None or params.matching is not None:
            return [_problem("voiceprints", f"a {kind} job takes no voiceprints")]
        return []
    if params.voiceprints is None:
        return [_problem("voiceprints", "required: 1 to 50 {label, voiceprint}")]
    labels = [v.label for v in params.voiceprints]
    return voiceprint_problems(labels, [v.voiceprint for v in params.voiceprints], embedding_model)


def _transcription_problems(kind: JobKind, t: TranscriptionParams) -> list[Problem]:
    """Only a diarization transcribes (pyannoteAI: not identify); model and language by
    ``domain.transcription``."""
    if kind != "diarize":
        return [_problem("transcription", f"a {kind} job cannot transcribe (only a diarization can)")]
    problems = []
    if (m := transcription_model_problem(t.model)) is not None:
        problems.append(_problem("transcriptionConfig.model", m))
    if (lang := language_problem(t.language)) is not None:
        problems.append(_problem("transcriptionConfig.language", lang))
    return problems


def comparison_problems(len_a: int, len_b: int, max_pairs: int = MAX_COMPARISON_PAIRS) -> list[Problem]:
    """Phonexia's comparison sizes: each list 1-50,000 voiceprints, at most ``max_pairs`` pairs."""
    problems = [
        _problem(name, f"give 1 to {MAX_COMPARISON_LIST:,} voiceprints, not {n:,}")
        for name, n in (("voiceprints_a", len_a), ("voiceprints_b", len_b))
        if not 1 <= n <= MAX_COMPARISON_LIST
    ]
    if not problems and len_a * len_b > max_pairs:
        problems.append(
            _problem(
                "voiceprints_b",
                f"{len_a:,} x {len_b:,} = {len_a * len_b:,} comparisons, over the {max_pairs:,} limit",
            )
        )
    return problems


class ComparisonRefused(ValueError):
    """A comparison that cannot be made; ``problems`` names each field."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p['field']}: {p['message']}" for p in problems))
        self.problems = problems


def compare(
    voiceprints_a: Sequence[str], voiceprints_b: Sequence[str], embedding_model: str, max_pairs: int
) -> ScoreMatrix:
    """Score every ``voiceprints_b[j]`` against every ``voiceprints_a[i]`` (rows = b, columns = a);
    ``ComparisonRefused`` naming the list or the voiceprint that is wrong."""
    problems = comparison_problems(len(voiceprints_a), len(voiceprints_b), max_pairs)
    if problems:
        raise ComparisonRefused(problems)
    try:
        return compare_voiceprints(voiceprints_a, voiceprints_b, embedding_model)
    except VoiceprintError as e:
        field = e.field or "voiceprints_a"
        raise ComparisonRefused([_problem(field, _without_field(e, field))]) from None


def voiceprint_input_problem(*, size: int | None = None, duration_s: float | None = None) -> str | None:
    """Why audio of ``size`` bytes / ``duration_s`` seconds cannot make a voiceprint (None: it may)."""
    if size is not None and size > MAX_VOICEPRINT_INPUT_BYTES:
        return f"a voiceprint's audio file is at most {MAX_VOICEPRINT_INPUT_BYTES >> 20} MiB; this one has {size:,} bytes"
    if duration_s is not None and duration_s > MAX_VOICEPRINT_INPUT_S + VOICEPRINT_INPUT_GRACE_S:
        return (
            f"a voiceprint is made from at most {MAX_VOICEPRINT_INPUT_S:g} s of audio; this file lasts "
            f"{duration_s:.1f} s: cut an excerpt where the speaker talks"
        )
    return None
