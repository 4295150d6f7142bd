"""The one function factory: every Lambda function of the service is a ``DiaristFunction`` made by
``FunctionFactory.create``.

Invariants of every function:

- A role of its own that starts with writing to the function's own log group (no
  AWSLambdaBasicExecutionRole, which allows every log group in the account) and X-Ray; the concern
  that creates the function adds exactly the statements it needs, next to their reasons.
- Python 3.11 on x86_64 (the package's ``requires-python``, the worker's interpreter), JSON logs,
  X-Ray active tracing.
- ``POWERTOOLS_SERVICE_NAME`` is the function's own ``service`` name and
  ``POWERTOOLS_METRICS_NAMESPACE`` is ``Diarist``: set here and nowhere else
  (``observability_environment``, which the worker's job definition uses too).
- The code is the one asset all functions share; each has its own handler path in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.nag import suppress
from infra.packaging import LAMBDA_ARCHITECTURE

RUNTIME = lambda_.Runtime.PYTHON_3_11  # matches requires-python and the worker image
ARCHITECTURE = lambda_.Architecture.X86_64 if LAMBDA_ARCHITECTURE == "x86_64" else lambda_.Architecture.ARM_64
METRICS_NAMESPACE = "Diarist"

RUNTIME_REASON = (
    "Python 3.11 on purpose: the diarist package declares requires-python >=3.11,<3.12 and the GPU "
    "worker runs the same interpreter, so Lambdas and worker share one tested runtime. Moving to a "
    "newer runtime is a deliberate upgrade of both (pyproject.toml, infra/constructs/function.py)."
)
XRAY_REASON = (
    "Resource '*' only for xray:PutTraceSegments and xray:PutTelemetryRecords (active tracing), "
    "which support no resource-level permissions. tests/infra checks that no other action gets '*'."
)


def observability_environment(service: str) -> dict[str, str]:
    """The Powertools variables of a process of the service: its own service name, one namespace."""
    return {"POWERTOOLS_SERVICE_NAME": service, "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE}


class DiaristFunction(Construct):
    """One Lambda function with its log group and its own role (see the module's invariants)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        service: str,
        code: lambda_.Code,
        handler: str,
        description: str,
        environment: Mapping[str, str],
        timeout: Duration,
        memory_size: int = 512,
        log_retention_days: int = 30,
        reserved_concurrency: int | None = None,
        dead_letter_queue: sqs.IQueue | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=log_retention(log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Diarist {id}: its log group plus the grants its concern adds",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=code,
            handler=handler,
            description=description,
            role=self.role,
            timeout=timeout,
            memory_size=memory_size,
            environment={**environment, **observability_environment(service)},
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            tracing=lambda_.Tracing.ACTIVE,
            reserved_concurrent_executions=reserved_concurrency,
            dead_letter_queue=dead_letter_queue,
            retry_attempts=2 if dead_letter_queue is not None else None,
        )
        suppress(self.function, "AwsSolutions-L1", RUNTIME_REASON)
        suppress(self.role, "AwsSolutions-IAM5", XRAY_REASON, ["Resource::*"])


@dataclass(frozen=True)
class FunctionFactory:
    """What every function shares: the code asset and the log retention. Each concern gets the
    factory and creates its own functions with it."""

    code: lambda_.Code
    log_retention_days: int

    def create(
        self,
        scope: Construct,
        id: str,
        *,
        service: str,
        handler: str,
        description: str,
        environment: Mapping[str, str],
        timeout: Duration,
        memory_size: int = 512,
        reserved_concurrency: int | None = None,
        dead_letter_queue: sqs.IQueue | None = None,
    ) -> DiaristFunction:
        """``service``: the function's POWERTOOLS_SERVICE_NAME (diarist-api, diarist-ingest, ...)."""
        return DiaristFunction(
            scope,
            id,
            service=service,
            code=self.code,
            handler=handler,
            description=description,
            environment=environment,
            timeout=timeout,
            memory_size=memory_size,
            log_retention_days=self.log_retention_days,
            reserved_concurrency=reserved_concurrency,
            dead_letter_queue=dead_letter_queue,
        )


_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    731: logs.RetentionDays.TWO_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def log_retention(days: int) -> logs.RetentionDays:
    """The shortest CloudWatch Logs retention that keeps at least ``days`` days."""
    return next((r for d, r in _RETENTION.items() if d >= days), logs.RetentionDays.TEN_YEARS)
