"""Storage: the single DynamoDB table and the two S3 buckets (plus the bucket for their access
logs), the variables that name them, and the grants on them.

Invariants:

- Jobs, API keys and idempotency records share one on-demand table (single-table design); media
  and results live in private, encrypted buckets that forget everything after ``retention_days``.
- Whoever needs the table or a bucket gets it through ``grant_*`` here: table access is per item
  family (``infra.table_access``: named operations on the items whose partition key starts with
  the family's prefix, ``dynamodb:LeadingKeys``; queries on the ``by_tenant`` index only in the
  partitions named), object access one key prefix of one bucket with named actions, and each
  grant carries the cdk-nag suppression of its wildcard with the reason.
- ``environment`` is diarist.settings.StoreSettings: every function and the worker load it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from diarist import resources
from diarist.domain.input_buckets import parse_rules
from infra.nag import arn_finding, finding, suppress
from infra.table_access import TableAccess

OBJECT_PREFIX_REASON = (
    "Object keys are per tenant and per job (<prefix><tenant>/...), unknown at deploy time; the "
    "wildcard is confined to one bucket of this stack and one key prefix, with named actions only."
)
EXTRA_INPUT_REASON = (
    "Read-only (s3:GetObject) on the prefixes of the operator's input-bucket rules "
    "(allowedInputBuckets); object keys are chosen by API callers, and which tenant may read which "
    "key under the prefix is checked by the API at submission (diarist.domain.input_buckets)."
)
NOTIFICATIONS_HANDLER_REASON = (
    "CDK's internal BucketNotifications custom resource (turns on EventBridge delivery "
    "for the media bucket at deploy time); AWSLambdaBasicExecutionRole only lets it log."
)


class Storage(Construct):
    def __init__(
        self, scope: Construct, id: str, *, retention_days: int, removal_policy: RemovalPolicy
    ) -> None:
        super().__init__(scope, id)
        self.retention_days = retention_days
        retain = removal_policy == RemovalPolicy.RETAIN

        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=resources.TABLE_PK, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=resources.TABLE_TTL_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            deletion_protection=retain,
            removal_policy=removal_policy,
        )
        self.table.add_global_secondary_index(
            index_name=resources.TABLE_GSI_TENANT,
            partition_key=dynamodb.Attribute(name=resources.TABLE_GSI_PK, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=resources.TABLE_GSI_SK, type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        # Sparse: only jobs that are not terminal (STATUS#<status>) or owe their completion event
        # (OUTBOX) carry its keys, so the sweeper finds stuck jobs without a scan.
        self.table.add_global_secondary_index(
            index_name=resources.TABLE_GSI_STATE,
            partition_key=dynamodb.Attribute(
                name=resources.TABLE_GSI2_PK, type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(name=resources.TABLE_GSI2_SK, type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )

        # Server access logs of the two data buckets (and the VPC's rejected-traffic flow logs).
        # S3 log delivery does not support SSE-KMS targets, hence S3-managed keys everywhere.
        self.logs_bucket = s3.Bucket(
            self,
            "AccessLogs",
            **_private_bucket(removal_policy),
            lifecycle_rules=[s3.LifecycleRule(id="expire-logs", expiration=Duration.days(90))],
        )

        expire = Duration.days(retention_days)
        self.media_bucket = s3.Bucket(
            self,
            "Media",
            **_private_bucket(removal_policy),
            event_bridge_enabled=True,  # Object Created under incoming/ starts a job
            server_access_logs_bucket=self.logs_bucket,
            server_access_logs_prefix="media/",
            lifecycle_rules=[
                s3.LifecycleRule(id="expire-incoming", prefix=resources.INCOMING_PREFIX, expiration=expire),
                s3.LifecycleRule(id="expire-media", prefix=resources.MEDIA_PREFIX, expiration=expire),
                s3.LifecycleRule(
                    id="abort-multipart", abort_incomplete_multipart_upload_after=Duration.days(1)
                ),
            ],
        )
        self.results_bucket = s3.Bucket(
            self,
            "Results",
            **_private_bucket(removal_policy),
            server_access_logs_bucket=self.logs_bucket,
            server_access_logs_prefix="results/",
            lifecycle_rules=[
                s3.LifecycleRule(id="expire-results", prefix=resources.RESULTS_PREFIX, expiration=expire),
                s3.LifecycleRule(
                    id="abort-multipart", abort_incomplete_multipart_upload_after=Duration.days(1)
                ),
            ],
        )
        self._suppress_notifications_handler()

    def allow_browser_origins(self, origins: Sequence[str]) -> None:
        """CORS for the web console on ``origins`` (the API's own): it uploads to the media bucket
        (presigned PUT), plays from it and reads large outputs from the results bucket (presigned
        GET). Presigned URLs still carry the authorization; CORS only lets the page read the answer."""
        media_methods = [s3.HttpMethods.GET, s3.HttpMethods.HEAD, s3.HttpMethods.PUT]
        for bucket, methods in (
            (self.media_bucket, media_methods),
            (self.results_bucket, [s3.HttpMethods.GET, s3.HttpMethods.HEAD]),
        ):
            bucket.add_cors_rule(
                allowed_methods=methods,
                allowed_origins=list(origins),
                allowed_headers=list(resources.CONSOLE_CORS_ALLOWED_HEADERS),
                exposed_headers=list(resources.CONSOLE_CORS_EXPOSED_HEADERS),
                max_age=resources.CONSOLE_CORS_MAX_AGE_S,
            )

    @property
    def environment(self) -> dict[str, str]:
        """diarist.settings.StoreSettings."""
        return {
            "DIARIST_TABLE_NAME": self.table.table_name,
            "DIARIST_MEDIA_BUCKET": self.media_bucket.bucket_name,
            "DIARIST_RESULTS_BUCKET": self.results_bucket.bucket_name,
            "DIARIST_RETENTION_DAYS": str(self.retention_days),
        }

    def grant_table(self, role: iam.IRole, access: TableAccess) -> None:
        """Exactly ``access`` on the table: per item family, its operations on the items whose
        partition key starts with the family's prefix; ``Query`` on the ``by_tenant`` index in the
        partitions ``access.index_queries`` names (``dynamodb:LeadingKeys`` is the index's
        partition key there; the same on the ``by_state`` index for ``access.state_queries``). The key
        must be in the request (``Null``): no Scan slips through."""
        for prefix, operations in sorted(access.items.items()):
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=[f"dynamodb:{op}" for op in sorted(operations)],
                    resources=[self.table.table_arn],
                    conditions=_leading_keys(prefix),
                )
            )
        for index in (resources.TABLE_GSI_TENANT, resources.TABLE_GSI_STATE):
            if access.queries_of(index):
                role.add_to_principal_policy(
                    iam.PolicyStatement(
                        actions=["dynamodb:Query"],
                        resources=[f"{self.table.table_arn}/index/{index}"],
                        conditions=_leading_keys(*sorted(access.queries_of(index))),
                    )
                )

    def grant_objects(
        self, role: iam.IRole, bucket: s3.IBucket, actions: Sequence[str], *prefixes: str
    ) -> None:
        """``actions`` on the objects under ``prefixes`` of the media or the results bucket."""
        self._check_data_bucket(bucket)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(actions), resources=[bucket.arn_for_objects(f"{p}*") for p in prefixes]
            )
        )
        suppress(
            role,
            "AwsSolutions-IAM5",
            OBJECT_PREFIX_REASON,
            [finding(r"^Resource::<.*Storage(Media|Results).*\.Arn>/(incoming|media|results)/\*$")],
        )

    def grant_list(self, role: iam.IRole, bucket: s3.IBucket, *prefixes: str) -> None:
        """s3:ListBucket on the media or the results bucket, for keys under ``prefixes`` only."""
        self._check_data_bucket(bucket)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{p}*" for p in prefixes]}},
            )
        )

    def _check_data_bucket(self, bucket: s3.IBucket) -> None:
        if bucket not in (self.media_bucket, self.results_bucket):
            raise ValueError("grants of this construct are on its media and results buckets only")

    def _suppress_notifications_handler(self) -> None:
        """The media bucket's EventBridge notifications are switched on by CDK's stack-wide
        singleton custom resource (created with the bucket, at the stack's root)."""
        for child in Stack.of(self).node.children:
            if child.node.id.startswith("BucketNotificationsHandler"):
                handler_role = child.node.try_find_child("Role")
                if handler_role is not None:
                    suppress(
                        handler_role,
                        "AwsSolutions-IAM4",
                        NOTIFICATIONS_HANDLER_REASON,
                        [
                            "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
                        ],
                    )


def grant_extra_inputs(role: iam.IRole, rules: Sequence[str]) -> None:
    """s3:GetObject under each input-bucket rule's fixed prefix (``<bucket>/<prefix>*``; a
    ``{tenant}`` folder is covered by the prefix before it). No rule: no statement."""
    scopes = sorted({(r.bucket, r.grant_prefix) for r in parse_rules(rules)})
    if not scopes:
        return
    partition = Stack.of(role).partition
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["s3:GetObject"],
            resources=[f"arn:{partition}:s3:::{bucket}/{prefix}*" for bucket, prefix in scopes],
        )
    )
    suppress(
        role,
        "AwsSolutions-IAM5",
        EXTRA_INPUT_REASON,
        [
            arn_finding("s3", rf"{re.escape(f'{bucket}/{prefix}')}\*", regional=False)
            for bucket, prefix in scopes
        ],
    )


def _leading_keys(*prefixes: str) -> dict[str, Any]:
    """Items (or index partitions) whose partition key starts with one of ``prefixes``; the key
    must be present, since ``ForAllValues`` alone also matches a request without it."""
    return {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{p}*" for p in prefixes]},
        "Null": {"dynamodb:LeadingKeys": "false"},
    }


def _private_bucket(removal_policy: RemovalPolicy) -> dict[str, Any]:
    return {
        "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
        "encryption": s3.BucketEncryption.S3_MANAGED,
        "enforce_ssl": True,
        "minimum_tls_version": 1.2,
        "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        "versioned": False,  # retention means deletion: no old versions kept behind the user's back
        "removal_policy": removal_policy,
        "auto_delete_objects": removal_policy == RemovalPolicy.DESTROY,
    }
