"""Unusable inputs end with a coded AudioInputError (never a traceback or a hang); limits are enforced
while streaming. These tests need ffmpeg but not torch."""

from __future__ import annotations

import subprocess
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from diarist.domain.errors import AudioInputError, ErrorCode
from diarist.engine import fetch as fetch_mod
from diarist.engine.audio import AudioStore, ProbeInfo, decode, probe
from diarist.engine.fetch import copy_stream_limited, fetch_input
from diarist.engine.options import InputLimits

LIMITS = InputLimits(probe_timeout_s=20, decode_timeout_s=60, stall_timeout_s=20)


def _wav(path: Path, samples: np.ndarray, rate: int = 16000, channels: int = 1) -> Path:
    data = np.clip(samples, -1, 1)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((data * 32767).astype("<i2").tobytes())
    return path


def _tone(seconds: float, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def _code(path: Path, limits: InputLimits = LIMITS, tmp: Path | None = None) -> ErrorCode:
    with pytest.raises(AudioInputError) as exc:
        decode(path, (tmp or path.parent) / "work", limits)
    assert exc.value.message and "Traceback" not in exc.value.message
    return exc.value.code


def test_zero_length_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.wav"
    p.write_bytes(b"")
    assert _code(p) == ErrorCode.INPUT_EMPTY


def test_wav_with_no_samples(tmp_path: Path) -> None:
    assert _code(_wav(tmp_path / "nosamples.wav", np.zeros(0, dtype=np.float32))) == ErrorCode.INPUT_EMPTY


def test_corrupt_wav(tmp_path: Path) -> None:
    good = _wav(tmp_path / "good.wav", _tone(1.0)).read_bytes()
    p = tmp_path / "corrupt.wav"
    p.write_bytes(good[:12] + np.random.default_rng(0).bytes(4000))  # RIFF/WAVE header, then garbage
    assert _code(p) == ErrorCode.INPUT_CORRUPT


def test_truncated_ogg(tmp_path: Path, ffmpeg: str) -> None:
    src = _wav(tmp_path / "t.wav", _tone(2.0))
    ogg = tmp_path / "t.ogg"
    subprocess.run([ffmpeg, "-v", "error", "-y", "-i", str(src), "-c:a", "libopus", str(ogg)], check=True)
    bad = tmp_path / "trunc.ogg"
    bad.write_bytes(ogg.read_bytes()[:300])
    assert _code(bad) in (ErrorCode.INPUT_CORRUPT, ErrorCode.INPUT_EMPTY)


def test_text_file_is_unsupported(tmp_path: Path) -> None:
    p = tmp_path / "notes.wav"
    p.write_text("this is not audio\n" * 50)
    assert _code(p) == ErrorCode.INPUT_UNSUPPORTED


def test_random_bytes_are_unsupported(tmp_path: Path) -> None:
    p = tmp_path / "blob.bin"
    p.write_bytes(np.random.default_rng(1).bytes(5000))
    assert _code(p) == ErrorCode.INPUT_UNSUPPORTED


def test_video_without_audio(tmp_path: Path, ffmpeg: str) -> None:
    p = tmp_path / "video.mp4"
    subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=d=1:s=64x64",
            "-pix_fmt",
            "yuv420p",
            str(p),
        ],
        check=True,
    )
    assert _code(p) == ErrorCode.INPUT_NO_AUDIO


def test_digital_silence(tmp_path: Path) -> None:
    assert (
        _code(_wav(tmp_path / "silence.wav", np.zeros(16000 * 3, dtype=np.float32))) == ErrorCode.INPUT_SILENT
    )


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AudioInputError) as exc:
        probe(tmp_path / "nope.wav", LIMITS)
    assert exc.value.code == ErrorCode.INPUT_UNREACHABLE


def test_size_limit_before_decoding(tmp_path: Path) -> None:
    p = _wav(tmp_path / "tone.wav", _tone(1.0))
    assert _code(p, LIMITS.model_copy(update={"max_bytes": 1000})) == ErrorCode.INPUT_TOO_LARGE


def test_declared_duration_limit(tmp_path: Path) -> None:
    p = _wav(tmp_path / "tone.wav", _tone(5.0))
    with pytest.raises(AudioInputError) as exc:
        probe(p, LIMITS.model_copy(update={"max_duration_s": 2.0}))
    assert exc.value.code == ErrorCode.INPUT_TOO_LONG


def test_duration_limit_enforced_while_decoding(tmp_path: Path) -> None:
    """A container that does not declare its duration is stopped by the streaming decoder."""
    p = _wav(tmp_path / "tone.wav", _tone(6.0))
    undeclared = ProbeInfo("wav", "pcm_s16le", 1, 16000, None)
    with pytest.raises(AudioInputError) as exc:
        decode(p, tmp_path / "w", LIMITS.model_copy(update={"max_duration_s": 2.0}), info=undeclared)
    assert exc.value.code == ErrorCode.INPUT_TOO_LONG
    written = sum(f.stat().st_size for f in (tmp_path / "w").glob("*.f32"))
    assert written <= 2.0 * 16000 * 4 + 4 * 65536  # stopped near the limit, not after the whole file


def test_stereo_split_and_mix(tmp_path: Path) -> None:
    left, right = _tone(2.0), np.zeros(32000, dtype=np.float32)
    p = _wav(tmp_path / "st.wav", np.stack([left, right], axis=1).reshape(-1), channels=2)
    split = decode(p, tmp_path / "s", LIMITS, "split")
    assert len(split.paths) == 2 and split.source_channels == 2 and split.num_samples == 32000
    assert split.peaks[0] > 0.25 and split.peaks[1] == 0.0
    with AudioStore(split.paths[0], split.num_samples) as s:
        x = s.read(-10, 20)
        assert x.shape == (20,) and np.all(x[:10] == 0) and np.abs(x[10:]).max() > 0
    mix = decode(p, tmp_path / "m", LIMITS, "mix")
    assert len(mix.paths) == 1 and mix.channel_numbers() == [None]


def test_too_many_channels(tmp_path: Path) -> None:
    p = _wav(tmp_path / "st.wav", np.stack([_tone(1.0)] * 3, axis=1).reshape(-1), channels=3)
    assert _code(p, LIMITS.model_copy(update={"max_channels": 2})) == ErrorCode.INPUT_UNSUPPORTED


# ------------------------------------------------------------------------------------------ remote inputs


def test_stream_size_limit_stops_early(tmp_path: Path) -> None:
    consumed = []

    def endless() -> Iterator[bytes]:
        while True:
            consumed.append(1)
            yield b"\0" * 1024

    with pytest.raises(AudioInputError) as exc:
        copy_stream_limited(endless(), tmp_path / "x", InputLimits(max_bytes=10_000))
    assert exc.value.code == ErrorCode.INPUT_TOO_LARGE
    assert len(consumed) == 10 and not (tmp_path / "x").exists()


class _FakeResponse:
    def __init__(self, body: bytes, length: int | None = None) -> None:
        self.headers = {} if length is None else {"content-length": str(length)}
        self.body = body
        self.closed = False

    def stream(self, amt: int) -> Iterator[bytes]:
        for i in range(0, len(self.body), 100):
            yield self.body[i : i + 100]

    def close(self) -> None:
        self.closed = True


def test_https_goes_through_replaceable_opener(tmp_path: Path) -> None:
    wav = _wav(tmp_path / "a.wav", _tone(0.5)).read_bytes()
    seen: list[str] = []
    resp = _FakeResponse(wav, len(wav))

    def opener(url: str, timeout: float) -> _FakeResponse:
        seen.append(url)
        return resp

    fetch_mod.set_url_opener(opener)
    try:
        out = fetch_input("https://example.invalid/calls/a.wav?sig=1", tmp_path / "dl")
        assert seen == ["https://example.invalid/calls/a.wav?sig=1"] and resp.closed
        assert out.name == "a.wav" and out.read_bytes() == wav
        big = _FakeResponse(b"x" * 5000, 5000)
        fetch_mod.set_url_opener(lambda u, t: big)
        with pytest.raises(AudioInputError) as exc:
            fetch_input("https://example.invalid/b.wav", tmp_path / "dl", InputLimits(max_bytes=1000))
        assert exc.value.code == ErrorCode.INPUT_TOO_LARGE and big.closed
        liar = _FakeResponse(b"x" * 5000, None)  # no Content-Length: checked as it arrives
        fetch_mod.set_url_opener(lambda u, t: liar)
        with pytest.raises(AudioInputError) as exc:
            fetch_input("https://example.invalid/c.wav", tmp_path / "dl", InputLimits(max_bytes=1000))
        assert exc.value.code == ErrorCode.INPUT_TOO_LARGE
    finally:
        fetch_mod.set_url_opener(None)
    assert fetch_mod.open_url_checked is fetch_mod.plain_https_opener


def test_plain_opener_refuses_http_and_unknown_schemes(tmp_path: Path) -> None:
    with pytest.raises(AudioInputError) as exc:
        fetch_input("http://example.invalid/a.wav", tmp_path)
    assert exc.value.code == ErrorCode.INPUT_FORBIDDEN
    with pytest.raises(AudioInputError) as exc:
        fetch_mod.plain_https_opener("http://example.invalid/a.wav", 1.0)
    assert exc.value.code == ErrorCode.INPUT_FORBIDDEN


class _FakeBody:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def iter_chunks(self, n: int) -> Iterator[bytes]:
        for i in range(0, len(self.data), n):
            yield self.data[i : i + n]

    def close(self) -> None:
        pass


class _FakeS3:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.got = False

    def head_object(self, Bucket: str, Key: str) -> dict[str, int]:  # noqa: N803 - boto3 names
        return {"ContentLength": len(self.data)}

    def get_object(self, Bucket: str, Key: str) -> dict[str, _FakeBody]:  # noqa: N803
        self.got = True
        return {"Body": _FakeBody(self.data)}


def test_s3_streams_to_disk_and_checks_size_first(tmp_path: Path) -> None:
    s3 = _FakeS3(b"RIFF" + b"\0" * 3000)
    out = fetch_input("s3://bucket/in/call 1.wav", tmp_path, s3_client=s3)
    assert out.parent == tmp_path and out.stat().st_size == 3004
    s3 = _FakeS3(b"\0" * 5000)
    with pytest.raises(AudioInputError) as exc:
        fetch_input("s3://bucket/big.wav", tmp_path, InputLimits(max_bytes=1000), s3_client=s3)
    assert exc.value.code == ErrorCode.INPUT_TOO_LARGE and not s3.got


def test_local_path_used_in_place(tmp_path: Path) -> None:
    p = _wav(tmp_path / "x.wav", _tone(0.2))
    assert fetch_input(p, tmp_path / "dl") == p
    assert fetch_input(f"file://{p}", tmp_path / "dl") == p
