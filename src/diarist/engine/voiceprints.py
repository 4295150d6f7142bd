"""Voiceprints and identification with a loaded engine (imports torch through the models).

One embedding procedure for everything, so voiceprints and diarized speakers are comparable:

1. the file is decoded and diarized by the engine as usual;
2. a speaker's *clean* speech is its turns minus every other speaker's turns (overlap-aware
   diarization); when that leaves less than ``MIN_VOICEPRINT_SPEECH_S``, all of its turns are used;
3. :func:`embed_regions`: the channel is cut into equal pieces of at most ``PIECE_S`` seconds; in each
   piece the embedding back-end pools the frame features under the speaker's 10 ms mask (CAM++: its
   trunk once per piece, masked mean+std statistics, its dense layer); the piece embeddings are unit
   vectors averaged with weights = seconds of the speaker's speech in the piece, then scaled to unit
   length. A voiceprint's audio (<= 30 s) is a single piece.

:func:`make_voiceprint` (pyannoteAI ``/v1/voiceprint``), :func:`identify` (``/v1/identify``) and
:func:`extract_voiceprints` (Phonexia's per-channel extraction) are also ``Engine`` methods. Voiceprints
are checked (format, embedding model) before any audio is decoded. Blob format, calibration and the
matching rule live in ``diarist.domain.voiceprints`` (no torch; Phonexia's comparison is
``diarist.domain.voiceprints.compare_voiceprints``).
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from diarist.domain.errors import AudioInputError, ErrorCode
from diarist.domain.results import (
    ChannelResult,
    ChannelVoiceprint,
    DiarizationResult,
    Identification,
    Turn,
    VoiceprintExtraction,
    VoiceprintResult,
)
from diarist.domain.voiceprints import (
    DEFAULT_THRESHOLD,
    MAX_VOICEPRINT_INPUT_S,
    MIN_VOICEPRINT_SPEECH_S,
    SHORT_VOICEPRINT_SPEECH_S,
    VOICEPRINT_INPUT_GRACE_S,
    Voiceprint,
    calibration_fitted,
    confidence_from_cosine,
    decode_voiceprint,
    voiceprint_label_problems,
)
from diarist.engine.audio import SAMPLE_RATE, AudioStore, DecodedAudio, ProbeInfo, decode, probe
from diarist.engine.embeddings import EmbeddingBackend
from diarist.engine.options import DiarizeOptions, InputLimits

if TYPE_CHECKING:
    from diarist.engine.engine import Engine

Progress = Callable[[float], None]
Region = tuple[float, float]

PIECE_S = 30.0  # longest audio one embedding pass pools over (= the longest voiceprint input)
MASK_HOP = 160  # samples per mask frame (10 ms)
MIN_PIECE_SPEECH_S = 0.1  # a piece with less of the speaker's speech than this is not embedded
VOICEPRINT_MAX_BYTES = 100 << 20  # pyannoteAI: a voiceprint's audio file is at most 100 MiB


# -- regions ------------------------------------------------------------------------------------------


def _merge(regions: Sequence[Region]) -> list[Region]:
    out: list[list[float]] = []
    for s, e in sorted(regions):
        if e <= s:
            continue
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def _subtract(regions: Sequence[Region], holes: Sequence[Region]) -> list[Region]:
    out: list[Region] = []
    holes = _merge(holes)
    for s, e in _merge(regions):
        cur = s
        for hs, he in holes:
            if he <= cur or hs >= e:
                continue
            if hs > cur:
                out.append((cur, hs))
            cur = max(cur, he)
            if cur >= e:
                break
        if cur < e:
            out.append((cur, e))
    return out


def _seconds(regions: Sequence[Region]) -> float:
    return sum(e - s for s, e in regions)


def speaker_regions(turns: Sequence[Turn], speaker: str) -> list[Region]:
    """The speech of ``speaker`` used for its embedding: its turns where nobody else speaks, or all of
    its turns when that is under ``MIN_VOICEPRINT_SPEECH_S`` (a speaker heard only in overlap)."""
    own = [(t.start, t.end) for t in turns if t.speaker == speaker]
    others = [(t.start, t.end) for t in turns if t.speaker != speaker]
    clean = _subtract(own, others)
    return clean if _seconds(clean) >= MIN_VOICEPRINT_SPEECH_S else _merge(own)


def talk_time(channel: ChannelResult) -> dict[str, float]:
    """Seconds each speaker holds the floor (exclusive diarization), in the channel's speaker order."""
    out = dict.fromkeys(channel.speakers, 0.0)
    for t in channel.exclusive_diarization:
        out[t.speaker] = out.get(t.speaker, 0.0) + (t.end - t.start)
    return out


# -- embeddings ---------------------------------------------------------------------------------------


def embed_regions(
    backend: EmbeddingBackend, store: AudioStore, region_sets: Sequence[Sequence[Region]]
) -> list[np.ndarray | None]:
    """One unit-norm embedding per set of regions (seconds) of ``store``'s channel, None for a set with
    too little speech. Deterministic; the audio is read one piece (<= ``PIECE_S``) at a time."""
    n = store.num_samples
    dim = backend.dimension
    acc = np.zeros((len(region_sets), dim), dtype=np.float64)
    weight = np.zeros(len(region_sets), dtype=np.float64)
    num_pieces = max(1, math.ceil(n / (PIECE_S * SAMPLE_RATE) - 1e-9))
    bounds = np.linspace(0, n, num_pieces + 1).round().astype(np.int64)
    merged = [_merge(r) for r in region_sets]
    for p0, p1 in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        length = p1 - p0
        num_frames = math.ceil(length / MASK_HOP)
        masks, which = [], []
        for k, regions in enumerate(merged):
            m = np.zeros(num_frames, dtype=np.float32)
            for s, e in regions:
                a, b = max(p0, int(round(s * SAMPLE_RATE))), min(p1, int(round(e * SAMPLE_RATE)))
                if b > a:
                    m[(a - p0) // MASK_HOP : math.ceil((b - p0) / MASK_HOP)] = 1.0
            if m.sum() * MASK_HOP / SAMPLE_RATE >= MIN_PIECE_SPEECH_S:
                masks.append(m)
                which.append(k)
        if not masks:
            continue
        audio = store.read(p0, length)
        emb = backend.embed_block(audio, np.zeros(len(masks), dtype=np.int64), length, np.stack(masks))
        for k, e, m in zip(which, emb.astype(np.float64), masks, strict=True):
            norm = float(np.linalg.norm(e))
            if not math.isfinite(norm) or norm <= 0:
                continue
            secs = float(m.sum()) * MASK_HOP / SAMPLE_RATE
            acc[k] += secs * e / norm
            weight[k] += secs
    out: list[np.ndarray | None] = []
    for k in range(len(region_sets)):
        norm = float(np.linalg.norm(acc[k]))
        out.append(acc[k] / norm if weight[k] > 0 and norm > 0 else None)
    return out


# -- decoding -----------------------------------------------------------------------------------------


@contextmanager
def _decoded(
    engine: Engine,
    path: Path,
    limits: InputLimits,
    channel_mode: Literal["split", "mix"],
    max_duration_s: float | None = None,
) -> Iterator[DecodedAudio]:
    """The decoded input in a scratch directory removed afterwards. With ``max_duration_s`` (voiceprint
    input) longer audio is refused with ``input_too_long_for_voiceprint``, before decoding if the
    container declares its duration."""

    def too_long(seconds: str) -> AudioInputError:
        return AudioInputError(
            f"a voiceprint is made from at most {MAX_VOICEPRINT_INPUT_S:g} s of audio; this input lasts "
            f"{seconds} s: cut an excerpt where the speaker talks",
            code=ErrorCode.INPUT_TOO_LONG_FOR_VOICEPRINT,
        )

    if max_duration_s is not None:
        limits = limits.model_copy(update={"max_duration_s": min(limits.max_duration_s, max_duration_s)})
    info = probe(path, limits) if max_duration_s is None else _probe_short(path, limits, too_long)
    work = Path(tempfile.mkdtemp(prefix="diarist-", dir=engine.settings.work_dir))
    try:
        try:
            decoded = decode(path, work, limits, channel_mode, info)
        except AudioInputError as exc:
            if max_duration_s is not None and exc.code == ErrorCode.INPUT_TOO_LONG:
                raise too_long(f"more than {max_duration_s:g}") from None
            raise
        yield decoded
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _probe_short(path: Path, limits: InputLimits, too_long: Callable[[str], AudioInputError]) -> ProbeInfo:
    try:
        info = probe(path, limits)
    except AudioInputError as exc:
        if exc.code == ErrorCode.INPUT_TOO_LONG:
            raise too_long(f"more than {limits.max_duration_s:g}") from None
        raise
    if info.duration is not None and info.duration > limits.max_duration_s:
        raise too_long(f"{info.duration:.1f}")
    return info


def _scaled(progress: Progress | None, lo: float, hi: float) -> Progress:
    def report(pct: float) -> None:
        if progress is not None:
            progress(lo + (hi - lo) * min(100.0, max(0.0, pct)) / 100.0)

    return report


def _speaker_embeddings(
    engine: Engine, path: Path, channel: ChannelResult, speakers: Sequence[str]
) -> list[tuple[np.ndarray | None, float]]:
    """(embedding or None, seconds of speech used) for each of ``speakers`` of the decoded ``path``."""
    regions = [speaker_regions(channel.diarization, s) for s in speakers]
    num_samples = path.stat().st_size // 4
    with AudioStore(path, num_samples) as store:
        embs = embed_regions(engine.models.embedding, store, regions)
    return [(e, round(_seconds(r), 2)) for e, r in zip(embs, regions, strict=True)]


# -- pyannoteAI: voiceprint ---------------------------------------------------------------------------


def make_voiceprint(
    engine: Engine, path: str | Path, *, limits: InputLimits | None = None, progress: Progress | None = None
) -> VoiceprintResult:
    """The voiceprint of the most talkative speaker of a <= 30 s recording (channels downmixed).

    Raises AudioInputError: ``input_too_long_for_voiceprint`` over 30 s (+0.5 s of encoder padding),
    ``input_no_speech`` with less than 1 s of that speaker's speech, and the usual input codes.
    Several speakers: a warning names the one used.
    """
    limits = limits or InputLimits(max_bytes=VOICEPRINT_MAX_BYTES)
    report = _scaled(progress, 0.0, 95.0)
    report(0.0)
    with _decoded(
        engine, Path(path), limits, "mix", MAX_VOICEPRINT_INPUT_S + VOICEPRINT_INPUT_GRACE_S
    ) as decoded:
        result = engine._diarize_decoded(
            decoded, DiarizeOptions(channel_mode="mix", confidence=False), report, None
        )
        channel = result.channels[0]
        talk = talk_time(channel)
        if not talk:
            raise AudioInputError(
                "no speech found in the audio: a voiceprint needs at least "
                f"{MIN_VOICEPRINT_SPEECH_S:g} s of one speaker's speech",
                code=ErrorCode.INPUT_NO_SPEECH,
            )
        speaker = max(talk, key=talk.__getitem__)
        ((vector, speech_s),) = _speaker_embeddings(engine, decoded.paths[0], channel, [speaker])
    if vector is None or speech_s < MIN_VOICEPRINT_SPEECH_S:
        raise AudioInputError(
            f"only {speech_s:.1f} s of speech found: a voiceprint needs at least {MIN_VOICEPRINT_SPEECH_S:g} s "
            "of one speaker's speech",
            code=ErrorCode.INPUT_NO_SPEECH,
        )
    warnings = [w for w in result.warnings if "no speech" not in w]
    if len(talk) > 1:
        total = sum(talk.values())
        warnings.append(
            f"{len(talk)} speakers found; the voiceprint is of the most talkative one ({speaker}: "
            f"{talk[speaker]:.1f} s of {total:.1f} s of speech)"
        )
    if speech_s < SHORT_VOICEPRINT_SPEECH_S:
        warnings.append(
            f"the voiceprint is made from only {speech_s:.1f} s of speech; matches are less reliable"
        )
    vp = Voiceprint.create(engine.embedding_model_id, vector.tolist(), speech_s)
    if progress is not None:
        progress(100.0)
    return VoiceprintResult(
        voiceprint=vp.to_base64(),
        embedding_model=vp.model,
        speaker=speaker,
        speech_s=speech_s,
        num_speakers=len(talk),
        duration=result.duration,
        model=result.model,
        warnings=warnings,
    )


# -- Phonexia: voiceprint per channel -----------------------------------------------------------------


def extract_voiceprints(
    engine: Engine,
    path: str | Path,
    *,
    channel_mode: Literal["split", "mix"] = "split",
    limits: InputLimits | None = None,
    progress: Progress | None = None,
) -> VoiceprintExtraction:
    """One voiceprint per channel (Phonexia), from the whole file: each channel's most talkative
    speaker (a warning when a channel has several). Channels with less than 1 s of speech are left out
    with a warning; ``input_no_speech`` when no channel has enough."""
    limits = limits or InputLimits()
    report = _scaled(progress, 0.0, 95.0)
    report(0.0)
    channels: list[ChannelVoiceprint] = []
    with _decoded(engine, Path(path), limits, channel_mode) as decoded:
        options = DiarizeOptions(channel_mode=channel_mode, confidence=False)
        result = engine._diarize_decoded(decoded, options, report, None)
        warnings = list(result.warnings)
        for ch, p in zip(result.channels, decoded.paths, strict=True):
            where = "the audio" if ch.channel is None else f"channel {ch.channel}"
            talk = talk_time(ch)
            if not talk:
                warnings.append(f"{where}: no speech, no voiceprint")
                continue
            speaker = max(talk, key=talk.__getitem__)
            ((vector, speech_s),) = _speaker_embeddings(engine, p, ch, [speaker])
            if vector is None or speech_s < MIN_VOICEPRINT_SPEECH_S:
                warnings.append(f"{where}: only {speech_s:.1f} s of speech, no voiceprint")
                continue
            if len(talk) > 1:
                warnings.append(
                    f"{where}: {len(talk)} speakers found; the voiceprint is of the most talkative one "
                    f"({speaker}: {talk[speaker]:.1f} s of {sum(talk.values()):.1f} s of speech)"
                )
            vp = Voiceprint.create(engine.embedding_model_id, vector.tolist(), speech_s)
            channels.append(
                ChannelVoiceprint(
                    channel=ch.channel,
                    voiceprint=vp.to_base64(),
                    speech_s=speech_s,
                    speaker=speaker,
                    num_speakers=len(talk),
                )
            )
    if not channels:
        raise AudioInputError(
            f"no channel has {MIN_VOICEPRINT_SPEECH_S:g} s of speech: no voiceprint can be made",
            code=ErrorCode.INPUT_NO_SPEECH,
        )
    if progress is not None:
        progress(100.0)
    return VoiceprintExtraction(
        duration=result.duration,
        num_channels=result.num_channels,
        channel_mode=result.channel_mode,
        channels=channels,
        embedding_model=engine.embedding_model_id,
        model=result.model,
        warnings=warnings,
    )


# -- pyannoteAI: identify -----------------------------------------------------------------------------


def check_voiceprints(engine: Engine, voiceprints: Mapping[str, str]) -> list[Voiceprint]:
    """Decode ``{label: base64}`` (in order) for this engine; ValueError for bad labels,
    VoiceprintInvalid / VoiceprintModelMismatch naming ``voiceprints[i].voiceprint``."""
    labels = list(voiceprints)
    problems = voiceprint_label_problems(labels)
    if problems:
        raise ValueError(
            "; ".join(
                f"voiceprints[{i}].label: {m}" if i is not None else f"voiceprints: {m}" for i, m in problems
            )
        )
    return [
        decode_voiceprint(text, engine.embedding_model_id, field=f"voiceprints[{i}].voiceprint")
        for i, text in enumerate(voiceprints.values())
    ]


def identify(
    engine: Engine,
    path: str | Path,
    voiceprints: Mapping[str, str],
    options: DiarizeOptions | None = None,
    *,
    exclusive: bool = True,
    threshold: float = DEFAULT_THRESHOLD,
    limits: InputLimits | None = None,
    progress: Progress | None = None,
) -> DiarizationResult:
    """Diarize ``path``, then match every diarized speaker (per channel) to the voiceprints
    ``{label: base64}``: a 0-100 score per (speaker, label), the matching rule of
    ``diarist.domain.voiceprints.match_speakers`` (``exclusive``, ``threshold``) within each channel.

    The voiceprints are checked first (nothing is decoded if one is invalid or of another model).
    Returns the diarization with ``identification`` turns and ``voiceprintMatches`` on each channel.
    """
    if not (isinstance(threshold, int | float) and 0 <= threshold <= 100):
        raise ValueError("threshold must be a number from 0 to 100")
    prints = check_voiceprints(engine, voiceprints)
    labels = list(voiceprints)
    options = options or DiarizeOptions()
    limits = limits or InputLimits()
    report = _scaled(progress, 0.0, 90.0)
    report(0.0)
    with _decoded(engine, Path(path), limits, options.channel_mode) as decoded:
        result = engine._diarize_decoded(decoded, options, report, None)
        matrix = np.asarray([vp.vector for vp in prints], dtype=np.float64)  # (labels, dim)
        channels = []
        for ch, p in zip(result.channels, decoded.paths, strict=True):
            embs = _speaker_embeddings(engine, p, ch, ch.speakers) if ch.speakers else []
            scores = [
                [confidence_from_cosine(float(c)) for c in (matrix @ e)]
                if e is not None
                else [0] * len(labels)
                for e, _ in embs
            ]
            channels.append(ch.identified(labels, scores, exclusive=exclusive, threshold=threshold))
    warnings = list(result.warnings)
    for label, vp in zip(labels, prints, strict=True):
        if vp.speech_s < SHORT_VOICEPRINT_SPEECH_S:
            warnings.append(
                f"the voiceprint {label!r} was made from {vp.speech_s:.1f} s of speech; its scores are less reliable"
            )
    if not calibration_fitted(engine.embedding_model_id):
        warnings.append(
            f"the 0-100 scores were calibrated for CAM++, not for {engine.embedding_model_id}: treat them as a ranking"
        )
    if progress is not None:
        progress(100.0)
    return result.model_copy(
        update={
            "channels": channels,
            "warnings": warnings,
            "identification": Identification(
                labels=labels,
                exclusive=exclusive,
                threshold=threshold,
                embedding_model=engine.embedding_model_id,
            ),
        }
    )
