"""Ending jobs and removing their data: cancel, and delete (cancel an active job, purge a finished
one's stored data).

Invariants:

- Only ``pending``, ``created`` and ``running`` jobs can be canceled, through
  ``services.lifecycle.finish_job`` (a conditional write, then the one completion event); canceling
  a canceled job is a no-op, any other finished job is a ``Conflict``. No container is stopped: a
  drain worker runs other jobs too. The worker running a canceled job notices at its next progress
  write or heartbeat (refused: the job is no longer ``running``), stops that job, writes no result
  and takes the next one; a canceled job still on the work queue is dropped when a worker takes
  its message (the take is refused).
- ``delete`` decides: an active job is canceled (and, with ``purge``, then purged); a finished job
  needs ``purge``, else ``Conflict``.
- Purging deletes only what Diarist stored: the audio under ``media/<tenant>/`` (never the
  caller's own buckets or URLs) and the results (with their stored rendering); the job record
  stays, without ``result_location`` and with ``PURGED_WARNING``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from diarist.domain.errors import Conflict
from diarist.domain.jobs import Job, JobStatus
from diarist.domain.locations import s3_url, split_s3_url
from diarist.ports import EventBus, JobStore, ObjectStore
from diarist.resources import MEDIA_PREFIX, RESULTS_PREFIX
from diarist.services.lifecycle import finish_job
from diarist.services.reading import rendered_output_key, require_job
from diarist.settings import ApiSettings

log = logging.getLogger(__name__)

PURGED_WARNING = "job data (audio and results) deleted on request"


@dataclass(frozen=True)
class Deletion:
    """What ``delete`` did: the job afterwards (canceled if it was active) and the locations it
    deleted (empty without purge)."""

    job: Job
    deleted: list[str] = field(default_factory=list)


class CancelDeleteService:
    def __init__(
        self,
        *,
        store: JobStore,
        objects: ObjectStore,
        events: EventBus,
        settings: ApiSettings,
    ) -> None:
        self.store = store
        self.objects = objects
        self.events = events
        self.settings = settings

    def cancel(self, tenant_id: str, job_id: str) -> Job:
        """``POST /v1/jobs/{jobId}/cancel``: the canceled job."""
        return self._cancel(require_job(self.store, tenant_id, job_id))

    def delete(self, tenant_id: str, job_id: str, *, purge: bool) -> Deletion:
        """``DELETE /v1/jobs/{jobId}[?purge=true]``: cancel an active job; with ``purge``, delete
        the job's stored audio and results."""
        job = require_job(self.store, tenant_id, job_id)
        if not job.status.is_terminal:
            job = self._cancel(job)
        elif not purge:
            raise Conflict(
                f"job {job_id} is already {job.status.value}; add ?purge=true to delete its audio and results"
            )
        return Deletion(job, self._purge(job) if purge else [])

    def _cancel(self, job: Job) -> Job:
        if job.status is JobStatus.CANCELED:
            return job
        job_id = job.job_id
        if job.status.is_terminal:
            raise Conflict(
                f"job {job_id} is {job.status.value}; only pending, created or running jobs can be canceled"
            )
        done = finish_job(self.store, self.events, job_id, JobStatus.CANCELED)
        if done is None:  # someone else ended it first
            current = require_job(self.store, job.tenant_id, job_id)
            if current.status is JobStatus.CANCELED:
                return current
            raise Conflict(f"job {job_id} is {current.status.value}; it finished before it could be canceled")
        return done

    def _purge(self, job: Job) -> list[str]:
        """Delete what we stored for a finished job; the deleted locations."""
        settings = self.settings
        deleted: list[str] = []
        if job.input_url.startswith(s3_url(settings.media_bucket, f"{MEDIA_PREFIX}{job.tenant_id}/")):
            bucket, key = split_s3_url(job.input_url)
            self.objects.delete(bucket, key)
            deleted.append(job.input_url)
        results_prefix = f"{RESULTS_PREFIX}{job.tenant_id}/{job.job_id}/"
        if self.objects.delete_prefix(settings.results_bucket, results_prefix):
            deleted.append(s3_url(settings.results_bucket, results_prefix))
        if job.result_location:
            bucket, key = split_s3_url(job.result_location)
            if not (bucket == settings.results_bucket and key.startswith(results_prefix)):
                # stored elsewhere by the s3 trigger (result_prefix): delete the file and our rendering
                for k in (key, rendered_output_key(key)):
                    self.objects.delete(bucket, k)
                deleted.append(job.result_location)
        warnings = job.warnings if PURGED_WARNING in job.warnings else [*job.warnings, PURGED_WARNING]
        self.store.update(job.job_id, result_location=None, warnings=warnings)
        return deleted
