"""How a container job carries its drain worker, so that any event about it leads back to it.

Every launch runs ``WorkerSpec.command()`` (``diarist worker --drain``) with ``worker_environment``
and names the worker two ways: the tags below (ECS tasks too; Batch jobs also carry their queue,
``TAG_JOB_QUEUE``) and the Batch job name ``diarist-worker-<worker id>``. A worker serves many
Diarist jobs one after another; each job records the worker that ran it (``Job.worker_id``,
``Job.launch_id``, ``Job.worker_log``).
"""

from __future__ import annotations

import re

from diarist.domain.messages import WorkerSpec

TAG_WORKER_ID = "diarist:worker-id"
TAG_JOB_QUEUE = "diarist:job-queue"
"""The Batch job queue a worker was submitted to (as the launcher names it: the stack's queue ARN).
The stack allows ``batch:TerminateJob`` only on jobs carrying this tag with its own queue's ARN,
so the sweeper and the dispatcher cannot stop other Batch jobs in the account."""
LAUNCH_TAG_KEYS = (TAG_WORKER_ID, TAG_JOB_QUEUE)
WORKER_NAME_PREFIX = "diarist-worker-"
ENV_WORKER_ID = "DIARIST_WORKER_ID"

# Releases before drain workers launched one container per Diarist job, named and tagged by it;
# the Batch state-change handler still reads those names (a container of an older release may
# still be running during an upgrade).
TAG_JOB_ID = "diarist:job-id"
TAG_TENANT_ID = "diarist:tenant-id"
JOB_NAME_PREFIX = "diarist-"


def job_id_from_name(name: str | None) -> str | None:
    """The job id in an older release's ``diarist-<job id>`` name, ``None`` for any other name
    (a drain worker's ``diarist-worker-<id>`` included)."""
    if worker_id_from_name(name) is not None:
        return None
    if name and name.startswith(JOB_NAME_PREFIX) and len(name) > len(JOB_NAME_PREFIX):
        return name[len(JOB_NAME_PREFIX) :]
    return None


def worker_name_for(worker_id: str) -> str:
    """Batch job names: up to 128 letters, digits, hyphens and underscores."""
    return (WORKER_NAME_PREFIX + re.sub(r"[^A-Za-z0-9_-]", "_", worker_id))[:128]


def worker_id_from_name(name: str | None) -> str | None:
    """The worker id in a ``diarist-worker-<id>`` name, ``None`` for any other name."""
    if name and name.startswith(WORKER_NAME_PREFIX) and len(name) > len(WORKER_NAME_PREFIX):
        return name[len(WORKER_NAME_PREFIX) :]
    return None


def worker_environment(spec: WorkerSpec) -> dict[str, str]:
    """The variables every launcher sets on the worker (``diarist worker --drain`` reads them)."""
    return {ENV_WORKER_ID: spec.worker_id}
