"""Least privilege, checked on every IAM statement of both templates.

Unavoidable ``Resource: "*"`` (actions with no resource-level permissions):
- ``xray:PutTraceSegments``, ``xray:PutTelemetryRecords``: active tracing on the functions;
- ``ecr:GetAuthorizationToken``: the Batch execution role pulling the worker image.
Everything else names this stack's resources (wildcards only inside an ARN: object key prefixes,
the table's indexes, webhook secrets under their prefix, Batch job ids).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from diarist import resources
from tests.infra.conftest import EXTRA_INPUT_BUCKET, Synth

STAR_RESOURCE_ALLOWED = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "ecr:GetAuthorizationToken"}
MANAGED_POLICIES_ALLOWED = {
    "AmazonEC2ContainerServiceforEC2Role",  # Batch instance role (ECS agent)
    "AmazonAPIGatewayPushToCloudWatchLogs",  # API Gateway account logging role
    "AWSLambdaBasicExecutionRole",  # CDK's BucketNotifications custom resource
}


def _listify(x: Any) -> list[Any]:
    return x if isinstance(x, list) else [x]


def _statements(synth: Synth) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for stack, template in synth.templates.items():
        for lid, res in template["Resources"].items():
            if res["Type"] == "AWS::IAM::Policy":
                for s in res["Properties"]["PolicyDocument"]["Statement"]:
                    yield stack, lid, s
            if res["Type"] == "AWS::IAM::Role":
                for policy in res["Properties"].get("Policies", []):
                    for s in policy["PolicyDocument"]["Statement"]:
                        yield stack, lid, s


def _policy_of(synth: Synth, stack: str, role_fragment: str) -> list[dict[str, Any]]:
    out = []
    for lid, res in synth.resources(stack, "AWS::IAM::Policy").items():
        if role_fragment in lid:
            out += res["Properties"]["PolicyDocument"]["Statement"]
    assert out, f"no policy for {role_fragment}"
    return out


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    return {a for s in statements for a in _listify(s["Action"])}


def test_no_wildcard_actions(synth: Synth) -> None:
    for stack, lid, s in _statements(synth):
        for action in _listify(s["Action"]):
            assert action != "*" and not action.endswith(":*"), f"{stack}/{lid}: {action}"


def test_star_resources_only_for_actions_without_resource_level_permissions(synth: Synth) -> None:
    for stack, lid, s in _statements(synth):
        if s["Effect"] == "Allow" and "*" in _listify(s.get("Resource", [])):
            extra = set(_listify(s["Action"])) - STAR_RESOURCE_ALLOWED
            assert not extra, f"{stack}/{lid}: {sorted(extra)} on Resource '*'"


def test_only_documented_aws_managed_policies(synth: Synth) -> None:
    for template in synth.templates.values():
        for res in template["Resources"].values():
            if res["Type"] == "AWS::IAM::Role":
                for arn in res["Properties"].get("ManagedPolicyArns", []):
                    name = str(arn).rsplit("/", 1)[-1].strip("\"']}")
                    assert any(name.endswith(p) for p in MANAGED_POLICIES_ALLOWED), arn


def test_dispatcher_submits_only_to_its_queue_and_definition(synth: Synth) -> None:
    statements = _policy_of(synth, "Diarist", "DispatcherFunctionRole")
    (submit,) = [s for s in statements if "batch:SubmitJob" in _listify(s["Action"])]
    assert submit["Action"] == "batch:SubmitJob"
    refs = [next(iter(r.values())) for r in submit["Resource"]]
    assert any("JobQueue" in str(r) for r in refs) and any("JobDefinition" in str(r) for r in refs)
    assert "s3:GetObject" not in _actions(statements)  # the dispatcher never touches media


def test_webhook_reads_only_secrets_under_the_prefix(synth: Synth) -> None:
    statements = _policy_of(synth, "Diarist", "WebhookFunctionRole")
    (secrets,) = [
        s for s in statements if any(a.startswith("secretsmanager:") for a in _listify(s["Action"]))
    ]
    assert secrets["Action"] == "secretsmanager:GetSecretValue"
    assert f":secret:{resources.WEBHOOK_SECRET_PREFIX}*" in str(secrets["Resource"])
    for stack in synth.templates:
        for role in ("ApiFunctionRole", "DispatcherFunctionRole", "IngestFunctionRole", "GpuJobRole"):
            assert not any(a.startswith("secretsmanager:") for a in _actions(_policy_of(synth, stack, role)))


def test_s3_access_is_prefix_scoped_and_extra_buckets_read_only(synth: Synth) -> None:
    object_scopes = (
        *(f"/{p}*" for p in (resources.INCOMING_PREFIX, resources.MEDIA_PREFIX, resources.RESULTS_PREFIX)),
        f":::{EXTRA_INPUT_BUCKET}/*",
    )
    for stack, lid, s in _statements(synth):
        actions = [a for a in _listify(s["Action"]) if a.startswith("s3:")]
        if not actions or "Custom::" in lid or "NotificationsHandler" in lid:
            continue
        if actions == ["s3:ListBucket"]:
            assert "s3:prefix" in str(s["Condition"]), (stack, lid)
            continue
        for resource in _listify(s["Resource"]):
            assert any(scope in str(resource).replace('", "', "") for scope in object_scopes), (
                stack,
                lid,
                resource,
            )
    worker = _policy_of(synth, "DiaristCustom", "GpuJobRole")
    extra = [s for s in worker if EXTRA_INPUT_BUCKET in str(s["Resource"])]
    assert [s["Action"] for s in extra] == ["s3:GetObject"]
    ingest = _policy_of(synth, "Diarist", "IngestFunctionRole")
    assert not {"s3:PutObject", "s3:DeleteObject"} & _actions(ingest)


def test_each_function_writes_only_its_own_log_group(synth: Synth) -> None:
    for lid, res in synth.resources("Diarist", "AWS::IAM::Policy").items():
        for s in res["Properties"]["PolicyDocument"]["Statement"]:
            if "logs:PutLogEvents" in _listify(s["Action"]):
                (resource,) = _listify(s["Resource"])
                assert "Fn::GetAtt" in resource and resource["Fn::GetAtt"][1] == "Arn", lid


def test_the_api_writes_results_only_under_results(synth: Synth) -> None:
    """The API stores a large output's rendering and a voiceprint comparison's scores in the results
    bucket itself: PutObject there, scoped to results/ (the object-scope test above)."""
    api = _policy_of(synth, "Diarist", "ApiFunctionRole")
    puts = [s for s in api if "s3:PutObject" in _listify(s["Action"])]
    assert any(f"/{resources.RESULTS_PREFIX}*" in str(s["Resource"]).replace('", "', "") for s in puts), puts
