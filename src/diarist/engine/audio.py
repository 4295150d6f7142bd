"""Audio input: probe with ffprobe, decode with ffmpeg to 16 kHz float32 files on disk, one per channel.

Everything FFmpeg can decode is accepted (wav, flac, mp3, m4a/aac, ogg/opus, webm, the audio track of a
video). Limits are checked as early as possible: file size before anything, the declared duration from
ffprobe, and the decoded duration *while* ffmpeg streams (the decoder is killed as soon as the limit is
crossed). Every failure is an :class:`~diarist.domain.errors.AudioInputError` with a stable code; every
subprocess has a timeout. No torch here.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from diarist.domain.errors import AudioInputError, ErrorCode
from diarist.engine.options import InputLimits

SAMPLE_RATE = 16000
SILENCE_PEAK = 10 ** (-80 / 20)  # below -80 dBFS everywhere = digital silence
_BLOCK_FRAMES = 1 << 16  # frames read from ffmpeg per read

# leading bytes of containers that FFmpeg would recognise as audio: a probe failure on these is corruption,
# on anything else the input is simply not a supported audio/video file
_AUDIO_MAGICS: tuple[bytes, ...] = (
    b"RIFF",
    b"RF64",
    b"OggS",
    b"fLaC",
    b"ID3",
    b"\xff\xfb",
    b"\xff\xf3",
    b"\xff\xf2",
    b"\xff\xf1",
    b"\xff\xf9",
    b"\x1a\x45\xdf\xa3",
    b"FORM",
    b"#!AMR",
    b"caff",
    b"MThd",
    b".snd",
    b"wvpk",
    b"MAC ",
)
_NON_AUDIO_FORMATS = {"tty", "image2", "png_pipe", "jpeg_pipe", "gif", "bmp_pipe", "webp_pipe", "svg_pipe"}


@dataclass(frozen=True)
class ProbeInfo:
    format_name: str
    codec_name: str
    channels: int
    sample_rate: int
    duration: float | None


@dataclass
class DecodedAudio:
    """Decoded audio on disk: ``paths[i]`` holds mono float32 little-endian samples at 16 kHz."""

    paths: list[Path]
    num_samples: int
    source_channels: int
    source_sample_rate: int
    channel_mode: Literal["split", "mix"]
    peaks: list[float] = field(default_factory=list)
    sample_rate: int = SAMPLE_RATE

    @property
    def duration(self) -> float:
        return self.num_samples / self.sample_rate

    def channel_numbers(self) -> list[int | None]:
        return [None] if self.channel_mode == "mix" else list(range(len(self.paths)))


class AudioStore:
    """Random access to one decoded channel without holding it in memory (reads windows by offset)."""

    def __init__(self, path: Path, num_samples: int) -> None:
        self.path = path
        self.num_samples = num_samples
        self._f = open(path, "rb")  # noqa: SIM115 - closed in close()

    def read(self, start: int, length: int) -> np.ndarray:
        """Samples [start, start+length), zero-padded outside the recording."""
        out = np.zeros(length, dtype=np.float32)
        lo, hi = max(start, 0), min(start + length, self.num_samples)
        if hi > lo:
            self._f.seek(lo * 4)
            buf = self._f.read((hi - lo) * 4)
            out[lo - start : lo - start + len(buf) // 4] = np.frombuffer(buf, dtype="<f4")
        return out

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> AudioStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            cmd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise AudioInputError(
            f"{Path(cmd[0]).name} did not finish within {timeout:g} s; the file is probably damaged",
            code=ErrorCode.INPUT_CORRUPT,
        ) from exc
    except FileNotFoundError as exc:  # pragma: no cover - deployment problem, not the user's
        raise RuntimeError(
            f"{cmd[0]} is not installed; the engine needs FFmpeg (ffmpeg and ffprobe)"
        ) from exc


def _looks_like_audio(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(16)
    return any(head.startswith(m) for m in _AUDIO_MAGICS) or head[4:8] == b"ftyp"


def _last_line(stderr: bytes, path: Path | None = None) -> str:
    text = stderr.decode("utf-8", "replace")
    if path is not None:
        text = text.replace(f"{path}: ", "").replace(str(path), "<input>")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:300] if lines else "no details"


def check_file_size(path: Path, limits: InputLimits) -> int:
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise AudioInputError(f"input file not found: {path}", code=ErrorCode.INPUT_UNREACHABLE) from exc
    if not path.is_file():
        raise AudioInputError(f"input is not a regular file: {path}", code=ErrorCode.INPUT_UNSUPPORTED)
    if size == 0:
        raise AudioInputError("the input file is empty (0 bytes)", code=ErrorCode.INPUT_EMPTY)
    if size > limits.max_bytes:
        raise AudioInputError(
            f"the input is {size} bytes, over the {limits.max_bytes}-byte limit",
            code=ErrorCode.INPUT_TOO_LARGE,
        )
    return size


def probe(path: Path, limits: InputLimits) -> ProbeInfo:
    """Identify the first audio stream with ffprobe; raise a coded error for anything unusable."""
    check_file_size(path, limits)
    res = _run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)],
        timeout=limits.probe_timeout_s,
    )
    if res.returncode != 0:
        detail = _last_line(res.stderr, path)
        if _looks_like_audio(path):
            raise AudioInputError(
                f"the audio file is damaged and cannot be read ({detail})", code=ErrorCode.INPUT_CORRUPT
            )
        raise AudioInputError(
            f"not a recognised audio or video format ({detail})", code=ErrorCode.INPUT_UNSUPPORTED
        )
    try:
        info = json.loads(res.stdout or b"{}")
    except json.JSONDecodeError as exc:
        raise AudioInputError("ffprobe returned unreadable output", code=ErrorCode.INPUT_CORRUPT) from exc
    fmt = info.get("format") or {}
    format_name = str(fmt.get("format_name", ""))
    if format_name in _NON_AUDIO_FORMATS:
        raise AudioInputError(
            f"not an audio or video file (detected '{format_name}')", code=ErrorCode.INPUT_UNSUPPORTED
        )
    audio = [s for s in info.get("streams", []) if s.get("codec_type") == "audio"]
    if not audio:
        kinds = sorted({str(s.get("codec_type")) for s in info.get("streams", [])}) or ["none"]
        raise AudioInputError(
            f"the file has no audio stream (streams: {', '.join(kinds)})", code=ErrorCode.INPUT_NO_AUDIO
        )
    st = audio[0]
    channels = int(st.get("channels") or 0)
    sample_rate = int(st.get("sample_rate") or 0)
    if channels <= 0 or sample_rate <= 0:
        raise AudioInputError(
            f"the audio stream ({st.get('codec_name', '?')}) has no usable channel layout or sample rate",
            code=ErrorCode.INPUT_CORRUPT,
        )
    duration = None
    for raw in (st.get("duration"), fmt.get("duration")):
        try:
            duration = float(raw)  # type: ignore[arg-type]
            break
        except (TypeError, ValueError):
            continue
    if duration is not None and duration > limits.max_duration_s * 1.01 + 1.0:
        raise AudioInputError(
            f"the audio lasts {duration:.0f} s, over the {limits.max_duration_s:.0f} s limit",
            code=ErrorCode.INPUT_TOO_LONG,
        )
    return ProbeInfo(format_name, str(st.get("codec_name", "")), channels, sample_rate, duration)


def decode(
    path: Path,
    work_dir: Path,
    limits: InputLimits,
    channel_mode: Literal["split", "mix"] = "split",
    info: ProbeInfo | None = None,
) -> DecodedAudio:
    """Decode ``path`` to 16 kHz float32 per-channel files in ``work_dir`` (streamed, limits enforced)."""
    info = info or probe(path, limits)
    nch = 1 if channel_mode == "mix" else info.channels
    if nch > limits.max_channels:
        raise AudioInputError(
            f"the audio has {info.channels} channels; at most {limits.max_channels} can be diarized separately "
            "(use channel_mode 'mix' to downmix)",
            code=ErrorCode.INPUT_UNSUPPORTED,
        )
    work_dir.mkdir(parents=True, exist_ok=True)
    paths = [work_dir / f"channel{i}.f32" for i in range(nch)]
    max_samples = int(limits.max_duration_s * SAMPLE_RATE)
    cmd = [
        "ffmpeg",
        "-nostdin",
        "-hide_banner",
        "-v",
        "error",
        "-i",
        str(path),
        "-map",
        "0:a:0",
        "-vn",
        "-ac",
        str(nch),
        "-ar",
        str(SAMPLE_RATE),
        "-f",
        "f32le",
        "-acodec",
        "pcm_f32le",
        "pipe:1",
    ]
    with tempfile.TemporaryFile(dir=work_dir) as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        assert proc.stdout is not None
        last = [time.monotonic()]
        state = {"why": ""}
        done = threading.Event()
        started = time.monotonic()

        def watchdog() -> None:
            while not done.wait(0.5):
                now = time.monotonic()
                if now - started > limits.decode_timeout_s:
                    state["why"] = f"decoding took longer than {limits.decode_timeout_s:g} s"
                elif now - last[0] > limits.stall_timeout_s:
                    state["why"] = f"the decoder produced nothing for {limits.stall_timeout_s:g} s"
                else:
                    continue
                proc.kill()
                return

        guard = threading.Thread(target=watchdog, daemon=True)
        guard.start()
        outs = [p.open("wb") for p in paths]
        total = 0
        peaks = [0.0] * nch
        frame_bytes = 4 * nch
        pending = b""
        too_long = False
        try:
            while True:
                chunk = proc.stdout.read(_BLOCK_FRAMES * frame_bytes)
                if not chunk:
                    break
                last[0] = time.monotonic()
                data = pending + chunk
                usable = len(data) - len(data) % frame_bytes
                pending = data[usable:]
                frames = np.frombuffer(data[:usable], dtype="<f4").reshape(-1, nch)
                if total + len(frames) > max_samples:
                    too_long = True
                    proc.kill()
                    break
                total += len(frames)
                if len(frames):
                    peak = np.abs(frames).max(axis=0)
                    for i in range(nch):
                        peaks[i] = max(peaks[i], float(peak[i]))
                        outs[i].write(np.ascontiguousarray(frames[:, i]).tobytes())
        finally:
            for o in outs:
                o.close()
            proc.stdout.close()
            try:
                rc = proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
            done.set()
        err.seek(0)
        stderr = err.read()
    if too_long:
        raise AudioInputError(
            f"the audio is longer than the {limits.max_duration_s:.0f} s limit (stopped decoding there)",
            code=ErrorCode.INPUT_TOO_LONG,
        )
    if state["why"]:
        raise AudioInputError(f"{state['why']}; the file is probably damaged", code=ErrorCode.INPUT_CORRUPT)
    if rc != 0:
        raise AudioInputError(
            f"the audio could not be decoded ({_last_line(stderr, path)})", code=ErrorCode.INPUT_CORRUPT
        )
    if total < int(0.05 * SAMPLE_RATE):
        raise AudioInputError(
            f"the file contains no audio samples ({total / SAMPLE_RATE:.3f} s decoded)",
            code=ErrorCode.INPUT_EMPTY,
        )
    if max(peaks) < SILENCE_PEAK:
        raise AudioInputError(
            "the audio is silent (digital silence on every channel)", code=ErrorCode.INPUT_SILENT
        )
    return DecodedAudio(
        paths=paths,
        num_samples=total,
        source_channels=info.channels,
        source_sample_rate=info.sample_rate,
        channel_mode=channel_mode,
        peaks=peaks,
    )


def remove_decoded(decoded: DecodedAudio) -> None:
    for p in decoded.paths:
        p.unlink(missing_ok=True)
