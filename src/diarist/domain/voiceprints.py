"""Voiceprints: the blob format, the 0-100 score calibration and the matching rule. Stdlib only.

The API Lambda validates voiceprints with this module (no numpy, no torch); the engine writes and
compares them with it; ``compare_voiceprints`` uses numpy when it is installed, for speed only.

**Blob** (what pyannoteAI's ``voiceprint`` field and Phonexia's ``voiceprint`` carry): standard base64
(RFC 4648, with padding) of the little-endian bytes

    offset  size  field
    0       4     magic ``b"DVPR"``
    4       1     format version (``FORMAT_VERSION``)
    5       1     L = length of the embedding model id (1-64)
    6       L     embedding model id, ASCII ``[A-Za-z0-9._:+-]`` (e.g. ``campplus-3dspeaker-92f29b94e694``)
    6+L     2     dim = number of floats (uint16, 1-``MAX_DIM``)
    8+L     4     seconds of speech the voiceprint was computed from (float32, >= 0)
    12+L    4*dim the speaker embedding, float32, unit L2 norm
    end-4   4     CRC-32 (zlib) of every byte before it (uint32)

Invariants: a blob that ``decode_voiceprint`` accepts has the magic, a known version, a model id, a
consistent length, a matching checksum and a finite unit-norm vector; its base64 text is at most
``MAX_VOICEPRINT_CHARS`` (pyannoteAI's limit for identify's ``voiceprint``). A 192-dim CAM++ voiceprint
is ~1,100 characters. Voiceprints are only ever compared with voiceprints (or speakers) of the *same*
embedding model id: anything else raises :class:`VoiceprintModelMismatch`.

**Scores.** Two voiceprints' cosine similarity ``c`` becomes a log-likelihood ratio
``llr = CALIBRATION_SLOPE * (c - CALIBRATION_CENTER)`` (natural log, "same speaker" vs "different
speakers" at even prior odds) and a 0-100 score ``100 / (1 + exp(-llr))``: 50 is "as likely the same
speaker as not", and the score only grows with the cosine. Phonexia's comparison reports the signed
``llr`` (positive = more likely the same speaker, as Phonexia's calibrated scores); pyannoteAI's identify
reports the 0-100 score, rounded to an integer.

**Matching** (:func:`match_speakers`): a speaker can only match a label whose score is at least the
threshold. Not exclusive: each speaker takes its best label (ties: the label given first), several
speakers may share a label. Exclusive: one label per speaker and one speaker per label, the assignment
with the largest total score (then the most matches), found with the Hungarian algorithm.
"""

from __future__ import annotations

import base64
import binascii
import math
import operator
import re
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from diarist.domain.errors import ErrorCode, VoiceprintInvalid, VoiceprintModelMismatch

MAGIC = b"DVPR"
FORMAT_VERSION = 1
MAX_DIM = 2048
MAX_MODEL_ID_LENGTH = 64
MAX_VOICEPRINT_CHARS = 20_000  # pyannoteAI: identify's ``voiceprints[].voiceprint`` is at most 20,000 chars
MAX_VOICEPRINT_INPUT_S = 30.0  # pyannoteAI: a voiceprint is made from at most 30 s of audio
VOICEPRINT_INPUT_GRACE_S = 0.5  # accepted over the limit: encoders pad (an mp3 of a 30 s cut lasts 30.05 s)
MIN_VOICEPRINT_SPEECH_S = 1.0  # less speech than this: no voiceprint (input_no_speech)
SHORT_VOICEPRINT_SPEECH_S = 5.0  # less speech than this: a voiceprint, with a warning
MAX_VOICEPRINTS = 50  # pyannoteAI: 1-50 voiceprints per identify job
MAX_LABEL_LENGTH = 100  # pyannoteAI: a label is at most 100 characters

# Calibration of the cosine similarity of two CAM++ voiceprints (``campplus-3dspeaker-*``), fitted by
# ``python benchmarks/speaker_verification.py``: a class-balanced logistic regression of "same speaker" on
# the cosine (Platt's targets, so the fit stays finite on classes that do not overlap) over all its trial
# lists pooled: 168 target and 2,628 non-target trials across recordings, from the simulated LibriSpeech
# conversations and the AMI excerpts (enrolment voiceprints x 3-10 s chunks, x whole speakers, chunk x
# chunk; pooled EER 0.6 %). The simulated trials alone do not overlap at all (EER 0 %); the real ones
# place the centre. Numbers and what fails: docs/engine.md, "Voiceprints and identification". Another
# embedding model needs its own fit (see ``calibration_fitted``).
CALIBRATION_CENTER = 0.45  # cosine that scores 50 (log-likelihood ratio 0)
CALIBRATION_SLOPE = 20.0  # log-likelihood ratio per unit of cosine
DEFAULT_THRESHOLD = 50.0  # the recommended ``matching.threshold``: no match below a 50/50 score
CALIBRATED_MODEL_PREFIX = "campplus-3dspeaker-"  # the embedding models the constants above were fitted for

_HEADER = struct.Struct("<4sBB")
_MODEL_ID = re.compile(r"^[A-Za-z0-9._:+-]{1,64}$")
_B64_TEXT = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")


# -- the blob ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Voiceprint:
    """A decoded voiceprint: which embedding model made it, the unit-norm vector, the speech it used."""

    model: str
    vector: tuple[float, ...]
    speech_s: float = 0.0

    @classmethod
    def create(cls, model: str, vector: Sequence[float], speech_s: float = 0.0) -> Voiceprint:
        """A voiceprint of ``vector`` scaled to unit length (refuses an empty, zero or non-finite one)."""
        if not _MODEL_ID.match(model):
            raise ValueError(f"embedding model id {model!r} must be 1-64 characters of [A-Za-z0-9._:+-]")
        values = [float(x) for x in vector]
        if not 1 <= len(values) <= MAX_DIM:
            raise ValueError(f"a voiceprint has 1-{MAX_DIM} values, not {len(values)}")
        norm = math.sqrt(math.fsum(x * x for x in values))
        if not math.isfinite(norm) or norm <= 0.0:
            raise ValueError("a voiceprint vector must be finite and non-zero")
        if not (math.isfinite(speech_s) and speech_s >= 0):
            raise ValueError("speech_s must be a finite number of seconds >= 0")
        return cls(model, tuple(x / norm for x in values), float(speech_s))

    @property
    def dim(self) -> int:
        return len(self.vector)

    def to_bytes(self) -> bytes:
        mid = self.model.encode("ascii")
        body = (
            _HEADER.pack(MAGIC, FORMAT_VERSION, len(mid))
            + mid
            + struct.pack("<Hf", self.dim, self.speech_s)
            + struct.pack(f"<{self.dim}f", *self.vector)
        )
        return body + struct.pack("<I", zlib.crc32(body))

    def to_base64(self) -> str:
        return base64.b64encode(self.to_bytes()).decode("ascii")

    def cosine(self, other: Voiceprint) -> float:
        """Cosine similarity (both are unit vectors); refuses another embedding model's voiceprint."""
        if other.model != self.model or other.dim != self.dim:
            raise VoiceprintModelMismatch(
                f"cannot compare a voiceprint of {other.model!r} with one of {self.model!r}",
                code=ErrorCode.VOICEPRINT_MODEL_MISMATCH,
            )
        return math.fsum(a * b for a, b in zip(self.vector, other.vector, strict=True))


def encode_voiceprint(model: str, vector: Sequence[float], speech_s: float = 0.0) -> str:
    """The base64 text of a voiceprint of ``vector`` (normalised to unit length here)."""
    text = Voiceprint.create(model, vector, speech_s).to_base64()
    if len(text) > MAX_VOICEPRINT_CHARS:  # only with a much larger MAX_DIM than today's
        raise ValueError(f"a voiceprint of {len(text)} characters is over {MAX_VOICEPRINT_CHARS}")
    return text


def decode_voiceprint(
    text: str, expected_model: str | None = None, *, field: str | None = None
) -> Voiceprint:
    """Parse and check a voiceprint's base64 text (whitespace is ignored).

    Raises :class:`VoiceprintInvalid` naming what is wrong (not base64, too long, truncated, not a
    Diarist voiceprint, unsupported version, bad dimension, checksum, vector) and, when
    ``expected_model`` is given, :class:`VoiceprintModelMismatch` for another model's voiceprint.
    ``field`` (e.g. ``voiceprints[2].voiceprint``) prefixes the message and is kept on the error.
    """

    def invalid(why: str) -> VoiceprintInvalid:
        return VoiceprintInvalid(f"{field}: {why}" if field else why, field=field)

    if not isinstance(text, str):
        raise invalid("a voiceprint is a base64 string")
    compact = "".join(text.split())
    if not compact:
        raise invalid("the voiceprint is empty")
    if len(compact) > MAX_VOICEPRINT_CHARS:
        raise invalid(f"the voiceprint has {len(compact)} characters, over the {MAX_VOICEPRINT_CHARS} limit")
    if not _B64_TEXT.match(compact) or len(compact) % 4:
        raise invalid("the voiceprint is not base64 text (truncated, or not a voiceprint?)")
    try:
        raw = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise invalid("the voiceprint is not valid base64") from None
    if len(raw) < _HEADER.size or raw[:4] != MAGIC:
        raise invalid(
            "not a Diarist voiceprint (unknown header); voiceprints made by another service cannot be "
            "used here: make them again with this service"
        )
    _, version, mlen = _HEADER.unpack_from(raw)
    if version != FORMAT_VERSION:
        raise invalid(
            f"voiceprint format version {version} is not supported (this build reads {FORMAT_VERSION})"
        )
    fixed = _HEADER.size + mlen + 6
    if mlen == 0 or len(raw) < fixed + 4:
        raise invalid(f"the voiceprint is truncated ({len(raw)} bytes)")
    try:
        model = raw[_HEADER.size : _HEADER.size + mlen].decode("ascii")
    except UnicodeDecodeError:
        model = ""
    if not _MODEL_ID.match(model):
        raise invalid("the voiceprint's model id is not readable (corrupted?)")
    dim, speech_s = struct.unpack_from("<Hf", raw, _HEADER.size + mlen)
    if not 1 <= dim <= MAX_DIM:
        raise invalid(f"the voiceprint's dimension {dim} is outside 1-{MAX_DIM} (corrupted?)")
    want = fixed + 4 * dim + 4
    if len(raw) != want:
        how = "truncated" if len(raw) < want else "longer than its header says"
        raise invalid(f"the voiceprint is {how} ({len(raw)} bytes, expected {want} for {dim} values)")
    (crc,) = struct.unpack_from("<I", raw, want - 4)
    if zlib.crc32(raw[: want - 4]) != crc:
        raise invalid("the voiceprint's checksum does not match (corrupted or edited)")
    vector = struct.unpack_from(f"<{dim}f", raw, fixed)
    norm = math.sqrt(math.fsum(x * x for x in vector)) if all(map(math.isfinite, vector)) else math.nan
    if not (math.isfinite(speech_s) and speech_s >= 0) or not abs(norm - 1.0) <= 1e-3:
        raise invalid("the voiceprint's values are not a valid embedding (corrupted?)")
    if expected_model is not None and model != expected_model:
        msg = (
            f"this voiceprint was made by the embedding model {model!r}; this service uses "
            f"{expected_model!r}, whose scores cannot be compared with it: make the voiceprint again"
        )
        raise VoiceprintModelMismatch(f"{field}: {msg}" if field else msg, field=field)
    return Voiceprint(model, tuple(vector), float(speech_s))


# -- labels (pyannoteAI's identify rules) ---------------------------------------------------------------


def voiceprint_label_problems(labels: Sequence[str]) -> list[tuple[int | None, str]]:
    """Every broken rule of identify's labels as ``(index or None for the list, message)``: 1-50 labels,
    each 1-100 characters, not starting with ``SPEAKER_`` (any case: diarization labels look like that),
    all different."""
    problems: list[tuple[int | None, str]] = []
    if not 1 <= len(labels) <= MAX_VOICEPRINTS:
        problems.append((None, f"give 1 to {MAX_VOICEPRINTS} voiceprints, not {len(labels)}"))
    seen: set[str] = set()
    for i, label in enumerate(labels):
        if not isinstance(label, str) or not label.strip():
            problems.append((i, "a label must be a non-empty string"))
            continue
        if len(label) > MAX_LABEL_LENGTH:
            problems.append((i, f"a label is at most {MAX_LABEL_LENGTH} characters"))
        if label.lower().startswith("speaker_"):
            problems.append((i, "a label must not start with 'SPEAKER_' (diarization labels do)"))
        if label in seen:
            problems.append((i, f"the label {label!r} is given twice"))
        seen.add(label)
    return problems


# -- calibration --------------------------------------------------------------------------------------


def calibration_fitted(model_id: str) -> bool:
    """Whether the calibration constants were fitted for this embedding model id."""
    return model_id.startswith(CALIBRATED_MODEL_PREFIX)


def log_likelihood_ratio(cosine: float) -> float:
    """Calibrated natural-log likelihood ratio of "same speaker" for a cosine similarity in [-1, 1]."""
    c = min(1.0, max(-1.0, float(cosine)))
    return CALIBRATION_SLOPE * (c - CALIBRATION_CENTER)


def score_from_cosine(cosine: float) -> float:
    """The 0-100 score of a cosine similarity: ``100 * sigmoid(llr)``; non-decreasing, 50 at the centre."""
    llr = log_likelihood_ratio(cosine)
    if llr >= 0:
        return 100.0 / (1.0 + math.exp(-llr))
    e = math.exp(llr)
    return 100.0 * e / (1.0 + e)


def confidence_from_cosine(cosine: float) -> int:
    """The integer 0-100 score pyannoteAI's identify reports (``voiceprints[].confidence``)."""
    return int(min(100, max(0, math.floor(score_from_cosine(cosine) + 0.5))))


# -- comparison (Phonexia) ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreMatrix:
    """Phonexia's comparison result: ``values[j * columns_count + i]`` = llr of b[j] vs a[i]."""

    columns_count: int
    rows_count: int
    values: list[float]


def compare_voiceprints(
    voiceprints_a: Sequence[str], voiceprints_b: Sequence[str], expected_model: str | None = None
) -> ScoreMatrix:
    """Every ``voiceprints_b[j]`` against every ``voiceprints_a[i]``: rows = b, columns = a, row-major,
    each the calibrated log-likelihood ratio rounded to 3 decimals. All voiceprints must come from one
    embedding model (``expected_model``, else the first one's); errors name the offending item."""
    a = [
        decode_voiceprint(t, expected_model, field=f"voiceprints_a[{i}]") for i, t in enumerate(voiceprints_a)
    ]
    b = [
        decode_voiceprint(t, expected_model, field=f"voiceprints_b[{j}]") for j, t in enumerate(voiceprints_b)
    ]
    first = (a + b)[0] if a or b else None
    for name, items in (("voiceprints_a", a), ("voiceprints_b", b)):
        for i, vp in enumerate(items):
            if first is not None and (vp.model != first.model or vp.dim != first.dim):
                raise VoiceprintModelMismatch(
                    f"{name}[{i}]: made by {vp.model!r} while the others were made by {first.model!r}; "
                    "voiceprints of different embedding models cannot be compared",
                    field=f"{name}[{i}]",
                )
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - the API Lambda has no numpy: ~5 us a pair (192 values)
        mul = operator.mul
        values = [round(log_likelihood_ratio(sum(map(mul, y.vector, x.vector))), 3) for y in b for x in a]
    else:
        if not a or not b:
            values = []
        else:
            cos = np.asarray([y.vector for y in b]) @ np.asarray([x.vector for x in a]).T
            llr = CALIBRATION_SLOPE * (np.clip(cos, -1.0, 1.0) - CALIBRATION_CENTER)
            values = [round(float(v), 3) for v in llr.ravel()]
    return ScoreMatrix(columns_count=len(a), rows_count=len(b), values=values)


# -- matching -------------------------------------------------------------------------------------------


def match_speakers(
    scores: Sequence[Sequence[float]], *, exclusive: bool = True, threshold: float = DEFAULT_THRESHOLD
) -> list[int | None]:
    """For each speaker (row of ``scores``; columns = labels in the order given, scores 0-100) the
    index of the label it matches, or None.

    A pair can match only if its score is >= ``threshold`` (0-100; 0 lets every pair match).
    ``exclusive=False``: each speaker takes its highest-scoring label, ties to the earlier label.
    ``exclusive=True``: at most one speaker per label, chosen to maximise the total score of the
    matched pairs (ties: the most matches; remaining ties are broken the same way every time).
    """
    if not (isinstance(threshold, int | float) and 0 <= threshold <= 100):
        raise ValueError("threshold must be a number from 0 to 100")
    rows = [list(map(float, r)) for r in scores]
    if not rows:
        return []
    m = len(rows[0])
    if any(len(r) != m for r in rows):
        raise ValueError("every speaker needs one score per label")
    if m == 0:
        return [None] * len(rows)
    if not exclusive:
        out: list[int | None] = []
        for r in rows:
            best = 0
            for j in range(1, m):
                if r[j] > r[best]:
                    best = j
            out.append(best if r[best] >= threshold else None)
        return out
    # weights: allowed pairs > 0 (a tiny bonus per match), forbidden pairs 0 (never better than no match)
    weights = [[s + 1e-6 if s >= threshold else 0.0 for s in r] for r in rows]
    pairs = _max_weight_assignment(weights)
    result: list[int | None] = [None] * len(rows)
    for i, j in pairs:
        if rows[i][j] >= threshold:
            result[i] = j
    return result


def _max_weight_assignment(weights: list[list[float]]) -> list[tuple[int, int]]:
    """(row, column) pairs of a maximum-weight assignment of min(rows, columns) pairs (rectangular
    Hungarian algorithm, O(n^2 m))."""
    n, m = len(weights), len(weights[0])
    if n > m:
        return [(i, j) for j, i in _max_weight_assignment([list(c) for c in zip(*weights, strict=True)])]
    top = max(max(r) for r in weights)
    cost = [[top - w for w in r] for r in weights]  # minimise
    inf = math.inf
    u = [0.0] * (n + 1)
    v = [0.0] * (m + 1)
    owner = [0] * (m + 1)  # owner[j] = row (1-based) assigned to column j, 0 = free
    way = [0] * (m + 1)
    for i in range(1, n + 1):
        owner[0] = i
        j0 = 0
        minv = [inf] * (m + 1)
        used = [False] * (m + 1)
        while True:
            used[j0] = True
            i0, delta, j1 = owner[j0], inf, 0
            for j in range(1, m + 1):
                if not used[j]:
                    cur = cost[i0 - 1][j - 1] - u[i0] - v[j]
                    if cur < minv[j]:
                        minv[j], way[j] = cur, j0
                    if minv[j] < delta:
                        delta, j1 = minv[j], j
            for j in range(m + 1):
                if used[j]:
                    u[owner[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if owner[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            owner[j0] = owner[j1]
            j0 = j1
    return sorted((owner[j] - 1, j - 1) for j in range(1, m + 1) if owner[j])
