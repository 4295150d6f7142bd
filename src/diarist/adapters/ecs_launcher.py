"""ECS launcher (``ports.Launcher``): ``run_task``, for accounts without AWS Batch.

Each task is one drain worker (``diarist worker --drain``), its worker id as ``startedBy`` and as a
tag (``domain.launches``). ``status`` asks ``DescribeTasks``; ``terminate`` of a task ECS no
longer knows is no error.
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError

from diarist.adapters.aws import client, launch_error
from diarist.domain.launches import TAG_WORKER_ID, worker_environment
from diarist.domain.messages import WorkerSpec
from diarist.ports import LaunchFailed, WorkerStatus

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
            "startedBy": spec.worker_id[:36],
            "overrides": {
                "containerOverrides": [
                    {
                        "name": self.container_name,
                        "command": spec.command(),
                        "environment": [{"name": k, "value": v} for k, v in worker_environment(spec).items()],
                    }
                ]
            },
            "tags": [{"key": TAG_WORKER_ID, "value": spec.worker_id}],
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

    def status(self, launch_id: str) -> WorkerStatus:
        try:
            resp = self._ecs.describe_tasks(cluster=self.cluster, tasks=[launch_id])
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("InvalidParameterException", "ClientException"):
                return WorkerStatus.GONE
            raise
        tasks = resp.get("tasks") or []
        if not tasks:
            return WorkerStatus.GONE
        task = tasks[0]
        last = str(task.get("lastStatus", ""))
        if last == "RUNNING":
            return WorkerStatus.RUNNING
        if last in ("STOPPED", "DELETED", "DEPROVISIONING", "STOPPING"):
            codes = [c.get("exitCode") for c in task.get("containers", [])]
            return WorkerStatus.ENDED if codes and all(c == 0 for c in codes) else WorkerStatus.FAILED
        return WorkerStatus.STARTING

    def terminate(self, launch_id: str, reason: str) -> None:
        try:
            self._ecs.stop_task(cluster=self.cluster, task=launch_id, reason=reason[:255])
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("InvalidParameterException", "ClientException"):
                log.info("ecs stop_task refused (task gone?)", extra={"launch_id": launch_id})
                return
            raise
