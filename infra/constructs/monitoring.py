"""Alarms, a dashboard and the SNS topic alarms publish to (optionally with an e-mail subscription).

Alarms: every DLQ not empty, each function's errors and throttles, Batch job failures (the
count of FAILED state-change events our rule matched), API 5xx, a job queue whose oldest
message waits too long (the dispatcher is stuck), and each kind of job the sweeper had to resolve
(its metrics: an event published late, a lost dispatch message, no GPU capacity, a lost worker).
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.function import METRICS_NAMESPACE
from infra.constructs.sweeper import SWEEPER_SERVICE

FIVE_MINUTES = Duration.minutes(5)
API_5XX_THRESHOLD = 5  # per 5 minutes
BATCH_FAILURES_THRESHOLD = 3  # per hour; a single bad file fails one job, a broken image fails all
JOB_QUEUE_MAX_AGE = Duration.minutes(15)
DLQ_CONSUMER_MAX_AGE = Duration.minutes(15)
# metric (services.sweeper) -> what it means for the operator; any one in an hour alarms
SWEEP_ALARMS = {
    "SweepEventRepublished": "Completion events had to be published by the sweeper: EventBridge refused them.",
    "SweepJobRequeued": "Pending jobs were requeued by the sweeper: dispatch messages were lost.",
    "SweepLaunchFailed": "Jobs never launched after the sweeper's requeues: see the dispatcher.",
    "SweepNoCapacity": "Jobs failed no_capacity: no GPU capacity came (quotas, spot, max vCPUs).",
    "SweepWorkerLost": "Running jobs lost their worker (hung, or gone too often): see the worker logs.",
    "SweepJobResumed": "Jobs were resumed on another worker after theirs vanished (spot reclaim, crash).",
    "SweepWorkerStartFailed": "Waiting jobs failed: worker containers could not start (image, pull, exit at once).",
}


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        functions: Mapping[str, lambda_.IFunction],
        dlqs: Mapping[str, sqs.IQueue],
        consumed_dlqs: Mapping[str, tuple[sqs.IQueue, lambda_.IFunction]],
        job_queue: sqs.IQueue,
        rest_api: apigw.RestApi,
        batch_failed_rule: events.Rule,
        alarm_email: str | None,
    ) -> None:
        super().__init__(scope, id)
        self.topic = sns.Topic(self, "AlarmTopic", display_name="Diarist alarms", enforce_ssl=True)
        if alarm_email:
            self.topic.add_subscription(subs.EmailSubscription(alarm_email))
        action = cw_actions.SnsAction(self.topic)
        self.alarms: dict[str, cw.Alarm] = {}

        def alarm(name: str, metric: cw.IMetric, threshold: float, description: str) -> cw.Alarm:
            a = cw.Alarm(
                self,
                name,
                metric=metric,
                threshold=threshold,
                evaluation_periods=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
                alarm_description=description,
            )
            a.add_alarm_action(action)
            self.alarms[name] = a
            return a

        for name, dlq in dlqs.items():
            alarm(
                f"{name}NotEmpty",
                dlq.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES, statistic="Maximum"),
                1,
                f"Messages in the {name}: inspect them, fix the cause, then redrive.",
            )
        # A DLQ with a consumer is normally empty; messages that stay mean the consumer fails too.
        # Each message it takes is a job that could not be launched: worth a look as well.
        for name, (dlq, consumer) in consumed_dlqs.items():
            alarm(
                f"{name}Stuck",
                dlq.metric_approximate_age_of_oldest_message(period=FIVE_MINUTES, statistic="Maximum"),
                DLQ_CONSUMER_MAX_AGE.to_seconds(),
                f"Messages stay in the {name} although a function consumes it: see that function's errors.",
            )
            alarm(
                f"{name}Received",
                consumer.metric_invocations(period=FIVE_MINUTES, statistic="Sum"),
                1,
                f"Messages reached the {name}: jobs could not be launched (they end failed).",
            )
        for name, fn in functions.items():
            alarm(
                f"{name}Errors",
                fn.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                1,
                f"The {name} function raised errors.",
            )
            alarm(
                f"{name}Throttles",
                fn.metric_throttles(period=FIVE_MINUTES, statistic="Sum"),
                1,
                f"The {name} function was throttled (concurrency limit).",
            )
        batch_failures = cw.Metric(
            namespace="AWS/Events",
            metric_name="TriggeredRules",
            dimensions_map={"RuleName": batch_failed_rule.rule_name},
            period=Duration.hours(1),
            statistic="Sum",
        )
        alarm(
            "BatchJobFailures",
            batch_failures,
            BATCH_FAILURES_THRESHOLD,
            "GPU jobs are failing in AWS Batch (see the worker log group).",
        )
        sweeps = {
            name: cw.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=name,
                dimensions_map={"service": SWEEPER_SERVICE},
                period=Duration.hours(1),
                statistic="Sum",
            )
            for name in SWEEP_ALARMS
        }
        for name, description in SWEEP_ALARMS.items():
            alarm(name, sweeps[name], 1, description)
        api_5xx = rest_api.metric_server_error(period=FIVE_MINUTES, statistic="Sum")
        alarm("Api5xx", api_5xx, API_5XX_THRESHOLD, "The API returns 5xx errors.")
        queue_age = job_queue.metric_approximate_age_of_oldest_message(
            period=FIVE_MINUTES, statistic="Maximum"
        )
        alarm(
            "JobQueueAge",
            queue_age,
            JOB_QUEUE_MAX_AGE.to_seconds(),
            "Jobs wait on the job queue: the dispatcher is not launching them.",
        )

        self.dashboard = cw.Dashboard(self, "Dashboard", default_interval=Duration.hours(6))
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="API requests and errors",
                left=[
                    rest_api.metric_count(period=FIVE_MINUTES),
                    rest_api.metric_client_error(period=FIVE_MINUTES),
                    api_5xx,
                ],
                right=[rest_api.metric_latency(period=FIVE_MINUTES, statistic="p90")],
                width=12,
            ),
            cw.GraphWidget(
                title="Job queue",
                left=[job_queue.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES)],
                right=[queue_age],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Lambda invocations",
                left=[fn.metric_invocations(period=FIVE_MINUTES, label=n) for n, fn in functions.items()],
                width=8,
            ),
            cw.GraphWidget(
                title="Lambda errors",
                left=[fn.metric_errors(period=FIVE_MINUTES, label=n) for n, fn in functions.items()],
                width=8,
            ),
            cw.GraphWidget(
                title="Lambda p90 duration",
                left=[
                    fn.metric_duration(period=FIVE_MINUTES, statistic="p90", label=n)
                    for n, fn in functions.items()
                ],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Dead-letter queues",
                left=[
                    q.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES, label=n)
                    for n, q in {**dlqs, **{n: q for n, (q, _) in consumed_dlqs.items()}}.items()
                ],
                width=12,
            ),
            cw.GraphWidget(
                title="Batch jobs FAILED", left=[batch_failures.with_(label="Batch jobs FAILED")], width=12
            ),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Sweeper resolutions",
                left=[m.with_(label=n) for n, m in sweeps.items()],
                width=24,
            ),
            cw.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms.values()), width=24),
        )
