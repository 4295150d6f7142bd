"""What the API needs: its settings (checked at cold start) and the services over the boto3
adapters.

Every builder runs through ``settings.per_settings(ApiSettings, ...)``: built once per warm
container, again when the settings were reloaded (tests, local mode). The services share one job
store and one object store. The API starts and stops no container: cancel ends the job, and the
drain worker running it stops at its next (refused) write.
"""

from __future__ import annotations

import logging

from diarist.adapters.dynamo_apikeys import DynamoApiKeyStore
from diarist.adapters.dynamo_idempotency import DynamoIdempotencyStore
from diarist.adapters.dynamo_jobs import DynamoJobStore
from diarist.adapters.dynamo_tenants import DynamoTenantStore
from diarist.adapters.events import EventBridgeBus
from diarist.adapters.s3_store import S3ObjectStore
from diarist.adapters.sqs_queue import SqsJobQueue
from diarist.ports import JobStore, ObjectStore
from diarist.services.apikeys import ApiKeyService
from diarist.services.cancel_delete import CancelDeleteService
from diarist.services.console import ConsolePolicy
from diarist.services.inputs import InputResolver
from diarist.services.limits import TenantLimitService
from diarist.services.reading import JobReader
from diarist.services.submission import SubmissionService
from diarist.settings import ApiSettings, forget_built, load, per_settings

log = logging.getLogger(__name__)


def settings() -> ApiSettings:
    return load(ApiSettings)


def _build_job_store(s: ApiSettings) -> JobStore:
    return DynamoJobStore(s.table_name)


def job_store() -> JobStore:
    return per_settings(ApiSettings, _build_job_store)


def _build_object_store(s: ApiSettings) -> ObjectStore:
    return S3ObjectStore()


def object_store() -> ObjectStore:
    return per_settings(ApiSettings, _build_object_store)


def _build_inputs(s: ApiSettings) -> InputResolver:
    return InputResolver(objects=object_store(), settings=s)


def inputs() -> InputResolver:
    return per_settings(ApiSettings, _build_inputs)


def _build_submissions(s: ApiSettings) -> SubmissionService:
    return SubmissionService(
        store=job_store(),
        queue=SqsJobQueue(s.job_queue_url),
        objects=object_store(),
        events=EventBridgeBus(s.event_bus_name),
        inputs=inputs(),
        idempotency=DynamoIdempotencyStore(s.table_name),
        limits=limits(),
        settings=s,
    )


def submissions() -> SubmissionService:
    return per_settings(ApiSettings, _build_submissions)


def _build_limits(s: ApiSettings) -> TenantLimitService:
    return TenantLimitService(
        tenants=DynamoTenantStore(s.table_name),
        jobs=job_store(),
        defaults=s.tenant_limits(),
        cache_ttl_s=s.tenant_limits_cache_ttl_s,
    )


def limits() -> TenantLimitService:
    """Per-tenant limits: every request is counted (``http.guard``), every queued job takes a slot."""
    return per_settings(ApiSettings, _build_limits)


def _build_reader(s: ApiSettings) -> JobReader:
    return JobReader(store=job_store(), objects=object_store(), settings=s)


def reader() -> JobReader:
    return per_settings(ApiSettings, _build_reader)


def _build_cancel_delete(s: ApiSettings) -> CancelDeleteService:
    return CancelDeleteService(
        store=job_store(),
        objects=object_store(),
        events=EventBridgeBus(s.event_bus_name),
        settings=s,
    )


def cancel_delete() -> CancelDeleteService:
    return per_settings(ApiSettings, _build_cancel_delete)


def _build_console_policy(s: ApiSettings) -> ConsolePolicy:
    return ConsolePolicy(objects=object_store(), settings=s)


def console_policy() -> ConsolePolicy:
    return per_settings(ApiSettings, _build_console_policy)


def _build_apikeys(s: ApiSettings) -> ApiKeyService:
    return ApiKeyService(DynamoApiKeyStore(s.table_name), cache_ttl_s=s.apikey_cache_ttl_s)


def apikey_service() -> ApiKeyService:
    return per_settings(ApiSettings, _build_apikeys)


def reset() -> None:
    """Forget everything built (tests that switch environments)."""
    forget_built()
