"""Per-tenant limits: what a tenant may have in flight and how often it may call the API.

Two limits, each a non-negative integer where ``0`` means "no limit":

- ``max_active_jobs``: jobs of the tenant that are not terminal (``pending``, ``created``,
  ``running``) at any moment; a submission over it is refused (429);
- ``requests_per_minute``: authenticated API requests per fixed UTC minute window; a request over it
  is refused (429) until the window ends.

The limits in effect are a tenant's override when it has one (per limit: an override may set one
and leave the other at the default), else the deployment's defaults (``ApiSettings``). This module
holds the values and the window arithmetic only; the rules' home is ``services.limits``.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_LIMIT = 1_000_000
"""The largest value a limit may take (larger is a typo, not a plan)."""
MAX_ACTIVE_JOBS_LIMIT = 5_000
"""The largest ``max_active_jobs`` (its job ids are held in one item: 5,000 stay far below 400 KB)."""

WINDOW_S = 60

CLAIM_GRACE_S = 300
"""A slot whose job does not exist (yet) is kept this long after it was claimed: the job is written
right after its slot, by an API call that times out long before (29 s)."""


@dataclass(frozen=True)
class TenantLimits:
    """Limits as stored for a tenant (``None``: no override, the default applies) or in effect
    (both set)."""

    max_active_jobs: int | None = None
    requests_per_minute: int | None = None

    def over(self, defaults: TenantLimits) -> TenantLimits:
        """These overrides over ``defaults``: each limit is ours when set, else the default's."""
        return TenantLimits(
            max_active_jobs=self.max_active_jobs
            if self.max_active_jobs is not None
            else defaults.max_active_jobs,
            requests_per_minute=self.requests_per_minute
            if self.requests_per_minute is not None
            else defaults.requests_per_minute,
        )


def limit_problem(name: str, value: int, maximum: int = MAX_LIMIT) -> str | None:
    """Why ``value`` is not a valid limit (``None`` when it is)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return f"{name} must be an integer"
    if value < 0 or value > maximum:
        return f"{name} must be between 0 (no limit) and {maximum}, not {value}"
    return None


@dataclass(frozen=True)
class RateWindow:
    """One tenant's request count in the current window, after counting this request."""

    limit: int
    used: int
    reset_at: int  # UTC epoch seconds when the window ends (pyannoteAI's X-RateLimit-Reset)

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


def window_of(now_s: float) -> tuple[int, int]:
    """The fixed window ``now_s`` falls in: (its start, its end), UTC epoch seconds."""
    start = int(now_s) // WINDOW_S * WINDOW_S
    return start, start + WINDOW_S


def retry_after_s(now_s: float, reset_at: int) -> int:
    """Whole seconds until ``reset_at`` (at least 1)."""
    return max(1, int(reset_at - now_s + 0.999))


@dataclass(frozen=True)
class Slot:
    """An active-job slot as held for a tenant: the job's id and when the slot was claimed (UTC epoch
    seconds), stored as one string ``<job id>@<claimed at>`` (job ids never contain ``@``)."""

    job_id: str
    claimed_at: int

    def encode(self) -> str:
        return f"{self.job_id}@{self.claimed_at}"

    @classmethod
    def parse(cls, text: str) -> Slot:
        """``encode``'s string; a malformed one becomes a slot claimed at 0 (released when its job
        is not found)."""
        job_id, _, at = text.rpartition("@")
        if not job_id or not at.isdigit():
            return cls(job_id=text, claimed_at=0)
        return cls(job_id=job_id, claimed_at=int(at))
