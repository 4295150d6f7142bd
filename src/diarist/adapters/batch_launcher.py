"""AWS Batch launcher (``ports.Launcher``): the production path, ``submit_job`` of a drain worker
(``diarist worker --drain``) on the GPU job queue.

The Batch job is named ``diarist-worker-<worker id>`` and tagged with the worker id and its queue
(``domain.launches``): the stack lets ``terminate`` stop only jobs with its own queue's tag.
``status`` asks ``DescribeJobs`` (a job Batch no longer knows is ``gone``); ``terminate`` of a job
Batch no longer knows is no error.
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError

from diarist.adapters.aws import client, launch_error
from diarist.domain.launches import TAG_JOB_QUEUE, TAG_WORKER_ID, worker_environment, worker_name_for
from diarist.domain.messages import WorkerSpec
from diarist.ports import WorkerStatus

log = logging.getLogger(__name__)

_BATCH_STATUS = {
    "SUBMITTED": WorkerStatus.STARTING,
    "PENDING": WorkerStatus.STARTING,
    "RUNNABLE": WorkerStatus.STARTING,
    "STARTING": WorkerStatus.STARTING,
    "RUNNING": WorkerStatus.RUNNING,
    "SUCCEEDED": WorkerStatus.ENDED,
    "FAILED": WorkerStatus.FAILED,
}


class BatchLauncher:
    def __init__(self, job_queue: str, job_definition: str, batch: Any | None = None) -> None:
        self.job_queue = job_queue
        self.job_definition = job_definition
        self._batch = batch or client("batch")

    def launch(self, spec: WorkerSpec) -> str:
        try:
            resp = self._batch.submit_job(
                jobName=worker_name_for(spec.worker_id),
                jobQueue=self.job_queue,
                jobDefinition=self.job_definition,
                containerOverrides={
                    "command": spec.command(),
                    "environment": [{"name": k, "value": v} for k, v in worker_environment(spec).items()],
                },
                # the queue tag is what the stack's TerminateJob grant is conditioned on
                tags={TAG_WORKER_ID: spec.worker_id, TAG_JOB_QUEUE: self.job_queue},
                propagateTags=True,
            )
        except ClientError as e:
            raise launch_error("batch submit_job", e) from e
        return str(resp["jobId"])

    def status(self, launch_id: str) -> WorkerStatus:
        try:
            jobs = self._batch.describe_jobs(jobs=[launch_id]).get("jobs") or []
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") == "ClientException":
                return WorkerStatus.GONE
            raise
        if not jobs:
            return WorkerStatus.GONE
        return _BATCH_STATUS.get(str(jobs[0].get("status")), WorkerStatus.GONE)

    def terminate(self, launch_id: str, reason: str) -> None:
        try:
            self._batch.terminate_job(jobId=launch_id, reason=reason[:255])
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") == "ClientException":
                log.info("batch terminate_job refused (job gone?)", extra={"launch_id": launch_id})
                return
            raise
