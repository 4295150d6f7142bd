"""Per-tenant limits (``domain.limits``): the one home of the rules; the API asks here for every
request and every queued job, the ``diarist tenants`` CLI to show and set them.

Invariants:

- **Limits in effect**: a tenant's override per limit, else the deployment's default
  (``ApiSettings.max_active_jobs_per_tenant`` / ``requests_per_minute_per_tenant``); ``0`` means no
  limit. Overrides are read at most every ``cache_ttl_s`` per tenant and warm container.
- **Requests per minute**: a fixed UTC-minute window per tenant, counted by one conditional
  ``ADD`` (``TenantStore.count_request``): at most ``limit`` requests are admitted per window
  across every container; a refused request is not counted. Over it: ``RequestRateExceeded``
  (429), retry when the window ends.
- **Active jobs**: a job holds a slot (``domain.limits.Slot``) from just before the write that
  creates it until it ends. The slot is claimed by one conditional write whose condition is
  "fewer than ``limit`` slots held", so racing submissions never exceed the limit; then the job is
  written (its slot is given back at once if that write fails and the job does not exist). Slots are given back *lazily*,
  against the jobs' own status: when a submission finds the tenant full, the slots whose job is
  terminal, or does not exist ``CLAIM_GRACE_S`` after the claim, are released, then the
  submission tries once more. This is why no terminal transition has to decrement anything: jobs
  end in many places (``lifecycle.finish_job`` from the worker, the dispatcher's DLQ, Batch events,
  the sweeper; cancel; delete and purge; TTL expiry), the worker must not write tenant items
  (least privilege), and a counter decremented by each of them could drift on a retried or lost
  write, while "the job's status" is the one truth every path already keeps. A slot is never
  released while its job is not terminal (or, during the grace, not written yet), so the count
  never under-counts; an ended job holds its slot only until the tenant next reaches its limit,
  and an API call that died between the two writes holds one for ``CLAIM_GRACE_S``. The two writes
  are not one DynamoDB transaction on purpose: local mode's emulator copies the whole table for
  every transaction (measured: 80 ms per submission with 200 jobs, growing with the table), and
  the grace makes the pair as safe. The check reads each held job (one consistent ``GetItem``, at most the
  limit's count), and a container does it at most every ``rescan_after_s`` (2 s) per tenant when
  the last one freed nothing, so a tenant hammering at its limit costs bounded reads.
- Only queued jobs (API submissions) take a slot. Phonexia voiceprint comparisons (computed at
  once, never queued) and jobs started by a bucket drop (``incoming/<tenant>/``, the operator's
  path) take none; jobs submitted while the tenant had no active-job limit (``0``) take none
  either, so they do not count towards a limit set later.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from diarist.domain.errors import Throttled, ValidationFailed
from diarist.domain.jobs import Job
from diarist.domain.limits import (
    CLAIM_GRACE_S,
    MAX_ACTIVE_JOBS_LIMIT,
    WINDOW_S,
    RateWindow,
    Slot,
    TenantLimits,
    limit_problem,
    retry_after_s,
    window_of,
)
from diarist.domain.tenants import TENANT_ID_RULE, is_tenant_id
from diarist.ports import JobStore, TenantStore

log = logging.getLogger(__name__)

ACTIVE_JOBS_RETRY_AFTER_S = 30
"""Retry-After of a submission refused for the active-job limit (no window ends: a guess)."""


class RequestRateExceeded(Throttled):
    """The tenant's requests-per-minute limit is reached (429); ``window`` is the full window."""

    def __init__(self, window: RateWindow, *, now_s: float) -> None:
        super().__init__(
            f"rate limit exceeded: {window.limit} requests per minute; retry after the window resets",
            retry_after_s=retry_after_s(now_s, window.reset_at),
            reset_at=window.reset_at,
        )
        self.window = window


class ActiveJobsExceeded(Throttled):
    """The tenant has ``limit`` jobs that are not finished yet (429)."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"too many active jobs: at most {limit} jobs may be pending or running at once; "
            "retry when one has finished",
            retry_after_s=ACTIVE_JOBS_RETRY_AFTER_S,
        )
        self.limit = limit


@dataclass(frozen=True)
class TenantUsage:
    """What ``diarist tenants show`` prints."""

    tenant_id: str
    overrides: TenantLimits
    defaults: TenantLimits
    in_effect: TenantLimits
    active_jobs: int
    requests_this_minute: int
    window_reset_at: int


class TenantLimitService:
    def __init__(
        self,
        *,
        tenants: TenantStore,
        jobs: JobStore,
        defaults: TenantLimits,
        cache_ttl_s: float = 10.0,
        rescan_after_s: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tenants = tenants
        self.jobs = jobs
        self.defaults = defaults
        self.cache_ttl_s = cache_ttl_s
        self.rescan_after_s = rescan_after_s
        self._clock = clock
        self._cache: dict[str, tuple[float, TenantLimits]] = {}
        self._found_none_at: dict[str, float] = {}  # tenant -> when a full check freed nothing

    # -- limits in effect -------------------------------------------------------------------------
    def in_effect(self, tenant_id: str) -> TenantLimits:
        now = time.monotonic()
        cached = self._cache.get(tenant_id)
        if cached is not None and now - cached[0] < self.cache_ttl_s:
            return cached[1]
        limits = self.tenants.get_limits(tenant_id).over(self.defaults)
        if self.cache_ttl_s > 0:
            self._cache[tenant_id] = (now, limits)
        return limits

    # -- requests ---------------------------------------------------------------------------------
    def admit_request(self, tenant_id: str) -> RateWindow | None:
        """Count this request in the tenant's window. ``None`` when the tenant has no request
        limit; else the window after counting. Raises ``RequestRateExceeded`` when it is full."""
        limit = self.in_effect(tenant_id).requests_per_minute or 0
        if limit <= 0:
            return None
        now = self._clock()
        start, end = window_of(now)
        used = self.tenants.count_request(tenant_id, start, limit=limit, expires_at=end + WINDOW_S)
        if used is None:
            log.info("request rate limit reached", extra={"tenant_id": tenant_id, "limit": limit})
            raise RequestRateExceeded(RateWindow(limit=limit, used=limit, reset_at=end), now_s=now)
        return RateWindow(limit=limit, used=used, reset_at=end)

    # -- active jobs ------------------------------------------------------------------------------
    def create_job(self, job: Job) -> None:
        """Write a new job (``JobStore.create``), holding an active-job slot when the tenant has a
        limit. Raises ``ActiveJobsExceeded`` (nothing written) when every slot is held by a job
        that has not ended; ``Conflict`` when the id exists."""
        limit = self.in_effect(job.tenant_id).max_active_jobs or 0
        if limit <= 0:
            self.jobs.create(job)
            return
        slot = Slot(job_id=job.job_id, claimed_at=int(self._clock()))
        if not self._claim(job.tenant_id, slot, limit):
            log.info("active job limit reached", extra={"tenant_id": job.tenant_id, "limit": limit})
            raise ActiveJobsExceeded(limit)
        try:
            self.jobs.create(job)
        except Exception:
            self._release_unwritten(job, slot)
            raise

    def _release_unwritten(self, job: Job, slot: Slot) -> None:
        """Give back the slot of a job whose write failed, unless the job exists after all (a
        write that landed but whose answer was lost); if that cannot be read, the grace frees it."""
        try:
            if self.jobs.get(job.job_id) is None:
                self.tenants.release(job.tenant_id, [slot])
        except Exception:
            log.warning(
                "could not give back the slot of an unwritten job",
                extra={"job_id": job.job_id},
                exc_info=True,
            )

    def _claim(self, tenant_id: str, slot: Slot, limit: int) -> bool:
        if self.tenants.claim_slot(tenant_id, slot, limit=limit):
            return True
        last = self._found_none_at.get(tenant_id)
        if last is not None and time.monotonic() - last < self.rescan_after_s:
            return False
        if not self.release_ended(tenant_id):
            self._found_none_at[tenant_id] = time.monotonic()
            return False
        self._found_none_at.pop(tenant_id, None)
        return self.tenants.claim_slot(tenant_id, slot, limit=limit)

    def release_ended(self, tenant_id: str) -> int:
        """Give back the slots of the tenant's jobs that ended (or do not exist after the grace);
        how many."""
        now = self._clock()
        ended = []
        for slot in self.tenants.slots(tenant_id):
            job = self.jobs.get(slot.job_id)
            if job is None:
                if now - slot.claimed_at > CLAIM_GRACE_S:
                    ended.append(slot)
            elif job.status.is_terminal or job.tenant_id != tenant_id:
                ended.append(slot)
        self.tenants.release(tenant_id, ended)
        return len(ended)

    # -- the operator's view ----------------------------------------------------------------------
    def usage(self, tenant_id: str) -> TenantUsage:
        tenant_id = _check_tenant(tenant_id)
        overrides = self.tenants.get_limits(tenant_id)
        self.release_ended(tenant_id)
        start, end = window_of(self._clock())
        return TenantUsage(
            tenant_id=tenant_id,
            overrides=overrides,
            defaults=self.defaults,
            in_effect=overrides.over(self.defaults),
            active_jobs=len(self.tenants.slots(tenant_id)),
            requests_this_minute=self.tenants.requests_in(tenant_id, start),
            window_reset_at=end,
        )

    def set_limits(
        self,
        tenant_id: str,
        *,
        max_active_jobs: int | None = None,
        requests_per_minute: int | None = None,
        clear: tuple[str, ...] = (),
    ) -> TenantLimits:
        """Store overrides (``None``: leave as is) and remove those named in ``clear``; bad values
        are a ``ValidationFailed`` naming the field. Returns the overrides now stored."""
        tenant_id = _check_tenant(tenant_id)
        errors = []
        if max_active_jobs is not None and (
            p := limit_problem("max_active_jobs", max_active_jobs, MAX_ACTIVE_JOBS_LIMIT)
        ):
            errors.append({"field": "max_active_jobs", "message": p})
        if requests_per_minute is not None and (
            p := limit_problem("requests_per_minute", requests_per_minute)
        ):
            errors.append({"field": "requests_per_minute", "message": p})
        for name in clear:
            if name not in ("max_active_jobs", "requests_per_minute"):
                errors.append({"field": name, "message": "not a limit"})
            elif (max_active_jobs if name == "max_active_jobs" else requests_per_minute) is not None:
                errors.append({"field": name, "message": "both set and cleared"})
        if errors:
            raise ValidationFailed(errors)
        stored = self.tenants.set_limits(
            tenant_id,
            TenantLimits(max_active_jobs=max_active_jobs, requests_per_minute=requests_per_minute),
            clear=clear,
        )
        self._cache.pop(tenant_id, None)
        return stored


def _check_tenant(tenant_id: str) -> str:
    if not is_tenant_id(tenant_id):
        raise ValidationFailed([{"field": "tenant", "message": f"not a tenant id: {TENANT_ID_RULE}"}])
    return tenant_id
