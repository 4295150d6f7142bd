"""Work lanes: short jobs are not stuck behind long ones (pure rules, no I/O).

The drain workers' work is split in two lanes (two work queues): **short** (an input known to be
at most ``SHORT_MAX_SECONDS`` of audio, or, when only its size is known, at most
``SHORT_MAX_BYTES``) and **long** (everything else, and every input whose size the job does not
know: an ``https://`` or foreign ``s3://`` URL). The dispatcher picks the lane from what the job
recorded at submission (``Job.input_seconds``, ``Job.input_bytes``).

A worker takes from the short lane first, but after ``long_every`` short jobs in a row it looks at
the long lane first: a long job waits for at most ``long_every`` short jobs per worker, never for
the whole short backlog. Either lane empty -> the other one.
"""

from __future__ import annotations

from typing import Literal

Lane = Literal["short", "long"]
SHORT: Lane = "short"
LONG: Lane = "long"

SHORT_MAX_SECONDS = 300.0  # 5 minutes of audio: calls, voice notes, meeting snippets
# when only the size is known: 10 MiB is ~5.5 min of 16 kHz 16-bit mono WAV, ~11 min of 128 kbit/s MP3
SHORT_MAX_BYTES = 10 * 1024 * 1024
# 10 short jobs (<= 5 min of audio each) bound a long job's extra wait per worker; measured with
# benchmarks/burst.py (20 x 30 s + 5 x 10 min, 2 workers): 3 put a long job between every three
# calls (short p50 133 s), 10 let the burst of calls through first (short p50 33 s)
DEFAULT_LONG_EVERY = 10


def lane_of(input_seconds: float | None, input_bytes: int | None) -> Lane:
    """The lane of a job whose input is ``input_seconds`` long and ``input_bytes`` large (either
    may be unknown: ``None``). Unknown both -> long."""
    if input_seconds is not None:
        return SHORT if input_seconds <= SHORT_MAX_SECONDS else LONG
    if input_bytes is not None:
        return SHORT if input_bytes <= SHORT_MAX_BYTES else LONG
    return LONG


def lane_order(shorts_in_a_row: int, long_every: int) -> tuple[Lane, Lane]:
    """Which lane a worker looks at first after ``shorts_in_a_row`` short jobs in a row."""
    if long_every > 0 and shorts_in_a_row >= long_every:
        return (LONG, SHORT)
    return (SHORT, LONG)
