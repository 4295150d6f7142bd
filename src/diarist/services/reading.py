"""Reading jobs: a tenant's job, the tenant's list, and where a succeeded job's output is.

Invariants:

- A tenant only ever sees its own jobs: another tenant's job is ``JobNotFound``, exactly like an
  unknown id (``require_job``; ids that cannot be job ids are not even looked up).
- Output (pyannoteAI dialect): a stored result up to ``result_inline_max_bytes`` is read and
  returned for inlining; a larger one is rendered once to ``output.pyannote.json`` beside it
  (``rendered_output_key``) and only a presigned GET of that rendering is returned, so a large
  result never passes through the API's response. A result that is gone (purged, expired) gives
  neither.
- A stored result is read as its job kind's result (``domain.results.parse_result``).
- The pyannoteAI rendering of a job's result is ``render_pyannote_output``: the engine's renderer
  of the job's kind (``engine.formats``) with the parts the job asked for; the API's inline output,
  the stored large rendering and the webhook's payload all come from it.
- A job's input is handed out (``input_url``, a presigned GET for the console's player) only for the
  job's own ``input_url`` in S3 (a ``media://`` upload, an ``s3://`` input, a Phonexia upload), never
  for a key the caller names; an ``https://`` input or one no longer stored is a ``Conflict``.
- Lists are newest first, at most ``MAX_LIST_LIMIT`` jobs a page, without outputs.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from diarist.domain.errors import Conflict, JobNotFound
from diarist.domain.jobs import Job, JobKind, JobStatus
from diarist.domain.locations import split_s3_url
from diarist.domain.results import (
    JobResult,
    VoiceprintComparison,
    VoiceprintExtraction,
    VoiceprintResult,
    parse_result,
)
from diarist.engine.formats import (
    identify_output,
    phonexia_comparison,
    phonexia_voiceprints,
    pyannote_output,
    voiceprint_output,
)
from diarist.ports import JobStore, ObjectStore
from diarist.settings import ApiSettings

MAX_LIST_LIMIT = 100
DEFAULT_LIST_LIMIT = 10  # pyannoteAI's default page size
RENDERED_OUTPUT_NAME = "output.pyannote.json"


@dataclass(frozen=True)
class JobOutput:
    """A job and, when it succeeded and its result is still stored, its output: ``result`` (read
    for inlining) or ``url`` (a presigned GET of the stored pyannoteAI rendering)."""

    job: Job
    result: JobResult | None = None
    url: str | None = None


@dataclass(frozen=True)
class JobPage:
    jobs: list[Job]
    cursor: str | None


def render_pyannote_output(job: Job, result: JobResult) -> dict[str, Any]:
    """pyannoteAI job ``output`` of ``job``'s ``result``: the renderer of its kind (``engine.formats``)
    with the parts the job asked for. diarize: ``pyannote_output``; identify: ``identify_output``;
    voiceprint: ``voiceprint_output``; the Phonexia kinds (seen through /v1/jobs) their Phonexia
    ``result``."""
    if isinstance(result, VoiceprintResult):
        return voiceprint_output(result)
    if isinstance(result, VoiceprintExtraction):
        return phonexia_voiceprints(result)
    if isinstance(result, VoiceprintComparison):
        return phonexia_comparison(result.matrix())
    params = job.params
    render = identify_output if job.kind == "identify" else pyannote_output
    return render(
        result,
        exclusive=params.exclusive,
        confidence=params.confidence,
        turn_confidence=params.turn_level_confidence,
    )


def rendered_output_key(result_key: str) -> str:
    """Where the pyannoteAI rendering of a large result is stored: beside the result."""
    return (
        result_key.rsplit("/", 1)[0] + "/" + RENDERED_OUTPUT_NAME
        if "/" in result_key
        else RENDERED_OUTPUT_NAME
    )


def require_job(store: JobStore, tenant_id: str, job_id: str) -> Job:
    """The tenant's job, or JobNotFound (also for another tenant's job)."""
    job = store.get(job_id) if _plausible_id(job_id) else None
    if job is None or job.tenant_id != tenant_id:
        raise JobNotFound(f"job {job_id} not found")
    return job


class JobReader:
    def __init__(self, *, store: JobStore, objects: ObjectStore, settings: ApiSettings) -> None:
        self.store = store
        self.objects = objects
        self.settings = settings

    def output(self, tenant_id: str, job_id: str) -> JobOutput:
        """pyannoteAI ``GET /v1/jobs/{jobId}``: the job, and its output inline or by URL."""
        job = require_job(self.store, tenant_id, job_id)
        if job.status is not JobStatus.SUCCEEDED or not job.result_location:
            return JobOutput(job)
        bucket, key = split_s3_url(job.result_location)
        head = self.objects.head(bucket, key)
        if head is None:
            return JobOutput(job)
        if int(head.get("ContentLength", 0)) <= self.settings.result_inline_max_bytes:
            return JobOutput(job, result=self._result(job, bucket, key))
        out_key = rendered_output_key(key)
        if not self.objects.exists(bucket, out_key):
            rendering = render_pyannote_output(job, self._result(job, bucket, key))
            body = json.dumps(rendering, separators=(",", ":")).encode()
            self.objects.put_bytes(bucket, out_key, body, "application/json")
        return JobOutput(job, url=self.objects.presign_get(bucket, out_key, self.settings.presign_expiry_s))

    def input_url(self, tenant_id: str, job_id: str) -> str:
        """``GET /v1/jobs/{jobId}/input``: a presigned GET of the job's own stored input."""
        job = require_job(self.store, tenant_id, job_id)
        try:
            bucket, key = split_s3_url(job.input_url)
        except ValueError:
            raise Conflict(
                f"job {job_id}'s input is a URL the service does not store: fetch it from there"
            ) from None
        if not self.objects.exists(bucket, key):
            raise Conflict(f"job {job_id}'s input is no longer stored")
        return self.objects.presign_get(bucket, key, self.settings.presign_expiry_s)

    def with_result(self, tenant_id: str, job_id: str, kinds: Collection[JobKind] | None = None) -> JobOutput:
        """Phonexia ``GET /api/technology/<technology>/{task_id}``: the job, and its whole result while
        it is stored (the Phonexia dialect has no URL form). With ``kinds``, a job of another kind is
        not found (each Phonexia technology polls its own tasks)."""
        job = require_job(self.store, tenant_id, job_id)
        if kinds is not None and job.kind not in kinds:
            raise JobNotFound(f"task {job_id} not found")
        if job.status is not JobStatus.SUCCEEDED or not job.result_location:
            return JobOutput(job)
        bucket, key = split_s3_url(job.result_location)
        if not self.objects.exists(bucket, key):
            return JobOutput(job)
        return JobOutput(job, result=self._result(job, bucket, key))

    def list(
        self,
        tenant_id: str,
        *,
        limit: int = DEFAULT_LIST_LIMIT,
        cursor: str | None = None,
        status: JobStatus | None = None,
    ) -> JobPage:
        """``GET /v2/jobs``: newest first."""
        limit = max(1, min(limit, MAX_LIST_LIMIT))
        jobs, next_cursor = self.store.list_for_tenant(tenant_id, limit=limit, cursor=cursor, status=status)
        return JobPage(jobs, next_cursor)

    def _result(self, job: Job, bucket: str, key: str) -> JobResult:
        return parse_result(job.kind, self.objects.get_bytes(bucket, key))


def _plausible_id(job_id: str) -> bool:
    return 0 < len(job_id) <= 64 and all(c.isalnum() or c in "-_" for c in job_id)
