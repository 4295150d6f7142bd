"""ECS launcher (``ports.Launcher``): ``run_task``, for accounts without AWS Batch.

The task carries the Diarist job id as ``startedBy`` (what ``find_launch`` lists by) and as tags
(``domain.launches``). ``terminate`` of a task ECS no longer knows is no error.
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError

from diarist.adapters.aws import client, launch_error
from diarist.domain.launches import TAG_JOB_ID, TAG_TENANT_ID, worker_environment
from diarist.domain.messages import WorkerSpec
from diarist.ports import LaunchFailed

log = logging.getLogger(__name__)


class EcsLauncher:
    def __init__(
        self,
        cluster: str,
        task_definition: str,
        *,
        subnets: list[str] | None = None,
        container_name: str = "worker",
        ecs: Any | None = None,
    ) -> None:
        self.cluster = cluster
        self.task_definition = task_definition
        self.subnets = list(subnets or [])
        self.container_name = container_name
        self._ecs = ecs or client("ecs")

    def launch(self, spec: WorkerSpec) -> str:
        kwargs: dict[str, Any] = {
            "cluster": self.cluster,
            "taskDefinition": self.task_definition,
            "count": 1,
            "startedBy": spec.job_id[:36],
            "overrides": {
                "containerOverrides": [
                    {
                        "name": self.container_name,
                        "command": spec.command(),
                        "environment": [{"name": k, "value": v} for k, v in worker_environment(spec).items()],
                    }
                ]
            },
            "tags": [
                {"key": TAG_JOB_ID, "value": spec.job_id},
                {"key": TAG_TENANT_ID, "value": spec.tenant_id},
            ],
        }
        if self.subnets:
            kwargs["networkConfiguration"] = {
                "awsvpcConfiguration": {"subnets": self.subnets, "assignPublicIp": "DISABLED"}
            }
        try:
            resp = self._ecs.run_task(**kwargs)
        except ClientError as e:
            raise launch_error("ecs run_task", e) from e
        tasks = resp.get("tasks") or []
        if not tasks:
            failures = resp.get("failures") or []
            reasons = "; ".join(f"{f.get('reason')} {f.get('detail') or ''}".strip() for f in failures)
            raise LaunchFailed(f"ecs run_task started no task: {reasons or 'no reason given'}")
        return str(tasks[0]["taskArn"])

    def find_launch(self, spec: WorkerSpec) -> str | None:
        """A task already started for this job (``startedBy`` = job id) and not stopped."""
        resp = self._ecs.list_tasks(cluster=self.cluster, startedBy=spec.job_id[:36], desiredStatus="RUNNING")
        arns = resp.get("taskArns") or []
        return str(arns[0]) if arns else None

    def terminate(self, launch_id: str, reason: str) -> None:
        try:
            self._ecs.stop_task(cluster=self.cluster, task=launch_id, reason=reason[:255])
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("InvalidParameterException", "ClientException"):
                log.info("ecs stop_task refused (task gone?)", extra={"launch_id": launch_id})
                return
            raise
