"""How a container job carries its Diarist job, so that any event about it leads back to the job.

Every launch runs ``WorkerSpec.command()`` with ``worker_environment`` and names the job three ways: Batch ``parameters`` (``jobId``, ``tenantId``), the tags
below (ECS tasks too; Batch jobs also carry their queue, ``TAG_JOB_QUEUE``), and the Batch job
name ``diarist-<job id>``. The Batch state-change
handler reads them back (``domain.aws_events.BatchJobDetail.diarist_job_id``); Batch and ECS also
find a live launch of a job by its name or ``startedBy``.
"""

from __future__ import annotations

import re

from diarist.domain.messages import WorkerSpec

TAG_JOB_ID = "diarist:job-id"
TAG_TENANT_ID = "diarist:tenant-id"
TAG_JOB_QUEUE = "diarist:job-queue"
"""The Batch job queue a job was submitted to (as the launcher names it: the stack's queue ARN).
The stack allows ``batch:TerminateJob`` only on jobs carrying this tag with its own queue's ARN,
so the API and the dispatcher cannot stop other Batch jobs in the account."""
LAUNCH_TAG_KEYS = (TAG_JOB_ID, TAG_TENANT_ID, TAG_JOB_QUEUE)
JOB_NAME_PREFIX = "diarist-"


def job_name_for(job_id: str) -> str:
    """Batch job names: up to 128 letters, digits, hyphens and underscores."""
    return (JOB_NAME_PREFIX + re.sub(r"[^A-Za-z0-9_-]", "_", job_id))[:128]


def job_id_from_name(name: str | None) -> str | None:
    """The job id in a ``diarist-<job id>`` name, ``None`` for any other name."""
    if name and name.startswith(JOB_NAME_PREFIX) and len(name) > len(JOB_NAME_PREFIX):
        return name[len(JOB_NAME_PREFIX) :]
    return None


def worker_environment(spec: WorkerSpec) -> dict[str, str]:
    """The variables every launcher sets on the worker (``diarist worker`` reads them as defaults)."""
    return {"DIARIST_JOB_ID": spec.job_id, "DIARIST_TENANT_ID": spec.tenant_id}
