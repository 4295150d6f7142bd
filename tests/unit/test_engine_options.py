"""The engine's options follow the one speaker-count rule (``diarist.domain.speakers``)."""

from __future__ import annotations

import itertools

import pytest
from pydantic import ValidationError

from diarist.domain.speakers import MAX_SPEAKERS, speaker_count_problems
from diarist.engine.options import DiarizeOptions

COUNTS = [None, 1, 2, 5, MAX_SPEAKERS]


@pytest.mark.parametrize(("num", "lo", "hi"), list(itertools.product(COUNTS, COUNTS, COUNTS)))
def test_options_accept_exactly_what_the_domain_rule_accepts(
    num: int | None, lo: int | None, hi: int | None
) -> None:
    if speaker_count_problems(num, lo, hi):
        with pytest.raises(ValidationError):
            DiarizeOptions(num_speakers=num, min_speakers=lo, max_speakers=hi)
    else:
        options = DiarizeOptions(num_speakers=num, min_speakers=lo, max_speakers=hi)
        assert (options.num_speakers, options.min_speakers, options.max_speakers) == (num, lo, hi)


@pytest.mark.parametrize("field", ["num_speakers", "min_speakers", "max_speakers"])
@pytest.mark.parametrize("value", [0, MAX_SPEAKERS + 1])
def test_counts_outside_the_domain_range_are_refused(field: str, value: int) -> None:
    with pytest.raises(ValidationError):
        DiarizeOptions(**{field: value})


def test_the_refusal_carries_the_domain_message() -> None:
    with pytest.raises(ValidationError, match="must not be greater than the maximum speaker count"):
        DiarizeOptions(min_speakers=3, max_speakers=2)
