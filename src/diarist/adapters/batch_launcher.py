"""AWS Batch launcher (``ports.Launcher``): the production path, ``submit_job`` on the GPU job queue.

The job carries the Diarist job id as Batch parameters, propagated tags and its name, and its
queue as the tag ``diarist:job-queue`` (``domain.launches``): the stack lets ``terminate`` stop
only jobs with its own queue's tag. ``find_launch`` lists the queue's jobs by that name; ``terminate`` of a
job Batch no longer knows is no error.
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError

from diarist.adapters.aws import client, launch_error
from diarist.domain.launches import TAG_JOB_ID, TAG_JOB_QUEUE, TAG_TENANT_ID, job_name_for, worker_environment
from diarist.domain.messages import WorkerSpec

log = logging.getLogger(__name__)

_LIVE_BATCH_STATUSES = frozenset({"SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING"})


class BatchLauncher:
    def __init__(self, job_queue: str, job_definition: str, batch: Any | None = None) -> None:
        self.job_queue = job_queue
        self.job_definition = job_definition
        self._batch = batch or client("batch")

    def launch(self, spec: WorkerSpec) -> str:
        try:
            resp = self._batch.submit_job(
                jobName=job_name_for(spec.job_id),
                jobQueue=self.job_queue,
                jobDefinition=self.job_definition,
                parameters={"jobId": spec.job_id, "tenantId": spec.tenant_id},
                containerOverrides={
                    "command": spec.command(),
                    "environment": [{"name": k, "value": v} for k, v in worker_environment(spec).items()],
                },
                # the queue tag is what the stack's TerminateJob grant is conditioned on
                tags={TAG_JOB_ID: spec.job_id, TAG_TENANT_ID: spec.tenant_id, TAG_JOB_QUEUE: self.job_queue},
                propagateTags=True,
            )
        except ClientError as e:
            raise launch_error("batch submit_job", e) from e
        return str(resp["jobId"])

    def find_launch(self, spec: WorkerSpec) -> str | None:
        resp = self._batch.list_jobs(
            jobQueue=self.job_queue, filters=[{"name": "JOB_NAME", "values": [job_name_for(spec.job_id)]}]
        )
        for summary in resp.get("jobSummaryList", []):
            if summary.get("status") in _LIVE_BATCH_STATUSES:
                return str(summary["jobId"])
        return None

    def terminate(self, launch_id: str, reason: str) -> None:
        try:
            self._batch.terminate_job(jobId=launch_id, reason=reason[:255])
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") == "ClientException":
                log.info("batch terminate_job refused (job gone?)", extra={"launch_id": launch_id})
                return
            raise
