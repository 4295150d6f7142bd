"""The transition table: every pair of statuses, checked against the written rules."""

from __future__ import annotations

import itertools

import pytest

from diarist.domain.errors import InvalidTransition
from diarist.domain.jobs import (
    ALLOWED_TRANSITIONS,
    JobStatus,
    check_transition,
    phonexia_state,
    sources_of,
)

S = JobStatus


def test_terminal_statuses_are_final() -> None:
    for status in (S.SUCCEEDED, S.FAILED, S.CANCELED):
        assert status.is_terminal
        assert ALLOWED_TRANSITIONS[status] == frozenset()


@pytest.mark.parametrize("current,new", list(itertools.product(JobStatus, JobStatus)))
def test_every_pair(current: JobStatus, new: JobStatus) -> None:
    expected = {
        (S.PENDING, S.CREATED),
        (S.PENDING, S.RUNNING),
        (S.PENDING, S.FAILED),
        (S.PENDING, S.CANCELED),
        (S.CREATED, S.RUNNING),
        (S.CREATED, S.FAILED),
        (S.CREATED, S.CANCELED),
        (S.RUNNING, S.SUCCEEDED),
        (S.RUNNING, S.FAILED),
        (S.RUNNING, S.CANCELED),
    }
    if (current, new) in expected:
        check_transition(current, new)
    else:
        with pytest.raises(InvalidTransition):
            check_transition(current, new)


def test_succeeded_only_from_running() -> None:
    assert sources_of(S.SUCCEEDED) == {S.RUNNING}
    assert sources_of(S.CANCELED) == {S.PENDING, S.CREATED, S.RUNNING}


@pytest.mark.parametrize(
    "status,code,state",
    [
        (S.PENDING, None, "pending"),
        (S.CREATED, None, "pending"),
        (S.RUNNING, None, "running"),
        (S.SUCCEEDED, None, "done"),
        (S.FAILED, "input_corrupt", "rejected"),
        (S.FAILED, "worker_crashed", "failed"),
        (S.CANCELED, None, "failed"),
    ],
)
def test_phonexia_view(status: JobStatus, code: str | None, state: str) -> None:
    assert phonexia_state(status, code) == state
