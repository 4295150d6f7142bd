"""``DiaristFunction``: one Lambda function with a role of its own and nothing else in it.

The role starts empty except for writing to the function's own log group (no
AWSLambdaBasicExecutionRole, which allows every log group in the account) and X-Ray; each
concern then adds exactly the statements it needs. X-Ray active tracing is on for every function.
``POWERTOOLS_SERVICE_NAME`` is the function's own ``service`` name and
``POWERTOOLS_METRICS_NAMESPACE`` is ``Diarist``: set here and nowhere else
(``observability_environment``, which the worker's job definition uses too).
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.packaging import LAMBDA_ARCHITECTURE

RUNTIME = lambda_.Runtime.PYTHON_3_11  # matches requires-python and the worker image
ARCHITECTURE = lambda_.Architecture.X86_64 if LAMBDA_ARCHITECTURE == "x86_64" else lambda_.Architecture.ARM_64
METRICS_NAMESPACE = "Diarist"


def observability_environment(service: str) -> dict[str, str]:
    """The Powertools variables of a process of the service: its own service name, one namespace."""
    return {"POWERTOOLS_SERVICE_NAME": service, "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE}


class DiaristFunction(Construct):
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
        dead_letter_queue: object | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=_retention(log_retention_days),
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
            dead_letter_queue=dead_letter_queue,  # type: ignore[arg-type]
            retry_attempts=2 if dead_letter_queue is not None else None,
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


def _retention(days: int) -> logs.RetentionDays:
    """The shortest CloudWatch Logs retention that keeps at least ``days`` days."""
    return next((r for d, r in _RETENTION.items() if d >= days), logs.RetentionDays.TEN_YEARS)
