"""Speech recognition for transcription joined with diarization: faster-whisper (CTranslate2) with
word timestamps and its bundled Silero VAD, from a local model directory only (never a hub name).

No torch here (CTranslate2 and onnxruntime). Invariants:

- Memory is bounded whatever the duration: a channel is read from its decoded file on disk
  (``audio.AudioStore``) one chunk of at most ``chunk_s`` (+ ``MIN_TAIL_S``) seconds at a time; the whole waveform is
  never in memory. Chunks are cut at the quietest 50 ms within the ``CUT_SEARCH_S`` seconds before
  the nominal boundary (``cut_points``), so a cut rarely falls inside a word.
- Language: the one given, else detected on the first chunk that has speech and then kept for the
  rest of the channel (a channel is one language).
- Word times are seconds from the start of the recording (chunk offset added).
- Who said each word is the domain's rule (``ChannelResult.transcribed``), not this module's.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from diarist.domain.transcription import WordTiming
from diarist.engine.audio import SAMPLE_RATE, AudioStore

log = logging.getLogger(__name__)

CUT_SEARCH_S = 20.0
CUT_FRAME_S = 0.05
MIN_TAIL_S = (
    10.0  # a last chunk shorter than this is joined to the one before (Whisper hallucinates on scraps)
)


def cut_points(num_samples: int, chunk_s: float, quietest: Callable[[int, int], int]) -> list[int]:
    """Chunk boundaries (sample indices, ending with ``num_samples``): each chunk at most ``chunk_s``
    long (the last one at most ``MIN_TAIL_S`` longer, rather than leaving a scrap), cut where
    ``quietest(lo, hi)`` (a sample in ``[lo, hi)``) says, within the last ``CUT_SEARCH_S`` seconds
    before the nominal boundary."""
    chunk = int(chunk_s * SAMPLE_RATE)
    search = min(int(CUT_SEARCH_S * SAMPLE_RATE), chunk // 2)
    tail = int(MIN_TAIL_S * SAMPLE_RATE)
    cuts, start = [], 0
    while start + chunk + tail < num_samples:
        cut = quietest(start + chunk - search, start + chunk)
        cuts.append(cut)
        start = cut
    return [*cuts, num_samples]


def quietest_sample(store: AudioStore, lo: int, hi: int) -> int:
    """The centre of the quietest ``CUT_FRAME_S`` frame of ``[lo, hi)`` (frame energy)."""
    frame = int(CUT_FRAME_S * SAMPLE_RATE)
    x = store.read(lo, hi - lo)
    n = len(x) // frame
    if n == 0:
        return hi
    energy = (x[: n * frame].reshape(n, frame).astype(np.float64) ** 2).mean(axis=1)
    return lo + int(np.argmin(energy)) * frame + frame // 2


@dataclass
class ChannelTranscript:
    words: list[WordTiming] = field(default_factory=list)
    language: str | None = None
    language_probability: float | None = None


class Transcriber:
    """A loaded faster-whisper model. One transcription at a time."""

    def __init__(
        self,
        model_dir: Path,
        name: str,
        *,
        device: str = "auto",
        compute_type: str = "auto",
        cpu_threads: int | None = None,
        beam_size: int = 5,
        chunk_s: float = 300.0,
    ) -> None:
        import ctranslate2
        from faster_whisper import WhisperModel

        if device == "auto":
            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        if compute_type == "auto":
            compute_type = "float16" if device == "cuda" else "int8"
        self.name = name
        self.device = device
        self.beam_size = beam_size
        self.chunk_s = chunk_s
        self.model = WhisperModel(
            str(model_dir),
            device=device,
            compute_type=compute_type,
            cpu_threads=cpu_threads or os.cpu_count() or 1,
            local_files_only=True,
        )
        self.english_only = not self.model.model.is_multilingual

    def transcribe(
        self,
        store: AudioStore,
        language: str | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> ChannelTranscript:
        """The words of one decoded channel, chunk by chunk (``progress``: fraction 0..1)."""
        out = ChannelTranscript(language="en" if self.english_only else language)
        cuts = cut_points(store.num_samples, self.chunk_s, lambda lo, hi: quietest_sample(store, lo, hi))
        start = 0
        total = max(store.num_samples, 1)
        for end in cuts:
            audio = store.read(start, end - start)
            offset = start / SAMPLE_RATE
            segments, info = self.model.transcribe(
                audio,
                language=out.language,
                word_timestamps=True,
                vad_filter=True,
                beam_size=self.beam_size,
                condition_on_previous_text=False,
            )
            got_words = False
            for seg in segments:
                for w in seg.words or []:
                    got_words = True
                    out.words.append(
                        WordTiming(
                            start=round(offset + float(w.start), 3),
                            end=round(offset + float(w.end), 3),
                            text=w.word,
                            probability=round(float(w.probability), 3),
                        )
                    )
                if progress is not None:
                    progress(min(1.0, (start + float(seg.end) * SAMPLE_RATE) / total))
            if got_words and out.language is None:
                out.language = info.language
                out.language_probability = round(float(info.language_probability), 3)
            del audio
            start = end
            if progress is not None:
                progress(end / total)
        return out


def load_transcriber(settings: Any) -> Transcriber:
    """The ASR model of ``settings`` (``EngineSettings``): EngineSetupError if its weights are missing."""
    d = settings.check_asr()
    return Transcriber(
        d,
        settings.transcription_model,
        device=settings.device,
        compute_type=settings.asr_compute_type,
        cpu_threads=settings.num_threads,
        beam_size=settings.asr_beam_size,
        chunk_s=settings.asr_chunk_s,
    )
