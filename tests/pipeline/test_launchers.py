"""Launchers: BatchLauncher against moto's Batch (which records jobs but runs nothing), ECS and
throttling via botocore's Stubber, and build_launcher from settings."""

from __future__ import annotations

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
from diarist.ports import LaunchFailed, LaunchThrottled
from diarist.settings import LauncherSettings
from functions.batch_events import handler as batch_handler
from tests.pipeline.conftest import make_job

SPEC = WorkerSpec(job_id="job-42", tenant_id="acme")


@pytest.mark.integration
def test_batch_launcher_on_moto_and_the_failure_event_it_leads_to(aws, store, bus) -> None:
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
            "command": ["diarist", "worker"],
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
        },
    )
    launcher = build_launcher(
        LauncherSettings(
            launcher="batch", batch_job_queue="diarist-gpu", batch_job_definition="diarist-worker"
        )
    )
    assert isinstance(launcher, BatchLauncher)
    store.create(make_job("job-42", tenant="acme"))
    launch_id = launcher.launch(SPEC)
    store.transition("job-42", JobStatus.CREATED, launch_id=launch_id)
    submitted = batch.describe_jobs(jobs=[launch_id])["jobs"][0]
    assert submitted["jobName"] == "diarist-job-42"
    assert submitted["parameters"] == {"jobId": "job-42", "tenantId": "acme"}
    assert submitted["tags"]["diarist:job-id"] == "job-42"
    # the queue tag the stack's TerminateJob grant is conditioned on: the queue as configured
    assert submitted["tags"]["diarist:job-queue"] == "diarist-gpu"
    assert batch.list_tags_for_resource(resourceArn=submitted["jobArn"])["tags"] == {
        "diarist:job-id": "job-42",
        "diarist:tenant-id": "acme",
        "diarist:job-queue": "diarist-gpu",
    }
    assert submitted["container"]["command"] == [
        "diarist",
        "worker",
        "--job-id",
        "job-42",
        "--tenant-id",
        "acme",
    ]
    # moto cannot run the container (no Docker) and emits no event: build the state-change event
    # EventBridge would send from the job description, without `account` as moto's events lack it
    described = batch.describe_jobs(jobs=[launch_id])["jobs"][0]
    described.update(status="FAILED", statusReason="Essential container in task exited")
    described["container"].update(exitCode=1, reason=None)
    event = {
        "version": "0",
        "id": "e-1",
        "detail-type": "Batch Job State Change",
        "source": "aws.batch",
        "region": "us-east-1",
        "resources": [described["jobArn"]],
        "detail": described,
    }
    assert batch_handler.process(event, store, bus) == {"failedJob": "job-42"}
    job = store.get("job-42")
    assert (
        job.status is JobStatus.FAILED
        and job.error.code == "worker_crashed"
        and "code 1" in job.error.message
    )
    launcher.terminate(launch_id, "canceled")  # harmless on a finished job


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
    listed = {"jobQueue": "diarist-gpu", "filters": [{"name": "JOB_NAME", "values": ["diarist-job-42"]}]}
    stub.add_response(
        "list_jobs",
        {
            "jobSummaryList": [
                {"jobId": "old", "jobName": "diarist-job-42", "status": "FAILED"},
                {"jobId": "live", "jobName": "diarist-job-42", "status": "RUNNABLE"},
            ]
        },
        listed,
    )
    stub.add_response(
        "list_jobs",
        {"jobSummaryList": [{"jobId": "old", "jobName": "diarist-job-42", "status": "FAILED"}]},
        listed,
    )
    with stub:
        launcher = BatchLauncher("diarist-gpu", "diarist-worker", batch)
        with pytest.raises(LaunchThrottled):
            launcher.launch(SPEC)
        with pytest.raises(LaunchFailed, match="JobQueue diarist-gpu not found") as e:
            launcher.launch(SPEC)
        assert not isinstance(e.value, LaunchThrottled)
        assert launcher.find_launch(SPEC) == "live"  # a live job left by a dead dispatcher
        assert launcher.find_launch(SPEC) is None  # ended jobs do not count
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
            "startedBy": "job-42",
            "overrides": {
                "containerOverrides": [
                    {
                        "name": "worker",
                        "command": SPEC.command(),
                        "environment": [
                            {"name": "DIARIST_JOB_ID", "value": "job-42"},
                            {"name": "DIARIST_TENANT_ID", "value": "acme"},
                        ],
                    }
                ]
            },
            "tags": [
                {"key": "diarist:job-id", "value": "job-42"},
                {"key": "diarist:tenant-id", "value": "acme"},
            ],
            "networkConfiguration": {
                "awsvpcConfiguration": {"subnets": ["subnet-1"], "assignPublicIp": "DISABLED"}
            },
        },
    )
    stub.add_response("run_task", {"tasks": [], "failures": [{"reason": "RESOURCE:GPU"}]})
    stub.add_response("stop_task", {}, {"cluster": "diarist", "task": arn, "reason": "canceled"})
    with stub:
        launcher = EcsLauncher("diarist", "diarist-worker:3", subnets=["subnet-1"], ecs=ecs)
        assert launcher.launch(SPEC) == arn
        with pytest.raises(LaunchFailed, match="RESOURCE:GPU"):
            launcher.launch(SPEC)
        launcher.terminate(arn, "canceled")
    stub.assert_no_pending_responses()


def test_build_launcher_local_and_settings_checks(tmp_path) -> None:
    launcher = build_launcher(LauncherSettings(launcher="local", local_launch_dir=str(tmp_path)))
    assert isinstance(launcher, LocalLauncher)
    # one instance per process and launch dir: the API's cancel and the dispatcher share it
    assert build_launcher(LauncherSettings(launcher="local", local_launch_dir=str(tmp_path))) is launcher
    assert launcher.command(SPEC)[1:] == [
        "-m",
        "diarist",
        "worker",
        "--job-id",
        "job-42",
        "--tenant-id",
        "acme",
    ]
    with pytest.raises(ValueError, match="DIARIST_BATCH_JOB_QUEUE"):
        LauncherSettings(launcher="batch", batch_job_definition="d")
