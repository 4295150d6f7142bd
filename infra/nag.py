"""cdk-nag (AwsSolutions pack) suppressions, each on the one resource it concerns, with its reason.

Applied by ``DiaristService`` itself, so an app that embeds the construct and runs cdk-nag sees the
same clean result. Nothing is suppressed stack-wide: a new finding anywhere still fails the
infra tests (tests/infra/test_nag.py).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from aws_cdk import Stack
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import IConstruct

if TYPE_CHECKING:
    from infra.service import DiaristService

RUNTIME_REASON = (
    "Python 3.11 on purpose: the diarist package declares requires-python >=3.11,<3.12 and the GPU "
    "worker runs the same interpreter, so Lambdas and worker share one tested runtime. Moving to a "
    "newer runtime is a deliberate upgrade of both (pyproject.toml, infra/constructs/function.py)."
)
XRAY_REASON = (
    "Resource '*' only for xray:PutTraceSegments and xray:PutTelemetryRecords (active tracing), "
    "which support no resource-level permissions. tests/infra checks that no other action gets '*'."
)
TABLE_INDEX_REASON = (
    "<table>/index/* covers the table's own GSIs (by_tenant: per-tenant job listing); the table has "
    "no other index and the wildcard cannot reach any other table."
)
OBJECT_PREFIX_REASON = (
    "Object keys are per tenant and per job (<prefix><tenant>/...), unknown at deploy time; the "
    "wildcard is confined to one bucket of this stack and one key prefix, with named actions only."
)
SECRETS_REASON = (
    "Per-tenant webhook signing secrets are created after deployment as <prefix><tenant> and "
    "Secrets Manager appends a random suffix to every ARN; read-only access is confined to that prefix."
)
BATCH_JOB_REASON = (
    "batch:TerminateJob (cancel) and batch:TagResource (SubmitJob with the Diarist job id as tags) "
    "take a job ARN, which exists only after SubmitJob; this account's jobs in this region is the "
    "narrowest scope IAM can express. SubmitJob itself is limited to this stack's job queue and "
    "job definition."
)
EXTRA_INPUT_REASON = (
    "Read-only (s3:GetObject) on the buckets the operator listed as allowed s3:// inputs "
    "(allowedInputBuckets); object keys are chosen by API callers."
)


def suppress_service_findings(service: DiaristService) -> None:
    stack = Stack.of(service)
    for fn in (
        service.api_function,
        service.dispatcher,
        service.dispatch_dlq,
        service.ingest,
        service.batch_events,
        service.webhook,
    ):
        _suppress(fn.function, "AwsSolutions-L1", RUNTIME_REASON)
        _suppress(fn.role, "AwsSolutions-IAM5", XRAY_REASON, ["Resource::*"])
    for role in (
        service.api_function.role,
        service.dispatcher.role,
        service.dispatch_dlq.role,
        service.ingest.role,
        service.batch_events.role,
        service.webhook.role,
        service.gpu.job_role,
    ):
        _suppress(
            role, "AwsSolutions-IAM5", TABLE_INDEX_REASON, [_regex(r"^Resource::<.*Table.*\.Arn>/index/\*$")]
        )
    for role in (service.api_function.role, service.ingest.role, service.webhook.role, service.gpu.job_role):
        _suppress(
            role,
            "AwsSolutions-IAM5",
            OBJECT_PREFIX_REASON,
            [_regex(r"^Resource::<.*Storage(Media|Results).*\.Arn>/(incoming|media|results)/\*$")],
        )
    if service.props.allowed_input_buckets:
        for role in (service.api_function.role, service.gpu.job_role):
            _suppress(
                role,
                "AwsSolutions-IAM5",
                EXTRA_INPUT_REASON,
                [
                    _regex(rf"^Resource::arn:{_ARN_PART}:s3:::{re.escape(b)}/\*$")
                    for b in service.props.allowed_input_buckets
                ],
            )
    for role in (service.dispatcher.role, service.api_function.role):
        _suppress(
            role,
            "AwsSolutions-IAM5",
            BATCH_JOB_REASON,
            [_regex(rf"^Resource::arn:{_ARN_PART}:batch:{_ARN_PART}:{_ARN_PART}:job/\*$")],
        )
    _suppress(
        service.webhook.role,
        "AwsSolutions-IAM5",
        SECRETS_REASON,
        [
            _regex(
                rf"^Resource::arn:{_ARN_PART}:secretsmanager:{_ARN_PART}:{_ARN_PART}:secret:"
                + re.escape(service.props.webhook_secret_prefix)
                + r"\*$"
            )
        ],
    )

    # GPU instances: the ECS agent's AWS-managed instance policy is what AWS Batch documents.
    _suppress(
        service.gpu.instance_role,
        "AwsSolutions-IAM4",
        "AmazonEC2ContainerServiceforEC2Role is the instance role AWS Batch documents for ECS "
        "compute environments (ECS agent registration, image pull, logs); the container itself "
        "runs with the separate, least-privilege job role and cannot reach the instance role (IMDSv2, hop limit 1).",
        ["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"],
    )
    execution_role = service.gpu.container.execution_role
    _suppress(
        execution_role,
        "AwsSolutions-IAM5",
        "ecr:GetAuthorizationToken supports no resource-level permissions (the image pull itself "
        "is limited to the asset repository).",
        ["Resource::*"],
    )

    # API Gateway.
    rest_api = service.api.rest_api
    _suppress(
        rest_api,
        "AwsSolutions-APIG2",
        "Proxy integration: requests are validated by the API function (Powertools resolver with "
        "enable_validation, 422 with details). API Gateway validators could only check declared "
        "parameters, which a {proxy+} resource has none of.",
    )
    for method in rest_api.methods:
        _suppress(
            method,
            "AwsSolutions-APIG4",
            "Authentication is Diarist's own per-tenant API keys (Authorization: Bearer, stored hashed in "
            "DynamoDB) checked by the API function before any work; callers are other services, not "
            "interactive users. Optionally API Gateway keys are required as well (requireApiGatewayKey).",
        )
        _suppress(
            method,
            "AwsSolutions-COG4",
            "No Cognito user pool: a self-hosted service for machine clients authenticates with "
            "per-tenant API keys (see AwsSolutions-APIG4).",
        )
    if rest_api.node.try_find_child("CloudWatchRole") is not None:
        _suppress(
            rest_api.node.find_child("CloudWatchRole"),
            "AwsSolutions-IAM4",
            "API Gateway's account-level logging role: AmazonAPIGatewayPushToCloudWatchLogs is the "
            "policy AWS documents for it; access and execution logs need it.",
            [
                "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
            ],
        )
    if not service.props.api.web_acl_arn:
        _suppress(
            rest_api.deployment_stage,
            "AwsSolutions-APIG3",
            "WAF is optional (webAclArn / ApiProps.web_acl_arn): a web ACL costs a fixed monthly fee per "
            "deployment; throttling and the usage plan already cap request rates at the edge.",
        )

    # CDK's own singleton that switches on the media bucket's EventBridge notifications.
    for child in stack.node.children:
        if child.node.id.startswith("BucketNotificationsHandler"):
            handler_role = child.node.try_find_child("Role")
            if handler_role is not None:
                _suppress(
                    handler_role,
                    "AwsSolutions-IAM4",
                    "CDK's internal BucketNotifications custom resource (turns on EventBridge delivery "
                    "for the media bucket at deploy time); AWSLambdaBasicExecutionRole only lets it log.",
                    ["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
                )


# A partition, region or account in a finding: literal (env-specific stack) or <AWS::Region> etc.
_ARN_PART = r"(?:<AWS::[A-Za-z]+>|[^:<>]+)"


def _regex(pattern: str) -> RegexAppliesTo:
    return RegexAppliesTo(regex=f"/{pattern}/")


def _suppress(
    construct: IConstruct | None,
    rule: str,
    reason: str,
    applies_to: list[str | RegexAppliesTo] | None = None,
) -> None:
    if construct is None:
        return
    NagSuppressions.add_resource_suppressions(
        construct,
        [NagPackSuppression(id=rule, reason=reason, applies_to=applies_to)],
        apply_to_children=True,
    )
