"""The public REST API: API Gateway (throttling, usage plan, access logs) proxying to the API function.

Limits worth knowing, because no setting changes them:
- API Gateway REST payloads are at most 10 MB;
- a synchronous Lambda invocation takes at most 6 MB, and binary bodies reach the function
  base64-encoded (+33 %), so a multipart upload through the API is capped near 4.5 MB of audio.
Anything bigger goes straight to S3: a presigned upload (``POST /uploads``), an ``s3://`` input from
an allowed bucket, or an object dropped under ``incoming/``.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.constructs.function import _retention
from infra.props import ApiProps

BINARY_MEDIA_TYPES = ("multipart/form-data", "audio/*", "video/*", "application/octet-stream")


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        handler: lambda_.IFunction,
        props: ApiProps,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, id)
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", retention=_retention(log_retention_days), removal_policy=RemovalPolicy.DESTROY
        )
        integration = apigw.LambdaIntegration(handler, proxy=True)
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            description="Diarist speaker diarization API",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            binary_media_types=list(BINARY_MEDIA_TYPES),
            # API Gateway needs an account-level role to write logs; CDK creates it (kept on delete,
            # since other APIs in the account may rely on it).
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            default_method_options=apigw.MethodOptions(api_key_required=props.require_api_gateway_key),
            deploy_options=apigw.StageOptions(
                stage_name=props.stage_name,
                throttling_rate_limit=props.rate_limit,
                throttling_burst_limit=props.burst_limit,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # would log request bodies: audio and tenant data
                metrics_enabled=True,
                tracing_enabled=True,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
            ),
        )
        self.rest_api.root.add_method("ANY", integration)
        self.rest_api.root.add_proxy(default_integration=integration, any_method=True)

        self.usage_plan = self.rest_api.add_usage_plan(
            "UsagePlan",
            description="Diarist default plan: stage-wide throttling, daily quota per API Gateway key",
            throttle=apigw.ThrottleSettings(rate_limit=props.rate_limit, burst_limit=props.burst_limit),
            quota=(
                apigw.QuotaSettings(limit=props.quota_per_day, period=apigw.Period.DAY)
                if props.quota_per_day
                else None
            ),
            api_stages=[apigw.UsagePlanPerApiStage(api=self.rest_api, stage=self.rest_api.deployment_stage)],
        )

        self.url = self.rest_api.url
        self.custom_url: str | None = None
        if props.domain_name and props.certificate_arn:
            domain = self.rest_api.add_domain_name(
                "Domain",
                domain_name=props.domain_name,
                certificate=acm.Certificate.from_certificate_arn(self, "Certificate", props.certificate_arn),
                endpoint_type=apigw.EndpointType.REGIONAL,
                security_policy=apigw.SecurityPolicy.TLS_1_2,
            )
            self.custom_url = f"https://{props.domain_name}/"
            if props.hosted_zone_id and props.hosted_zone_name:
                zone = route53.HostedZone.from_hosted_zone_attributes(
                    self, "Zone", hosted_zone_id=props.hosted_zone_id, zone_name=props.hosted_zone_name
                )
                route53.ARecord(
                    self,
                    "Alias",
                    zone=zone,
                    record_name=props.domain_name,
                    target=route53.RecordTarget.from_alias(route53_targets.ApiGatewayDomain(domain)),
                )

        if props.web_acl_arn:
            wafv2.CfnWebACLAssociation(
                self,
                "WebAcl",
                resource_arn=self.rest_api.deployment_stage.stage_arn,
                web_acl_arn=props.web_acl_arn,
            )
