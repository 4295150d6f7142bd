"""The Engine: an input file -> DiarizationResult, one channel diarizer run per decoded channel (and,
when asked, one transcription per decoded channel, its words attributed to that channel's speakers).

Imports torch (via the models). Progress is reported in percent, 0 to 100, never decreasing.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from diarist.domain.results import (
    ChannelResult,
    Confidence,
    DiarizationResult,
    TranscriptionInfo,
    Turn,
    VoiceprintExtraction,
    VoiceprintResult,
)
from diarist.domain.voiceprints import DEFAULT_THRESHOLD
from diarist.engine import voiceprints
from diarist.engine.audio import SILENCE_PEAK, AudioStore, DecodedAudio, decode, probe
from diarist.engine.channel_diarizer import ChannelDiarizer, ChannelOutput, TurnRow, no_speech_confidence
from diarist.engine.hyperparameters import Hyperparameters
from diarist.engine.models import LoadedModels, load_models
from diarist.engine.options import DiarizeOptions, InputLimits
from diarist.engine.settings import EngineSettings
from diarist.engine.transcription import ChannelTranscript, Transcriber, load_transcriber

Progress = Callable[[float], None]  # percent, 0..100, non-decreasing


def _label(i: int) -> str:
    return f"SPEAKER_{i:02d}"


class Engine:
    """A loaded diarization engine. Thread-compatible, not thread-safe: one diarization at a time."""

    def __init__(self, settings: EngineSettings, models: LoadedModels, load_seconds: float = 0.0) -> None:
        self.settings = settings
        self.models = models
        self.load_seconds = load_seconds
        self.hyperparameters = models.hyperparameters
        self._transcriber: Transcriber | None = None

    def transcriber(self) -> Transcriber:
        """The ASR model, loaded on the first transcription (EngineSetupError if its weights are
        missing): a deployment that never transcribes never loads it."""
        if self._transcriber is None:
            t0 = time.perf_counter()
            self._transcriber = load_transcriber(self.settings)
            self.load_seconds += time.perf_counter() - t0
        return self._transcriber

    @property
    def model_name(self) -> str:
        return self.models.name

    @property
    def device(self) -> str:
        return self.models.device.type

    @property
    def embedding_model_id(self) -> str:
        """The id written into (and required of) voiceprints, e.g. ``campplus-3dspeaker-92f29b94e694``."""
        return self.models.embedding_id

    def channel_diarizer(self, hyperparameters: Hyperparameters | None = None) -> ChannelDiarizer:
        return ChannelDiarizer(
            self.models.segmentation,
            self.models.embedding,
            self.models.device,
            hyperparameters or self.hyperparameters,
        )

    def diarize(
        self,
        path: str | Path,
        options: DiarizeOptions | None = None,
        progress: Progress | None = None,
        *,
        limits: InputLimits | None = None,
        hyperparameters: Hyperparameters | None = None,
    ) -> DiarizationResult:
        """Diarize a local audio/video file. Raises AudioInputError (coded) for unusable input."""
        options = options or DiarizeOptions()
        limits = limits or InputLimits()
        path = Path(path)
        last = [0.0]

        def report(pct: float) -> None:
            pct = min(100.0, max(last[0], pct))
            last[0] = pct
            if progress is not None:
                progress(pct)

        report(0.0)
        info = probe(path, limits)
        work = Path(tempfile.mkdtemp(prefix="diarist-", dir=self.settings.work_dir))
        try:
            decoded = decode(path, work, limits, options.channel_mode, info)
            report(5.0)
            return self._diarize_decoded(decoded, options, report, hyperparameters)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _diarize_decoded(
        self,
        decoded: DecodedAudio,
        options: DiarizeOptions,
        report: Progress,
        hyperparameters: Hyperparameters | None,
    ) -> DiarizationResult:
        diarizer = self.channel_diarizer(hyperparameters)
        transcriber = self.transcriber() if options.transcribe else None
        channels: list[ChannelResult] = []
        warnings: list[str] = []
        transcripts: list[ChannelTranscript] = []
        numbers = decoded.channel_numbers()
        n = len(numbers)
        # with a transcription, recognition takes most of the time: diarization gets 40 % of the bar
        share = 0.4 if transcriber is not None else 1.0
        for idx, (ch, p, peak) in enumerate(zip(numbers, decoded.paths, decoded.peaks, strict=True)):
            where = "the audio" if ch is None else f"channel {ch}"

            def on_progress(frac: float, idx: int = idx) -> None:
                report(5.0 + 94.0 * (idx + share * frac) / n)

            def on_asr_progress(frac: float, idx: int = idx) -> None:
                report(5.0 + 94.0 * (idx + share + (1 - share) * frac) / n)

            if peak < SILENCE_PEAK:
                out = ChannelOutput([], [], 0, None)
                warnings.append(f"{where} is silent")
                if options.confidence:
                    out.confidence = no_speech_confidence(decoded.duration)
            else:
                with AudioStore(p, decoded.num_samples) as store:
                    out = diarizer.run(
                        store,
                        options.num_speakers,
                        options.min_speakers,
                        options.max_speakers,
                        progress=on_progress,
                        want_confidence=options.confidence,
                    )
            if out.num_speakers == 0 and peak >= SILENCE_PEAK:
                warnings.append(f"no speech detected in {where}")
            lo = options.num_speakers or options.min_speakers
            hi = options.num_speakers or options.max_speakers
            if out.num_speakers and ((lo and out.num_speakers < lo) or (hi and out.num_speakers > hi)):
                warnings.append(
                    f"{where}: found {out.num_speakers} speakers, outside the requested "
                    f"[{lo or 1}, {hi or 'any'}] (too little speech to separate more)"
                )
            result = self._channel_result(ch, out, options)
            if transcriber is not None:
                transcript = ChannelTranscript()
                if peak >= SILENCE_PEAK:
                    with AudioStore(p, decoded.num_samples) as store:
                        transcript = transcriber.transcribe(store, options.language, on_asr_progress)
                if not transcript.words and peak >= SILENCE_PEAK:
                    warnings.append(f"no words recognised in {where}")
                transcripts.append(transcript)
                result = result.transcribed(transcript.words)
            channels.append(result)
        report(100.0)
        return DiarizationResult(
            duration=round(decoded.duration, 3),
            sample_rate=decoded.source_sample_rate,
            num_channels=decoded.source_channels,
            channel_mode=decoded.channel_mode,
            channels=channels,
            model=self.model_name,
            warnings=warnings,
            transcription=(
                None
                if transcriber is None
                else TranscriptionInfo(
                    model=transcriber.name,
                    languages=[t.language for t in transcripts],
                    language_probability=[t.language_probability for t in transcripts],
                )
            ),
        )

    # -- voiceprints and identification (diarist.engine.voiceprints) -----------------------------------------
    def voiceprint(
        self, path: str | Path, *, limits: InputLimits | None = None, progress: Progress | None = None
    ) -> VoiceprintResult:
        """pyannoteAI's voiceprint: the most talkative speaker of <= 30 s of audio (see
        ``voiceprints.make_voiceprint``; ``input_too_long_for_voiceprint``, ``input_no_speech``)."""
        return voiceprints.make_voiceprint(self, path, limits=limits, progress=progress)

    def identify(
        self,
        path: str | Path,
        voiceprints_by_label: Mapping[str, str],
        options: DiarizeOptions | None = None,
        *,
        exclusive: bool = True,
        threshold: float = DEFAULT_THRESHOLD,
        limits: InputLimits | None = None,
        progress: Progress | None = None,
    ) -> DiarizationResult:
        """pyannoteAI's identify: diarize, then match speakers to ``{label: voiceprint}`` (see
        ``voiceprints.identify``; VoiceprintError before any decoding for a bad voiceprint)."""
        return voiceprints.identify(
            self,
            path,
            voiceprints_by_label,
            options,
            exclusive=exclusive,
            threshold=threshold,
            limits=limits,
            progress=progress,
        )

    def extract_voiceprints(
        self,
        path: str | Path,
        *,
        channel_mode: Literal["split", "mix"] = "split",
        limits: InputLimits | None = None,
        progress: Progress | None = None,
    ) -> VoiceprintExtraction:
        """Phonexia's voiceprint extraction: one voiceprint per channel (see ``voiceprints.extract_voiceprints``)."""
        return voiceprints.extract_voiceprints(
            self, path, channel_mode=channel_mode, limits=limits, progress=progress
        )

    @staticmethod
    def _channel_result(ch: int | None, out: ChannelOutput, options: DiarizeOptions) -> ChannelResult:
        def turns(rows: list[TurnRow]) -> list[Turn]:
            return [
                Turn(
                    speaker=_label(k),
                    start=s,
                    end=e,
                    confidence=round(100 * c, 1) if options.confidence else None,
                    speaker_confidence=(
                        {_label(j): int(round(100 * v)) for j, v in sorted(per.items())}
                        if options.confidence
                        else None
                    ),
                )
                for s, e, k, c, per in rows
            ]

        conf = None
        if options.confidence and out.confidence is not None:
            conf = Confidence(score=[int(v) for v in out.confidence])
        return ChannelResult(
            channel=ch,
            speakers=[_label(i) for i in range(out.num_speakers)],
            diarization=turns(out.turns),
            exclusive_diarization=turns(out.exclusive),
            confidence=conf,
        )


def load_engine(settings: EngineSettings | None = None, **overrides: Any) -> Engine:
    """Check settings (fail fast if weights are missing), then load the models once."""
    settings = settings or EngineSettings(**overrides)
    settings.check()
    t0 = time.perf_counter()
    models = load_models(settings)
    return Engine(settings, models, load_seconds=time.perf_counter() - t0)
