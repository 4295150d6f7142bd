"""Launchers: BatchLauncher against moto's Batch (which records jobs but runs nothing), ECS and
throttling via botocore's Stubber, and build_launcher from settings."""

from __future__ import annotations

from datetime import timedelta

import boto3
import pytest
from botocore.stub import Stubber

from diarist.adapters.aws import client
from diarist.adapters.batch_launcher import BatchLauncher
from diarist.adapters.ecs_launcher import EcsLauncher
from diarist.domain.jobs import JobStatus
from diarist.domain.messages import WorkerSpec
from diarist.launchers import build_launcher
from diarist.local.process_launcher import LocalLauncher
from diarist.ports import LaunchFailed, LaunchThrottled, WorkerStatus
from diarist.settings import LauncherSettings
from functions.batch_events import handler as batch_handler
from tests.pipeline.conftest import make_job

SPEC = WorkerSpec(worker_id="w-42")


@pytest.mark.integration
def test_batch_launcher_on_moto_launches_a_drain_worker(aws, store, bus) -> None:
    iam, batch = client("iam"), client("batch")
    role = iam.create_role(RoleName="diarist-batch", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    ce = batch.create_compute_environment(
        computeEnvironmentName="diarist-gpu", type="UNMANAGED", state="ENABLED", serviceRole=role
    )["computeEnvironmentArn"]
    batch.create_job_queue(
        jobQueueName="diarist-gpu",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}],
    )
    batch.register_job_definition(
        jobDefinitionName="diarist-worker",
        type="container",
        containerProperties={
            "image": "diarist-worker:latest",
            "command": ["diarist", "worker", "--drain"],
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
        },
    )
    launcher = build_launcher(
        LauncherSettings(
            launcher="batch", batch_job_queue="diarist-gpu", batch_job_definition="diarist-worker"
        )
    )
    assert isinstance(launcher, BatchLauncher)
    launch_id = launcher.launch(SPEC)
    submitted = batch.describe_jobs(jobs=[launch_id])["jobs"][0]
    assert submitted["jobName"] == "diarist-worker-w-42"
    # the queue tag the stack's TerminateJob grant is conditioned on: the queue as configured
    assert batch.list_tags_for_resource(resourceArn=submitted["jobArn"])["tags"] == {
        "diarist:worker-id": "w-42",
        "diarist:job-queue": "diarist-gpu",
    }
    assert submitted["container"]["command"] == ["diarist", "worker", "--drain"]
    env = {e["name"]: e["value"] for e in submitted["container"]["environment"]}
    assert env["DIARIST_WORKER_ID"] == "w-42"
    # DescribeJobs: a job Batch knows is not gone; one it does not know is
    assert launcher.status(launch_id) is not WorkerStatus.GONE
    assert launcher.status("00000000-0000-0000-0000-000000000000") is WorkerStatus.GONE
    launcher.terminate(launch_id, "sweeper gave up on it")


@pytest.mark.integration
def test_batch_events_of_drain_workers_and_of_older_per_job_containers(aws, store, bus) -> None:
    """A drain worker's Batch event names no job (its jobs are settled by the take/sweeper); a
    container of an older release (one job per container, still running during an upgrade) still
    fails its job."""
    store.create(make_job("job-42", tenant="acme"))
    store.transition("job-42", JobStatus.CREATED)

    def event(name: str, **detail) -> dict:
        return {
            "detail-type": "Batch Job State Change",
            "source": "aws.batch",
            "detail": {
                "jobId": "b-1",
                "jobName": name,
                "status": "FAILED",
                "statusReason": "Essential container in task exited",
                "container": {"exitCode": 1, "command": []},
                **detail,
            },
        }

    from diarist.adapters.dynamo_fleet import DynamoWorkerFleet
    from diarist.domain.jobs import utcnow

    fleet = DynamoWorkerFleet(aws.table)
    fleet.report("w-42", utcnow() + timedelta(minutes=15))  # launched, counting as starting
    assert batch_handler.process(event("diarist-worker-w-42"), store, bus, fleet=fleet)["failedJob"] is None
    assert store.get("job-42").status is JobStatus.CREATED
    assert fleet.read().workers == {}  # it left the fleet: the next decision may launch another
    assert batch_handler.process(event("diarist-job-42"), store, bus) == {"failedJob": "job-42"}
    job = store.get("job-42")
    assert job.status is JobStatus.FAILED and job.error.code == "worker_crashed"


def test_worker_containers_that_cannot_start_are_counted_on_the_fleet(aws, store, bus) -> None:
    """CannotPull / CannotStart, or an essential container that exited within a minute of its
    start, is a failed start (counted, with its reason); an OOM kill mid-run is not; the first
    report of a worker that did start resets the count."""
    from diarist.adapters.dynamo_fleet import DynamoWorkerFleet
    from diarist.domain.jobs import utcnow
    from tests.pipeline.conftest import load_event

    fleet = DynamoWorkerFleet(aws.table)

    def worker_event(worker: str, **detail) -> dict:
        return {
            "detail-type": "Batch Job State Change",
            "source": "aws.batch",
            "detail": {
                "jobId": f"b-{worker}",
                "jobName": f"diarist-worker-{worker}",
                "status": "FAILED",
                **detail,
            },
        }

    for w in ("w-1", "w-2", "w-3", "w-4"):
        fleet.report(w, utcnow() + timedelta(minutes=15))
    pull = "CannotPullContainerError: pull image manifest has been retried 5 time(s): not found"
    batch_handler.process(
        worker_event("w-1", statusReason="Task failed to start", container={"reason": pull}),
        store,
        bus,
        fleet=fleet,
    )
    state = fleet.read()
    assert (
        state.start_failures == 1
        and "could not start" in state.start_failure
        and "CannotPull" in state.start_failure
    )
    assert "w-1" not in state.workers and state.start_failed_at is not None
    at_once = {
        "statusReason": "Essential container in task exited",
        "attempts": [{"container": {"exitCode": 1}, "startedAt": 1_000_000, "stoppedAt": 1_004_000}],
    }
    batch_handler.process(worker_event("w-2", **at_once), store, bus, fleet=fleet)
    state = fleet.read()
    assert state.start_failures == 2 and "exited with code 1 4 s after it started" in state.start_failure
    oom = load_event("batch_failed_oom.json")
    oom["detail"].update(jobName="diarist-worker-w-3", parameters={}, tags={})
    batch_handler.process(oom, store, bus, fleet=fleet)  # ran for 5 minutes: a crash, not a start
    state = fleet.read()
    assert state.start_failures == 2 and "w-3" not in state.workers
    fleet.report("w-4", utcnow() + timedelta(minutes=2))  # a later report of a running worker
    assert fleet.read().start_failures == 2
    fleet.report("w-5", utcnow() + timedelta(minutes=2), first=True)  # a worker started after all
    state = fleet.read()
    assert (state.start_failures, state.start_failure, state.start_failed_at) == (0, None, None)


def test_a_local_worker_that_exits_before_taking_a_job_is_a_failed_start(aws, store, bus, tmp_path) -> None:
    """Local mode's reaper: the exit code of a worker that exited without taking a job."""
    import time as _time

    from diarist.adapters.dynamo_fleet import DynamoWorkerFleet
    from diarist.domain.jobs import utcnow

    fleet = DynamoWorkerFleet(aws.table)
    launcher = LocalLauncher(tmp_path / "launch", extra_env={"DIARIST_ENGINE": "no-such-engine"})
    fleet.report("w-bad", utcnow() + timedelta(minutes=15))
    launch_id = launcher.launch(WorkerSpec(worker_id="w-bad"))
    deadline = _time.monotonic() + 60
    exits = []
    while not exits and _time.monotonic() < deadline:
        exits = launcher.reap(store, bus, fleet)
        _time.sleep(0.2)
    (ex,) = exits
    assert ex.launch_id == launch_id and ex.returncode not in (0, 143) and not ex.took_a_job
    state = fleet.read()
    assert state.start_failures == 1 and "w-bad" not in state.workers
    assert f"exited with code {ex.returncode} before taking a job" in state.start_failure
    assert "engine" in state.start_failure  # the end of its log: the setting it refused


def _stubbed(service: str):
    c = boto3.client(service, region_name="us-east-1", endpoint_url="https://stubbed.invalid")
    return c, Stubber(c)


def test_batch_throttling_and_refusal_are_typed() -> None:
    batch, stub = _stubbed("batch")
    stub.add_client_error("submit_job", service_error_code="TooManyRequestsException", http_status_code=429)
    stub.add_client_error(
        "submit_job",
        service_error_code="ClientException",
        service_message="JobQueue diarist-gpu not found",
        http_status_code=400,
    )

    def described(status: str | None) -> dict:
        job = {"jobName": "diarist-worker-w-42", "jobId": "b-1", "jobQueue": "q", "status": status}
        job.update(startedAt=0, jobDefinition="d")
        return {"jobs": [job] if status else []}

    for status in ("RUNNABLE", "RUNNING", "FAILED", "SUCCEEDED", None):
        stub.add_response("describe_jobs", described(status), {"jobs": ["b-1"]})
    with stub:
        launcher = BatchLauncher("diarist-gpu", "diarist-worker", batch)
        with pytest.raises(LaunchThrottled):
            launcher.launch(SPEC)
        with pytest.raises(LaunchFailed, match="JobQueue diarist-gpu not found") as e:
            launcher.launch(SPEC)
        assert not isinstance(e.value, LaunchThrottled)
        assert [launcher.status("b-1") for _ in range(5)] == [
            WorkerStatus.STARTING,
            WorkerStatus.RUNNING,
            WorkerStatus.FAILED,
            WorkerStatus.ENDED,
            WorkerStatus.GONE,
        ]
    stub.assert_no_pending_responses()


def test_ecs_launcher_run_task_and_stop_task() -> None:
    ecs, stub = _stubbed("ecs")
    arn = "arn:aws:ecs:us-east-1:123456789012:task/diarist/0a1b2c3d"
    stub.add_response(
        "run_task",
        {"tasks": [{"taskArn": arn}], "failures": []},
        {
            "cluster": "diarist",
            "taskDefinition": "diarist-worker:3",
            "count": 1,
            "startedBy": "w-42",
            "overrides": {
                "containerOverrides": [
                    {
                        "name": "worker",
                        "command": ["diarist", "worker", "--drain"],
                        "environment": [{"name": "DIARIST_WORKER_ID", "value": "w-42"}],
                    }
                ]
            },
            "tags": [{"key": "diarist:worker-id", "value": "w-42"}],
            "networkConfiguration": {
                "awsvpcConfiguration": {"subnets": ["subnet-1"], "assignPublicIp": "DISABLED"}
            },
        },
    )
    stub.add_response("run_task", {"tasks": [], "failures": [{"reason": "RESOURCE:GPU"}]})
    stub.add_response("describe_tasks", {"tasks": [{"taskArn": arn, "lastStatus": "RUNNING"}]})
    stub.add_response(
        "describe_tasks",
        {"tasks": [{"taskArn": arn, "lastStatus": "STOPPED", "containers": [{"exitCode": 137}]}]},
    )
    stub.add_response("describe_tasks", {"tasks": [], "failures": [{"arn": arn, "reason": "MISSING"}]})
    stub.add_response("stop_task", {}, {"cluster": "diarist", "task": arn, "reason": "canceled"})
    with stub:
        launcher = EcsLauncher("diarist", "diarist-worker:3", subnets=["subnet-1"], ecs=ecs)
        assert launcher.launch(SPEC) == arn
        with pytest.raises(LaunchFailed, match="RESOURCE:GPU"):
            launcher.launch(SPEC)
        assert [launcher.status(arn) for _ in range(3)] == [
            WorkerStatus.RUNNING,
            WorkerStatus.FAILED,
            WorkerStatus.GONE,
        ]
        launcher.terminate(arn, "canceled")
    stub.assert_no_pending_responses()


def test_build_launcher_local_and_settings_checks(tmp_path) -> None:
    launcher = build_launcher(LauncherSettings(launcher="local", local_launch_dir=str(tmp_path)))
    assert isinstance(launcher, LocalLauncher)
    # one instance per process and launch dir: the dispatcher, the sweeper and the reaper share it
    assert build_launcher(LauncherSettings(launcher="local", local_launch_dir=str(tmp_path))) is launcher
    assert launcher.command(SPEC)[1:] == ["-m", "diarist", "worker", "--drain"]
    assert launcher.status("local-999999999") is WorkerStatus.GONE
    with pytest.raises(ValueError, match="DIARIST_BATCH_JOB_QUEUE"):
        LauncherSettings(launcher="batch", batch_job_definition="d")
