"""Key properties of each resource in the synthesized templates (see conftest: two stacks)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from diarist import resources
from diarist.domain.model_choice import DEFAULT_EMBEDDING_MODEL_ID
from infra import outputs
from infra.constructs.queues import VISIBILITY_FACTOR
from infra.service import HANDLERS
from tests.infra.conftest import (
    CUSTOM_EMBEDDING_MODEL_ID,
    CUSTOM_MAX_ACTIVE_JOBS,
    CUSTOM_REQUESTS_PER_MINUTE,
    EXTRA_INPUT_RULES,
    WEB_ACL_ARN,
    Synth,
)

DEFAULT, CUSTOM = "Diarist", "DiaristCustom"
HOURS = 3600


def _ref_id(value: Any) -> str:
    """Logical id behind {"Ref": id} or {"Fn::GetAtt": [id, attr]}."""
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    raise AssertionError(f"not a reference: {value!r}")


def _functions_by_handler(synth: Synth, stack: str) -> dict[str, tuple[str, dict[str, Any]]]:
    found = {}
    for lid, res in synth.resources(stack, "AWS::Lambda::Function").items():
        handler = res["Properties"].get("Handler", "")
        if handler.startswith("functions."):
            found[handler] = (lid, res["Properties"])
    return found


# --------------------------------------------------------------------------- AWS Batch (GPU)


def test_gpu_compute_environments_scale_to_zero_spot_first(synth: Synth) -> None:
    envs = synth.resources(DEFAULT, "AWS::Batch::ComputeEnvironment")
    by_type = {e["Properties"]["ComputeResources"]["Type"]: (lid, e) for lid, e in envs.items()}
    assert set(by_type) == {"SPOT", "EC2"}
    for _, env in by_type.values():
        cr = env["Properties"]["ComputeResources"]
        assert cr["MinvCpus"] == 0  # no job, no instance
        assert cr["MaxvCpus"] == 16
        assert cr["InstanceTypes"] == ["g6.xlarge", "g5.xlarge"]
        assert cr["Ec2Configuration"] == [{"ImageType": "ECS_AL2023_NVIDIA"}]
        assert "LaunchTemplate" in cr
    assert by_type["SPOT"][1]["Properties"]["ComputeResources"]["AllocationStrategy"] == (
        "SPOT_PRICE_CAPACITY_OPTIMIZED"
    )
    assert by_type["EC2"][1]["Properties"]["ComputeResources"]["AllocationStrategy"] == "BEST_FIT_PROGRESSIVE"

    _, queue = synth.one(DEFAULT, "AWS::Batch::JobQueue")
    order = {
        _ref_id(o["ComputeEnvironment"]): o["Order"] for o in queue["Properties"]["ComputeEnvironmentOrder"]
    }
    assert order[by_type["SPOT"][0]] < order[by_type["EC2"][0]]  # spot first, on-demand second
    limits = queue["Properties"]["JobStateTimeLimitActions"]
    assert {a["Reason"] for a in limits} >= {"CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"}
    assert all(a["Action"] == "CANCEL" and a["State"] == "RUNNABLE" for a in limits)


def test_launch_template_requires_imdsv2_and_encrypted_root_volume(synth: Synth) -> None:
    _, lt = synth.one(DEFAULT, "AWS::EC2::LaunchTemplate")
    data = lt["Properties"]["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
    (device,) = data["BlockDeviceMappings"]
    assert device["Ebs"]["Encrypted"] is True and device["Ebs"]["VolumeSize"] >= 50


def test_job_definition_gpu_retry_on_spot_reclaim_only_and_timeout(synth: Synth) -> None:
    _, jd = synth.one(DEFAULT, "AWS::Batch::JobDefinition")
    props = jd["Properties"]
    assert props["PlatformCapabilities"] == ["EC2"]
    requirements = {r["Type"]: r["Value"] for r in props["ContainerProperties"]["ResourceRequirements"]}
    assert requirements["GPU"] == "1"
    assert float(requirements["VCPU"]) >= 1 and int(requirements["MEMORY"]) >= 8192
    retry = props["RetryStrategy"]
    assert retry["Attempts"] >= 2
    assert retry["EvaluateOnExit"] == [
        {"Action": "RETRY", "OnStatusReason": "Host EC2*"},
        {"Action": "EXIT", "OnReason": "*"},
    ]
    # 24 h of audio takes well under an hour on one GPU; the timeout leaves room for slow cases.
    assert props["Timeout"]["AttemptDurationSeconds"] >= 4 * HOURS
    container = props["ContainerProperties"]
    assert container["Command"][:2] == ["diarist", "worker"]
    assert "JobRoleArn" in container and "ExecutionRoleArn" in container
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"


def test_worker_image_is_a_docker_asset_built_from_the_repository(synth: Synth) -> None:
    _, jd = synth.one(DEFAULT, "AWS::Batch::JobDefinition")
    image = jd["Properties"]["ContainerProperties"]["Image"]
    assert "Fn::Sub" in image and "container-assets" in str(image)  # the bootstrap asset repository
    stack = synth.stacks[DEFAULT]
    asset = stack.service.gpu.worker_asset
    assert (
        asset is not None and asset.image_uri
    )  # DockerImageAsset: built and pushed at deploy time, not at synth


def test_worker_build_context_holds_everything_the_dockerfile_copies() -> None:
    """The image's context is the repo root minus everything but WORKER_CONTEXT_INCLUDES."""
    from infra.constructs.gpu_batch import WORKER_CONTEXT_INCLUDES
    from infra.packaging import REPO_ROOT

    dockerfile = (REPO_ROOT / "containers" / "gpu-worker" / "Dockerfile").read_text()
    sources = []
    for line in dockerfile.replace("\\\n", " ").splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            sources += [w for w in words[1:-1] if not w.startswith("--")]
    assert sources, "no COPY from the build context found"
    for src in sources:
        path = src.rstrip("*").rstrip("/").removeprefix("./")
        assert any(path == inc or path.startswith(inc + "/") for inc in WORKER_CONTEXT_INCLUDES), src


def test_worker_runs_on_cuda_or_fails(synth: Synth) -> None:
    _, jd = synth.one(DEFAULT, "AWS::Batch::JobDefinition")
    env = {e["Name"]: e["Value"] for e in jd["Properties"]["ContainerProperties"]["Environment"]}
    assert env["DIARIST_DEVICE"] == "cuda"


def test_custom_stack_on_demand_only_in_existing_vpc(synth: Synth) -> None:
    assert not synth.resources(CUSTOM, "AWS::EC2::VPC")  # the existing VPC is used
    _, env = synth.one(CUSTOM, "AWS::Batch::ComputeEnvironment")
    cr = env["Properties"]["ComputeResources"]
    assert cr["Type"] == "EC2" and cr["MinvCpus"] == 0 and cr["MaxvCpus"] == 32
    assert cr["Subnets"] == ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]
    assert cr["InstanceTypes"] == ["g6.2xlarge"]


def test_new_vpc_has_no_nat_gateway_and_free_gateway_endpoints(synth: Synth) -> None:
    assert synth.resources(DEFAULT, "AWS::EC2::VPC")
    assert not synth.resources(DEFAULT, "AWS::EC2::NatGateway")  # nothing billed while idle
    endpoints = synth.resources(DEFAULT, "AWS::EC2::VPCEndpoint").values()
    assert {e["Properties"]["VpcEndpointType"] for e in endpoints} == {"Gateway"}
    assert len(list(endpoints)) == 2  # S3 and DynamoDB
    _, flow = synth.one(DEFAULT, "AWS::EC2::FlowLog")
    assert flow["Properties"]["TrafficType"] == "REJECT"


# --------------------------------------------------------------------------- queues


def test_every_work_queue_has_a_dlq_and_visibility_6x_its_consumer_timeout(synth: Synth) -> None:
    for stack in (DEFAULT, CUSTOM):
        queues = synth.resources(stack, "AWS::SQS::Queue")
        functions = synth.resources(stack, "AWS::Lambda::Function")
        mappings = synth.resources(stack, "AWS::Lambda::EventSourceMapping").values()
        assert len(list(mappings)) == 4  # jobs, job DLQ, ingest, webhooks (batch events: direct)
        for m in mappings:
            props = m["Properties"]
            queue = queues[_ref_id(props["EventSourceArn"])]
            fn = functions[_ref_id(props["FunctionName"])]
            assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
            visibility = queue["Properties"].get("VisibilityTimeout", 30)
            assert visibility >= VISIBILITY_FACTOR * fn["Properties"]["Timeout"], fn["Properties"]["Handler"]
        with_dlq = [q for q in queues.values() if "RedrivePolicy" in q["Properties"]]
        assert len(with_dlq) == 5  # jobs, work and short work (the drain workers' lanes), ingest, webhooks
        for q in with_dlq:
            assert q["Properties"]["RedrivePolicy"]["maxReceiveCount"] <= 10
            assert _ref_id(q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]) in queues
        for q in queues.values():
            assert q["Properties"]["SqsManagedSseEnabled"] is True


def test_queue_policies_deny_plain_http(synth: Synth) -> None:
    policies = synth.resources(DEFAULT, "AWS::SQS::QueuePolicy").values()
    queues = synth.resources(DEFAULT, "AWS::SQS::Queue")
    covered = set()
    for p in policies:
        statements = p["Properties"]["PolicyDocument"]["Statement"]
        if any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in statements
        ):
            covered |= {_ref_id(q) for q in p["Properties"]["Queues"]}
    assert covered == set(queues)


# --------------------------------------------------------------------------- storage


def test_buckets_private_encrypted_tls_only(synth: Synth) -> None:
    buckets = synth.resources(DEFAULT, "AWS::S3::Bucket")
    assert len(buckets) == 3  # media, results, access logs
    for b in buckets.values():
        p = b["Properties"]
        assert p["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
        assert b["DeletionPolicy"] == "Retain"
    tls_only = set()
    for policy in synth.resources(DEFAULT, "AWS::S3::BucketPolicy").values():
        for s in policy["Properties"]["PolicyDocument"]["Statement"]:
            if s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}:
                tls_only.add(_ref_id(policy["Properties"]["Bucket"]))
    assert tls_only == set(buckets)


def _lifecycle(synth: Synth, stack: str, output: str) -> dict[str, dict[str, Any]]:
    bucket_id = _ref_id(synth.templates[stack]["Outputs"][output]["Value"])
    rules = synth.templates[stack]["Resources"][bucket_id]["Properties"]["LifecycleConfiguration"]["Rules"]
    return {r.get("Prefix", ""): r for r in rules}


def test_lifecycle_rules_follow_retention_days(synth: Synth) -> None:
    for stack, days in ((DEFAULT, resources.RESULT_RETENTION_DAYS_DEFAULT), (CUSTOM, 7)):
        media = _lifecycle(synth, stack, outputs.MEDIA_BUCKET)
        assert media[resources.INCOMING_PREFIX]["ExpirationInDays"] == days
        assert media[resources.MEDIA_PREFIX]["ExpirationInDays"] == days
        assert media[""]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 1
        results = _lifecycle(synth, stack, outputs.RESULTS_BUCKET)
        assert results[resources.RESULTS_PREFIX]["ExpirationInDays"] == days


def test_media_bucket_sends_events_to_eventbridge(synth: Synth) -> None:
    media_id = _ref_id(synth.templates[DEFAULT]["Outputs"][outputs.MEDIA_BUCKET]["Value"])
    _, notifications = synth.one(DEFAULT, "Custom::S3BucketNotifications")
    assert _ref_id(notifications["Properties"]["BucketName"]) == media_id
    assert notifications["Properties"]["NotificationConfiguration"] == {"EventBridgeConfiguration": {}}


def test_single_table_on_demand_pitr_ttl_and_tenant_index(synth: Synth) -> None:
    _, table = synth.one(DEFAULT, "AWS::DynamoDB::Table")
    p = table["Properties"]
    assert p["BillingMode"] == "PAY_PER_REQUEST"
    assert p["KeySchema"] == [{"AttributeName": resources.TABLE_PK, "KeyType": "HASH"}]
    assert p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert p["TimeToLiveSpecification"] == {"AttributeName": resources.TABLE_TTL_ATTRIBUTE, "Enabled": True}
    assert p["SSESpecification"]["SSEEnabled"] is True
    gsi, state = p["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == resources.TABLE_GSI_TENANT
    assert gsi["KeySchema"] == [
        {"AttributeName": resources.TABLE_GSI_PK, "KeyType": "HASH"},
        {"AttributeName": resources.TABLE_GSI_SK, "KeyType": "RANGE"},
    ]
    # the sweeper's sparse index: non-terminal jobs by status, owed completion events
    assert state["IndexName"] == resources.TABLE_GSI_STATE
    assert state["KeySchema"] == [
        {"AttributeName": resources.TABLE_GSI2_PK, "KeyType": "HASH"},
        {"AttributeName": resources.TABLE_GSI2_SK, "KeyType": "RANGE"},
    ]
    assert table["DeletionPolicy"] == "Retain" and p["DeletionProtectionEnabled"] is True
    _, custom_table = synth.one(CUSTOM, "AWS::DynamoDB::Table")
    assert custom_table["DeletionPolicy"] == "Delete"


# --------------------------------------------------------------------------- functions


def test_seven_functions_python311_own_role_each(synth: Synth) -> None:
    functions = _functions_by_handler(synth, DEFAULT)
    assert set(functions) == set(HANDLERS.values())
    roles = [_ref_id(p["Role"]) for _, p in functions.values()]
    assert len(set(roles)) == len(roles)  # no shared role
    for _, p in functions.values():
        assert p["Runtime"] == "python3.11"
        assert p["Architectures"] == ["x86_64"]
        assert p["TracingConfig"] == {"Mode": "Active"}
        assert p["LoggingConfig"]["LogFormat"] == "JSON"
        assert p["Timeout"] <= 60


# What each process reports as its Powertools service (logs, traces, metrics dimensions).
SERVICE_NAMES = {
    "functions.api.handler.lambda_handler": "diarist-api",
    "functions.dispatcher.handler.lambda_handler": "diarist-dispatcher",
    "functions.dispatcher.dlq_handler.lambda_handler": "diarist-dispatcher-dlq",
    "functions.ingest.handler.lambda_handler": "diarist-ingest",
    "functions.batch_events.handler.lambda_handler": "diarist-batch-events",
    "functions.webhook.handler.lambda_handler": "diarist-webhook",
    "functions.sweeper.handler.lambda_handler": "diarist-sweeper",
}


def test_each_function_has_its_own_service_name_and_active_tracing(synth: Synth) -> None:
    from aws_cdk.assertions import Match, Template

    assert set(SERVICE_NAMES) == set(HANDLERS.values())
    assert len(set(SERVICE_NAMES.values())) == len(SERVICE_NAMES)
    for stack in (DEFAULT, CUSTOM):
        template = Template.from_json(synth.templates[stack])
        for handler, service in SERVICE_NAMES.items():
            template.has_resource_properties(
                "AWS::Lambda::Function",
                {
                    "Handler": handler,
                    "TracingConfig": {"Mode": "Active"},
                    "Environment": {
                        "Variables": Match.object_like(
                            {"POWERTOOLS_SERVICE_NAME": service, "POWERTOOLS_METRICS_NAMESPACE": "Diarist"}
                        )
                    },
                },
            )


def test_worker_service_name_in_the_job_definition_and_the_image(synth: Synth) -> None:
    from aws_cdk.assertions import Match, Template

    from infra.packaging import REPO_ROOT

    Template.from_json(synth.templates[DEFAULT]).has_resource_properties(
        "AWS::Batch::JobDefinition",
        {
            "ContainerProperties": {
                "Environment": Match.array_with(
                    [
                        {"Name": "POWERTOOLS_SERVICE_NAME", "Value": "diarist-worker"},
                        {"Name": "POWERTOOLS_METRICS_NAMESPACE", "Value": "Diarist"},
                    ]
                )
            }
        },
    )
    dockerfile = (REPO_ROOT / "containers" / "gpu-worker" / "Dockerfile").read_text()
    assert "POWERTOOLS_SERVICE_NAME=diarist-worker" in dockerfile.split()  # the image's own default


def _settings_env(env: dict[str, Any]) -> dict[str, str]:
    """Token values (Ref/GetAtt) become placeholders; literals stay (settings validate them)."""
    return {k: v if isinstance(v, str) else "placeholder" for k, v in env.items()}


@pytest.mark.parametrize(
    ("handler", "settings_classes"),
    [
        ("functions.api.handler.lambda_handler", ("ApiSettings", "WebhookSettings")),
        ("functions.dispatcher.handler.lambda_handler", ("DispatcherSettings",)),
        ("functions.dispatcher.dlq_handler.lambda_handler", ("DispatchDlqSettings",)),
        ("functions.ingest.handler.lambda_handler", ("IngestSettings",)),
        ("functions.batch_events.handler.lambda_handler", ("BatchEventsSettings",)),
        ("functions.webhook.handler.lambda_handler", ("WebhookSettings",)),
        ("functions.sweeper.handler.lambda_handler", ("SweeperSettings",)),
    ],
)
def test_function_environment_satisfies_its_settings(
    synth: Synth, monkeypatch: pytest.MonkeyPatch, handler: str, settings_classes: tuple[str, ...]
) -> None:
    import diarist.settings

    _, props = _functions_by_handler(synth, DEFAULT)[handler]
    env = _settings_env(props["Environment"]["Variables"])
    for key in [k for k in list(__import__("os").environ) if k.startswith("DIARIST_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for name in settings_classes:
        getattr(diarist.settings, name)()  # raises naming any missing DIARIST_* variable
    assert env["DIARIST_RETENTION_DAYS"] == str(resources.RESULT_RETENTION_DAYS_DEFAULT)
    if "ApiSettings" in settings_classes:  # the default image runs Diarist's engine
        assert diarist.settings.ApiSettings().engine_model == env["DIARIST_ENGINE_MODEL"] == "diarist"
        assert (
            diarist.settings.ApiSettings().transcription_model
            == env["DIARIST_TRANSCRIPTION_MODEL"]
            == "faster-whisper-base"
        )
        # the pinned CAM++ weights' id: what the default image's engine writes into voiceprints
        assert (
            diarist.settings.ApiSettings().embedding_model_id
            == env["DIARIST_EMBEDDING_MODEL_ID"]
            == DEFAULT_EMBEDDING_MODEL_ID
        )
    if {"DispatcherSettings", "SweeperSettings"} & set(settings_classes):
        # both launch drain workers on Batch and put work on the work queue
        assert env["DIARIST_LAUNCHER"] == "batch" and env["DIARIST_WORK_QUEUE_URL"]
        assert int(env["DIARIST_FLEET_MAX_WORKERS"]) >= 1
    if "ApiSettings" in settings_classes:  # the API starts and stops no container
        assert "DIARIST_LAUNCHER" not in env


def test_tenant_limit_defaults_reach_the_api_function(synth: Synth, monkeypatch: pytest.MonkeyPatch) -> None:
    """``maxActiveJobsPerTenant``/``requestsPerMinutePerTenant`` (ApiProps) become the API's
    TenantLimitSettings; without them the settings' own defaults apply."""
    import diarist.settings

    _, default = _functions_by_handler(synth, DEFAULT)["functions.api.handler.lambda_handler"]
    assert not {"DIARIST_MAX_ACTIVE_JOBS_PER_TENANT", "DIARIST_REQUESTS_PER_MINUTE_PER_TENANT"} & set(
        default["Environment"]["Variables"]
    )
    _, custom = _functions_by_handler(synth, CUSTOM)["functions.api.handler.lambda_handler"]
    env = _settings_env(custom["Environment"]["Variables"])
    for key in [k for k in list(__import__("os").environ) if k.startswith("DIARIST_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    limits = diarist.settings.ApiSettings().tenant_limits()
    assert (limits.max_active_jobs, limits.requests_per_minute) == (
        CUSTOM_MAX_ACTIVE_JOBS,
        CUSTOM_REQUESTS_PER_MINUTE,
    )


def test_worker_environment_satisfies_worker_settings(synth: Synth, monkeypatch: pytest.MonkeyPatch) -> None:
    import diarist.settings

    _, jd = synth.one(DEFAULT, "AWS::Batch::JobDefinition")
    env = {e["Name"]: e["Value"] for e in jd["Properties"]["ContainerProperties"]["Environment"]}
    for key, value in _settings_env(env).items():
        monkeypatch.setenv(key, value)
    drain = diarist.settings.DrainSettings()  # diarist worker --drain
    assert (
        drain.idle_timeout_s == 120
        and drain.max_lifetime_s < jd["Properties"]["Timeout"]["AttemptDurationSeconds"]
    )
    assert drain.worker_log_prefix == "worker/default"


def test_api_function_gets_allowed_input_buckets_and_public_url(synth: Synth) -> None:
    _, props = _functions_by_handler(synth, CUSTOM)["functions.api.handler.lambda_handler"]
    env = props["Environment"]["Variables"]
    # the operator's rules as written (the media bucket has its own rule, built into the API)
    assert env["DIARIST_ALLOWED_INPUT_BUCKETS"] == ",".join(EXTRA_INPUT_RULES)
    assert env["DIARIST_PUBLIC_BASE_URL"] == "https://diarist.example.com"
    assert env["DIARIST_ENGINE_MODEL"] == "community-1"
    assert env["DIARIST_EMBEDDING_MODEL_ID"] == CUSTOM_EMBEDDING_MODEL_ID
    assert props["ReservedConcurrentExecutions"] == 50


# --------------------------------------------------------------------------- events


def test_event_rules(synth: Synth) -> None:
    rules = synth.resources(DEFAULT, "AWS::Events::Rule")
    patterns = [r for r in rules.values() if "EventPattern" in r["Properties"]]
    by_source = {r["Properties"]["EventPattern"]["source"][0]: r["Properties"] for r in patterns}
    assert set(by_source) == {"aws.s3", "aws.batch", resources.EVENT_SOURCE}
    # the sweeper's schedule (the only rule without a pattern) targets its function with a DLQ
    (schedule,) = [r["Properties"] for r in rules.values() if "EventPattern" not in r["Properties"]]
    assert schedule["ScheduleExpression"] == "rate(1 minute)"
    (target,) = schedule["Targets"]
    assert "DeadLetterConfig" in target
    sweeper_id, _ = _functions_by_handler(synth, DEFAULT)["functions.sweeper.handler.lambda_handler"]
    assert sweeper_id in json.dumps(target["Arn"])

    s3 = by_source["aws.s3"]
    assert s3["EventPattern"]["detail-type"] == ["Object Created"]
    assert s3["EventPattern"]["detail"]["object"] == {"key": [{"prefix": resources.INCOMING_PREFIX}]}
    assert "EventBusName" not in s3  # S3 and Batch publish on the default bus
    (target,) = s3["Targets"]
    assert "DeadLetterConfig" in target and target["RetryPolicy"]["MaximumRetryAttempts"] > 0

    batch = by_source["aws.batch"]
    assert batch["EventPattern"]["detail-type"] == ["Batch Job State Change"]
    assert batch["EventPattern"]["detail"]["status"] == ["FAILED"]
    assert "jobQueue" in batch["EventPattern"]["detail"]
    (target,) = batch["Targets"]
    assert "DeadLetterConfig" in target

    finished = by_source[resources.EVENT_SOURCE]
    assert finished["EventPattern"]["detail-type"] == [{"prefix": "Diarization Job"}]
    bus_id, _ = synth.one(DEFAULT, "AWS::Events::EventBus")
    assert _ref_id(finished["EventBusName"]) == bus_id
    (target,) = finished["Targets"]
    assert "DeadLetterConfig" in target


# --------------------------------------------------------------------------- API


def test_rest_api_throttling_logs_binary_types_and_usage_plan(synth: Synth) -> None:
    _, api = synth.one(DEFAULT, "AWS::ApiGateway::RestApi")
    assert "multipart/form-data" in api["Properties"]["BinaryMediaTypes"]
    assert api["Properties"]["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    _, stage = synth.one(DEFAULT, "AWS::ApiGateway::Stage")
    (settings,) = stage["Properties"]["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == 20 and settings["ThrottlingBurstLimit"] == 40
    assert settings["DataTraceEnabled"] is False and settings["LoggingLevel"] == "ERROR"
    assert "DestinationArn" in stage["Properties"]["AccessLogSetting"]
    assert stage["Properties"]["TracingEnabled"] is True
    _, plan = synth.one(DEFAULT, "AWS::ApiGateway::UsagePlan")
    assert plan["Properties"]["Throttle"] == {"BurstLimit": 40, "RateLimit": 20}
    assert plan["Properties"]["Quota"] == {"Limit": 100_000, "Period": "DAY"}
    for method in synth.resources(DEFAULT, "AWS::ApiGateway::Method").values():
        assert method["Properties"]["Integration"]["Type"] == "AWS_PROXY"
        assert method["Properties"].get("ApiKeyRequired", False) is False
    # API Gateway's own 429 in the API's (pyannoteAI's) error shape, with Retry-After
    _, throttled = synth.one(DEFAULT, "AWS::ApiGateway::GatewayResponse")
    props = throttled["Properties"]
    assert props["ResponseType"] == "THROTTLED" and props["StatusCode"] == "429"
    assert props["ResponseParameters"] == {"gatewayresponse.header.Retry-After": "'1'"}
    body = json.loads(props["ResponseTemplates"]["application/json"])
    assert body["requestId"] == "$context.requestId" and body["message"] == body["errors"][0]["message"]


def test_custom_domain_waf_and_api_keys(synth: Synth) -> None:
    _, domain = synth.one(CUSTOM, "AWS::ApiGateway::DomainName")
    assert domain["Properties"]["DomainName"] == "diarist.example.com"
    assert domain["Properties"]["SecurityPolicy"] == "TLS_1_2"
    assert synth.resources(CUSTOM, "AWS::ApiGateway::BasePathMapping")
    _, record = synth.one(CUSTOM, "AWS::Route53::RecordSet")
    assert record["Properties"]["Type"] == "A"
    _, waf = synth.one(CUSTOM, "AWS::WAFv2::WebACLAssociation")
    assert waf["Properties"]["WebACLArn"] == WEB_ACL_ARN
    console = _console_methods(synth, CUSTOM)
    for name, method in synth.resources(CUSTOM, "AWS::ApiGateway::Method").items():
        assert method["Properties"]["ApiKeyRequired"] is (name not in console), name
    _, plan = synth.one(CUSTOM, "AWS::ApiGateway::UsagePlan")
    assert "Quota" not in plan["Properties"]
    assert outputs.CUSTOM_DOMAIN_URL in synth.templates[CUSTOM]["Outputs"]


def _path_of(template: dict[str, Any], resource_ref: dict[str, Any]) -> str:
    """The full path of an API Gateway resource (``{"Ref": ...}`` or the root ``GetAtt``)."""
    if "Fn::GetAtt" in resource_ref:
        return ""
    resource = template["Resources"][resource_ref["Ref"]]["Properties"]
    return _path_of(template, resource["ParentId"]) + "/" + resource["PathPart"]


def _console_methods(synth: Synth, stack: str) -> dict[str, str]:
    """The console's GET methods: logical id -> path."""
    template = synth.templates[stack]
    found = {}
    for name, method in synth.resources(stack, "AWS::ApiGateway::Method").items():
        path = _path_of(template, method["Properties"]["ResourceId"]) or "/"
        if method["Properties"]["HttpMethod"] == "GET" and (path == "/" or path.startswith("/console")):
            found[name] = path
    return found


@pytest.mark.parametrize("stack", [DEFAULT, CUSTOM])
def test_console_routes_are_public_and_the_buckets_answer_its_origin(synth: Synth, stack: str) -> None:
    console = _console_methods(synth, stack)
    assert sorted(console.values()) == ["/", "/console/vendor/{name}", "/console/{name}"]
    for name in console:
        props = synth.templates[stack]["Resources"][name]["Properties"]
        assert props["AuthorizationType"] == "NONE" and props["ApiKeyRequired"] is False
        assert props["Integration"]["Type"] == "AWS_PROXY"
    # CORS on the media bucket (upload, playback) and the results bucket (large outputs): the
    # API's own origins only, never a wildcard
    rules_by_bucket = {
        name: b["Properties"]["CorsConfiguration"]["CorsRules"]
        for name, b in synth.resources(stack, "AWS::S3::Bucket").items()
        if "CorsConfiguration" in b["Properties"]
    }
    assert len(rules_by_bucket) == 2
    methods = sorted(tuple(sorted(r[0]["AllowedMethods"])) for r in rules_by_bucket.values())
    assert methods == [("GET", "HEAD"), ("GET", "HEAD", "PUT")]
    for (rule,) in rules_by_bucket.values():
        origins = json.dumps(rule["AllowedOrigins"])
        assert "*" not in origins and "execute-api" in origins
        assert ("https://diarist.example.com" in rule["AllowedOrigins"]) is (stack == CUSTOM)


# --------------------------------------------------------------------------- monitoring and outputs


def test_alarms_cover_dlqs_errors_throttles_batch_and_api(synth: Synth) -> None:
    alarms = synth.resources(DEFAULT, "AWS::CloudWatch::Alarm").values()
    metrics = [(a["Properties"].get("Namespace"), a["Properties"].get("MetricName")) for a in alarms]
    assert metrics.count(("AWS/Lambda", "Errors")) == 7
    assert metrics.count(("AWS/Lambda", "Throttles")) == 7
    assert (
        metrics.count(("AWS/SQS", "ApproximateNumberOfMessagesVisible")) == 6
    )  # ingest, webhook, batch events, sweeper, work and short work (drain workers' lanes) DLQs
    from diarist.services.sweeper import RESOLUTIONS

    for name in RESOLUTIONS:  # every kind of job the sweeper resolves
        assert ("Diarist", name) in metrics, name
    assert metrics.count(("AWS/SQS", "ApproximateAgeOfOldestMessage")) == 2  # job queue, job DLQ (consumed)
    assert ("AWS/Events", "TriggeredRules") in metrics  # Batch jobs FAILED
    assert ("AWS/ApiGateway", "5XXError") in metrics
    topic_id, _ = synth.one(DEFAULT, "AWS::SNS::Topic")
    for a in alarms:
        assert [_ref_id(x) for x in a["Properties"]["AlarmActions"]] == [topic_id]
    assert synth.resources(DEFAULT, "AWS::CloudWatch::Dashboard")
    assert not synth.resources(DEFAULT, "AWS::SNS::Subscription")
    _, sub = synth.one(CUSTOM, "AWS::SNS::Subscription")
    assert sub["Properties"] == {**sub["Properties"], "Protocol": "email", "Endpoint": "ops@example.com"}


def test_every_dlq_has_an_alarm_on_its_own_messages(synth: Synth) -> None:
    """A queue that is any queue's dead-letter target alarms when messages reach it (or, if a
    function consumes it, when they stay): the work queue's DLQ included."""
    for stack in (DEFAULT, CUSTOM):
        queues = synth.resources(stack, "AWS::SQS::Queue")
        dlqs = {
            _ref_id(q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
            for q in queues.values()
            if "RedrivePolicy" in q["Properties"]
        }
        assert len(dlqs) == 5  # jobs, work, short work, ingest, webhooks
        watched = {
            _ref_id(d["Value"])
            for a in synth.resources(stack, "AWS::CloudWatch::Alarm").values()
            if a["Properties"].get("Namespace") == "AWS/SQS"
            for d in a["Properties"].get("Dimensions", [])
            if d["Name"] == "QueueName"
        }
        assert dlqs <= watched, dlqs - watched
        lanes = [lid for lid in dlqs if "GpuWorkDlq" in lid or "GpuShortWorkDlq" in lid]
        assert len(lanes) == 2 and set(lanes) <= watched


def test_outputs_use_the_shared_names(synth: Synth) -> None:
    for stack in (DEFAULT, CUSTOM):
        stack_outputs = synth.templates[stack]["Outputs"]
        assert set(outputs.ALWAYS) <= set(stack_outputs)
    assert outputs.CUSTOM_DOMAIN_URL not in synth.templates[DEFAULT]["Outputs"]
