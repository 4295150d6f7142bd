"""An audio file's duration from its first bytes, for the formats that state it there (pure, stdlib).

The API uses it to refuse a voiceprint recording that is too long at submission, from a ranged read of
the uploaded object's head (no decoder in the API Lambda). ``header_duration`` knows WAV (RIFF/RF64
``fmt `` + ``data`` chunks: the data size over the byte rate; a data size left open by a streaming
writer counts to the end of the file) and FLAC (``STREAMINFO``'s sample count). Anything else, or a
header it cannot read, gives None: the worker decides then.
"""

from __future__ import annotations

import struct

HEAD_BYTES = (
    64 * 1024
)  # enough for a WAV's chunks before ``data`` (LIST/bext chunks included) or FLAC's STREAMINFO


def header_duration(head: bytes, total_size: int) -> float | None:
    """Seconds of audio the file of ``total_size`` bytes starting with ``head`` holds, or None."""
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return _wav(head, total_size)
    if head[:4] == b"fLaC":
        return _flac(head)
    return None


def _wav(head: bytes, total_size: int) -> float | None:
    pos = 12
    byte_rate = 0
    ds64_data: int | None = None
    while pos + 8 <= len(head):
        cid = head[pos : pos + 4]
        (size,) = struct.unpack_from("<I", head, pos + 4)
        body = pos + 8
        if cid == b"ds64" and body + 16 <= len(head):
            (ds64_data,) = struct.unpack_from("<Q", head, body + 8)
        elif cid == b"fmt " and body + 16 <= len(head):
            _, _, _, byte_rate = struct.unpack_from("<HHII", head, body)
        elif cid == b"data":
            if byte_rate <= 0:
                return None
            if size == 0xFFFFFFFF and ds64_data is not None:
                size = ds64_data
            available = max(0, total_size - body)
            if size in (0, 0xFFFFFFFF) or size > available:  # open-ended (streaming) or truncated
                size = available
            return size / byte_rate
        pos = body + size + (size & 1)
    return None


def _flac(head: bytes) -> float | None:
    # "fLaC", then a metadata block header (1 byte type, 3 bytes length); STREAMINFO comes first
    if len(head) < 8 + 18 or head[4] & 0x7F != 0:
        return None
    info = head[8:26]
    sample_rate = (info[10] << 12) | (info[11] << 4) | (info[12] >> 4)
    total = ((info[13] & 0x0F) << 32) | int.from_bytes(info[14:18], "big")
    if sample_rate <= 0 or total <= 0:
        return None
    return total / sample_rate
