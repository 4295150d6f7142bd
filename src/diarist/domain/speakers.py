"""The speaker-count rule, the one home for it: every dialect, the S3 trigger, the engine's options
and the worker's mapping ask this module.

A job asks either for an exact count (``num``) or for bounds (``min`` and/or ``max``), never both;
each count is a whole number from 1 to ``MAX_SPEAKERS``; ``min`` never exceeds ``max``.

``speaker_count_problems`` returns every broken rule as ``(which, message)`` with ``which`` one of
``"num"``, ``"min"``, ``"max"``, so each caller names the field in its own wire format
(``numSpeakers``, ``x-amz-meta-num-speakers``, ``config.total_speakers`` ...).
"""

from __future__ import annotations

from typing import Literal

MAX_SPEAKERS = 100
"""Upper bound for an exact count and for bounds (pyannoteAI documents small counts; any positive
count up to this one is accepted)."""

Which = Literal["num", "min", "max"]


def speaker_count_problems(num: int | None, min_: int | None, max_: int | None) -> list[tuple[Which, str]]:
    """Every way ``(num, min, max)`` breaks the rule; empty when it is a valid request."""
    problems: list[tuple[Which, str]] = []
    for which, value in (("num", num), ("min", min_), ("max", max_)):
        if value is not None and (isinstance(value, bool) or not 1 <= value <= MAX_SPEAKERS):
            problems.append((which, f"must be a whole number from 1 to {MAX_SPEAKERS}"))  # type: ignore[arg-type]
    if num is not None:
        if min_ is not None:
            problems.append(("min", "cannot be combined with an exact speaker count"))
        if max_ is not None:
            problems.append(("max", "cannot be combined with an exact speaker count"))
    elif min_ is not None and max_ is not None and min_ > max_:
        problems.append(("min", "must not be greater than the maximum speaker count"))
    return problems


def check_speaker_counts(num: int | None, min_: int | None, max_: int | None) -> None:
    """Raise ``ValueError`` naming the first broken rule (for pydantic validators)."""
    problems = speaker_count_problems(num, min_, max_)
    if problems:
        which, message = problems[0]
        raise ValueError(f"{which} speakers: {message}")
