"""The public API: API Gateway (throttling, usage plan, access logs) proxying to the API function.

Invariants:

- Every request goes to the one API function (``{proxy+}`` and the root, any method); the function
  authenticates (per-tenant API keys) and validates. The web console's ``GET /`` and
  ``GET /console/...`` are public methods (no API Gateway key either): the page asks for the key. API Gateway only throttles, counts quotas
  (with ``require_api_gateway_key``), logs and, optionally, applies a WAF web ACL.
- The API function may: use the table; publish job events (cancel); enqueue jobs and webhook
  deliveries; presign uploads to and read/delete ``media/`` and ``incoming/``; read/delete
  ``results/``; read under the operator's input-bucket rules. No Batch permission: cancel ends the
  job, and the drain worker running it stops at its next (refused) write.

Limits worth knowing, because no setting changes them:
- API Gateway REST payloads are at most 10 MB;
- a synchronous Lambda invocation takes at most 6 MB, and binary bodies reach the function
  base64-encoded (+33 %), so a multipart upload through the API is capped near 4.5 MB of audio.
Anything bigger goes straight to S3: a presigned upload (``POST /uploads``), an ``s3://`` input from
an input-bucket rule, or an object dropped under ``incoming/``.
"""

from __future__ import annotations

import json

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_events as events
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from diarist import resources
from infra import table_access
from infra.constructs.dispatch import JobDispatch
from infra.constructs.eventbridge import bus_environment
from infra.constructs.function import FunctionFactory, log_retention
from infra.constructs.storage import Storage, grant_extra_inputs
from infra.constructs.webhooks import WebhookDelivery
from infra.nag import suppress
from infra.props import ApiProps

API_HANDLER = "functions.api.handler.lambda_handler"
API_TIMEOUT = Duration.seconds(29)  # API Gateway's integration timeout
BINARY_MEDIA_TYPES = ("multipart/form-data", "audio/*", "video/*", "application/octet-stream")

THROTTLED_MESSAGE = "too many requests; retry later"
THROTTLED_BODY = json.dumps(
    {
        "message": THROTTLED_MESSAGE,
        "requestId": "$context.requestId",
        "errors": [{"field": "", "message": THROTTLED_MESSAGE}],
    }
)

VALIDATION_REASON = (
    "Proxy integration: requests are validated by the API function (Powertools resolver with "
    "enable_validation, 422 with details). API Gateway validators could only check declared "
    "parameters, which a {proxy+} resource has none of."
)
AUTH_REASON = (
    "Authentication is Diarist's own per-tenant API keys (Authorization: Bearer, stored hashed in "
    "DynamoDB) checked by the API function before any work; callers are other services, not "
    "interactive users. Optionally API Gateway keys are required as well (requireApiGatewayKey)."
)
COGNITO_REASON = (
    "No Cognito user pool: a self-hosted service for machine clients authenticates with "
    "per-tenant API keys (see AwsSolutions-APIG4)."
)
LOGGING_ROLE_REASON = (
    "API Gateway's account-level logging role: AmazonAPIGatewayPushToCloudWatchLogs is the "
    "policy AWS documents for it; access and execution logs need it."
)
WAF_REASON = (
    "WAF is optional (webAclArn / ApiProps.web_acl_arn): a web ACL costs a fixed monthly fee per "
    "deployment; throttling and the usage plan already cap request rates at the edge."
)


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        props: ApiProps,
        functions: FunctionFactory,
        storage: Storage,
        bus: events.IEventBus,
        dispatch: JobDispatch,
        webhooks: WebhookDelivery,
        extra_input_buckets: tuple[str, ...],
        log_retention_days: int,
        engine_model: str,
        embedding_model_id: str,
        transcription_model: str,
    ) -> None:
        super().__init__(scope, id)
        public_url = f"https://{props.domain_name}" if props.domain_name else None
        self.function = functions.create(
            self,
            "ApiFunction",
            service="diarist-api",
            handler=API_HANDLER,
            description="Diarist REST API (API Gateway proxy)",
            environment={
                **storage.environment,
                **dispatch.environment,
                **bus_environment(bus),
                # the operator's input-bucket rules (the media bucket has its own, built in)
                "DIARIST_ALLOWED_INPUT_BUCKETS": ",".join(extra_input_buckets),
                "DIARIST_ENGINE_MODEL": engine_model,  # what the worker image runs (model warnings)
                # the worker's embedding model: voiceprints of another are refused at submission
                "DIARIST_EMBEDDING_MODEL_ID": embedding_model_id,
                # the worker's faster-whisper model (transcription model warnings)
                "DIARIST_TRANSCRIPTION_MODEL": transcription_model,
                **({"DIARIST_PUBLIC_BASE_URL": public_url} if public_url else {}),
                **webhooks.environment,  # POST /v1/jobs/{id}/webhook re-queues a delivery
                **props.tenant_limit_environment,  # per-tenant limit defaults (context options)
            },
            timeout=API_TIMEOUT,
            memory_size=1024,
            reserved_concurrency=props.reserved_concurrency,
        )
        role = self.function.role
        storage.grant_table(role, table_access.API)
        bus.grant_put_events_to(role)  # a canceled job's event
        dispatch.grant_enqueue(role)
        webhooks.grant_enqueue(role)
        # Presigned uploads to media/ and incoming/, results read (inline or presigned), deletes
        # when a job is deleted; HEAD on s3:// inputs to check their size (and a ranged GET of a
        # voiceprint's media:// header). Results written by the API itself: the stored rendering of
        # a large output, and Phonexia's voiceprint comparison (computed at submission).
        storage.grant_objects(
            role,
            storage.media_bucket,
            ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            resources.MEDIA_PREFIX,
            resources.INCOMING_PREFIX,
        )
        storage.grant_objects(
            role,
            storage.results_bucket,
            ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            resources.RESULTS_PREFIX,
        )
        storage.grant_list(role, storage.media_bucket, resources.MEDIA_PREFIX, resources.INCOMING_PREFIX)
        storage.grant_list(role, storage.results_bucket, resources.RESULTS_PREFIX)
        grant_extra_inputs(role, extra_input_buckets)

        self.access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=log_retention(log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        integration = apigw.LambdaIntegration(self.function.function, proxy=True)
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
        # API Gateway's own 429 (the stage's throttling, before any Lambda runs) in the API's error
        # shape (pyannoteAI's 429: message + requestId), with Retry-After. X-RateLimit-Reset needs
        # arithmetic a gateway response cannot do: the API function's own 429s carry it.
        self.rest_api.add_gateway_response(
            "Throttled",
            type=apigw.ResponseType.THROTTLED,
            status_code="429",
            response_headers={"Retry-After": "'1'"},
            templates={"application/json": THROTTLED_BODY},
        )
        self.rest_api.root.add_proxy(default_integration=integration, any_method=True)
        self._add_console(integration, storage, props)

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
        self._suppress_findings(props)

    def _add_console(self, integration: apigw.Integration, storage: Storage, props: ApiProps) -> None:
        """The web console (``GET /`` and its files, ``functions/api/routes_console.py``): public
        methods without an API Gateway key even when the API requires one (a browser loading a page
        or a script cannot send one; the page then sends the tenant's key on its API calls). The
        browser uploads to and plays from the buckets by presigned URL, so they answer CORS for the
        API's own origins only (``Storage.allow_browser_origins``)."""
        self.rest_api.root.add_method("GET", integration, api_key_required=False)
        files = self.rest_api.root.add_resource("console")
        files.add_resource("{name}").add_method("GET", integration, api_key_required=False)
        vendor = files.add_resource("vendor").add_resource("{name}")
        vendor.add_method("GET", integration, api_key_required=False)
        stack = Stack.of(self)
        origins = [f"https://{self.rest_api.rest_api_id}.execute-api.{stack.region}.{stack.url_suffix}"]
        if props.domain_name:
            origins.append(f"https://{props.domain_name}")
        storage.allow_browser_origins(origins)

    def _suppress_findings(self, props: ApiProps) -> None:
        suppress(self.rest_api, "AwsSolutions-APIG2", VALIDATION_REASON)
        for method in self.rest_api.methods:
            suppress(method, "AwsSolutions-APIG4", AUTH_REASON)
            suppress(method, "AwsSolutions-COG4", COGNITO_REASON)
        logging_role = self.rest_api.node.try_find_child("CloudWatchRole")
        if logging_role is not None:
            suppress(
                logging_role,
                "AwsSolutions-IAM4",
                LOGGING_ROLE_REASON,
                [
                    "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
                ],
            )
        if not props.web_acl_arn:
            suppress(self.rest_api.deployment_stage, "AwsSolutions-APIG3", WAF_REASON)
