"""What the API needs, built once per warm container: settings (checked at cold start), the
services over the boto3 adapters, and the launcher (lazily, only for cancel)."""

from __future__ import annotations

import logging
from functools import cache

from diarist.ports import Launcher
from diarist.services.apikeys import ApiKeyService
from diarist.services.jobs import JobService
from diarist.settings import ApiSettings, load

log = logging.getLogger(__name__)


def settings() -> ApiSettings:
    return load(ApiSettings)


@cache
def job_service() -> JobService:
    from diarist.adapters.dynamo_idempotency import DynamoIdempotencyStore
    from diarist.adapters.dynamo_jobs import DynamoJobStore
    from diarist.adapters.events import EventBridgeBus
    from diarist.adapters.s3_store import S3ObjectStore
    from diarist.adapters.sqs_queue import SqsJobQueue

    s = settings()
    return JobService(
        store=DynamoJobStore(s.table_name),
        queue=SqsJobQueue(s.job_queue_url),
        objects=S3ObjectStore(),
        events=EventBridgeBus(s.event_bus_name),
        settings=s,
        idempotency=DynamoIdempotencyStore(s.table_name),
        launcher=launcher,
        url_check=_url_check(s),
    )


def _url_check(s: ApiSettings):
    from diarist.netpolicy import validate_url_syntax

    def check(url: str) -> None:
        validate_url_syntax(url, s)

    return check


@cache
def apikey_service() -> ApiKeyService:
    from diarist.adapters.dynamo_apikeys import DynamoApiKeyStore

    s = settings()
    return ApiKeyService(DynamoApiKeyStore(s.table_name), cache_ttl_s=s.apikey_cache_ttl_s)


@cache
def launcher() -> Launcher | None:
    """The container launcher, for cancel only (``DIARIST_LAUNCHER`` and its settings). When the
    API has none configured, cancel still cancels (the worker's later writes are refused) but the
    container job runs on; that is logged."""
    try:
        from diarist.launchers import build_launcher
        from diarist.settings import LauncherSettings

        return build_launcher(load(LauncherSettings))
    except Exception:
        log.exception("no launcher for cancel (DIARIST_LAUNCHER and its settings)")
        return None


def reset() -> None:
    """Forget everything built (tests that switch environments)."""
    job_service.cache_clear()
    apikey_service.cache_clear()
    launcher.cache_clear()
