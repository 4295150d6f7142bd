"""The single DynamoDB table and the two S3 buckets (plus the bucket for their access logs)."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from diarist import resources as R


class Storage(Construct):
    """Jobs, API keys and idempotency records share one on-demand table (single-table design);
    media and results live in private, encrypted buckets that forget everything after
    ``retention_days``."""

    def __init__(
        self, scope: Construct, id: str, *, retention_days: int, removal_policy: RemovalPolicy
    ) -> None:
        super().__init__(scope, id)
        retain = removal_policy == RemovalPolicy.RETAIN

        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=R.TABLE_PK, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=R.TABLE_TTL_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            deletion_protection=retain,
            removal_policy=removal_policy,
        )
        self.table.add_global_secondary_index(
            index_name=R.TABLE_GSI_TENANT,
            partition_key=dynamodb.Attribute(name=R.TABLE_GSI_PK, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=R.TABLE_GSI_SK, type=dynamodb.AttributeType.STRING),
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
                s3.LifecycleRule(id="expire-incoming", prefix=R.INCOMING_PREFIX, expiration=expire),
                s3.LifecycleRule(id="expire-media", prefix=R.MEDIA_PREFIX, expiration=expire),
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
                s3.LifecycleRule(id="expire-results", prefix=R.RESULTS_PREFIX, expiration=expire),
                s3.LifecycleRule(
                    id="abort-multipart", abort_incomplete_multipart_upload_after=Duration.days(1)
                ),
            ],
        )


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
