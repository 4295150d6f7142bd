"""Sweeper function: on a schedule (EventBridge, every minute by default; a poller every
``DIARIST_SWEEP_INTERVAL_S`` in local mode), resolve the jobs stuck past a deadline and publish
the completion events still owed (``diarist.services.sweeper``).

Thin: build the sweeper once per warm container (``_build`` via ``per_settings``), run one sweep,
count each resolution as a metric (EMF, one count per kind: ``SweepEventRepublished``,
``SweepJobRequeued``, ``SweepLaunchFailed``, ``SweepNoCapacity``, ``SweepWorkerLost``,
``SweepJobResumed``; the
monitoring construct alarms on them). Each resolution is logged by the service inside the job's
``job_context``. The event itself (the schedule's) carries nothing the sweep needs.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from diarist.observability import logger, metrics, tracer
from diarist.services.sweeper import RESOLUTIONS, Sweeper, SweepPolicy, SweepReport
from diarist.settings import SweeperSettings, per_settings


def _build(settings: SweeperSettings) -> Sweeper:
    from diarist.adapters.dynamo_fleet import DynamoWorkerFleet
    from diarist.adapters.dynamo_jobs import DynamoJobStore
    from diarist.adapters.dynamo_sweep import DynamoSweepIndex
    from diarist.adapters.events import EventBridgeBus
    from diarist.adapters.sqs_queue import SqsJobQueue
    from diarist.launchers import build_launcher
    from diarist.services.fleet import FleetScaler
    from diarist.wiring import build_work_queue

    launcher = build_launcher(settings) if settings.launcher else None
    return Sweeper(
        store=DynamoJobStore(settings.table_name),
        index=DynamoSweepIndex(settings.table_name),
        events=EventBridgeBus(settings.event_bus_name),
        queue=SqsJobQueue(settings.job_queue_url),
        policy=policy_of(settings),
        launcher=launcher,
        work=(
            build_work_queue(settings.work_queue_url, settings.short_work_queue_url, settings.long_lane_every)
            if settings.work_queue_url
            else None
        ),
        scaler=(
            FleetScaler(DynamoWorkerFleet(settings.table_name), launcher, settings.fleet_policy())
            if launcher is not None
            else None
        ),
    )


def policy_of(settings: SweeperSettings) -> SweepPolicy:
    return SweepPolicy(
        outbox_after_s=settings.sweep_outbox_after_s,
        pending_after_s=settings.sweep_pending_after_s,
        max_requeues=settings.sweep_max_requeues,
        capacity_timeout_s=settings.sweep_capacity_timeout_s,
        worker_lost_after_s=settings.sweep_worker_lost_after_s,
        launch_claim_stale_s=settings.launch_claim_stale_s,
        max_worker_takes=settings.sweep_max_worker_takes,
        max_worker_start_failures=settings.sweep_max_worker_start_failures,
    )


def service() -> Sweeper:
    return per_settings(SweeperSettings, _build)


def run(sweeper: Sweeper) -> SweepReport:
    report = sweeper.sweep()
    for name in RESOLUTIONS:
        if report.resolved[name]:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=report.resolved[name])
    return report


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = run(service())
    return {"resolved": dict(report.resolved), "lookedAt": report.looked_at}
