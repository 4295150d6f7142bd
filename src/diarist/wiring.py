"""Services that several entry points share, built from their settings once per warm container.

The project's one wiring pattern: ``_build(settings) -> service`` and an accessor that returns
``settings.per_settings(SettingsClass, _build)`` (built on first use, again when the settings are
reloaded). A service that one Lambda function uses is built beside its handler
(``functions/<name>/handler.py``, the API's ``functions/api/deps.py``). Webhook delivery is used by
the webhook function, the API (``POST /v1/jobs/{jobId}/webhook``), the keys CLI and local mode, so
it is built here, once, in the same way. Adapters meet services only in these builders.
"""

from __future__ import annotations

from diarist.adapters.dynamo_jobs import DynamoJobStore
from diarist.adapters.dynamo_webhook_ledger import DynamoWebhookLedger
from diarist.adapters.s3_store import S3ObjectStore
from diarist.adapters.secrets import SecretsManagerSecretStore
from diarist.adapters.sqs_webhook_queue import SqsWebhookQueue
from diarist.domain.jobs import Job
from diarist.ports import WorkQueue
from diarist.services.webhooks import DeliveryConfig, WebhookService
from diarist.settings import SigningSecretSettings, WebhookSettings, per_settings


def _build_webhook_service(settings: WebhookSettings) -> WebhookService:
    return WebhookService(
        jobs=DynamoJobStore(settings.table_name),
        ledger=DynamoWebhookLedger(settings.table_name),
        objects=S3ObjectStore(),
        secrets=signing_secrets(),
        retries=SqsWebhookQueue(settings.webhook_queue_url),
        config=DeliveryConfig.from_settings(settings),
    )


def webhook_service() -> WebhookService:
    """The delivery service (``WebhookSettings``)."""
    return per_settings(WebhookSettings, _build_webhook_service)


def _build_signing_secrets(settings: SigningSecretSettings) -> SecretsManagerSecretStore:
    return SecretsManagerSecretStore(settings.webhook_secret_prefix)


def signing_secrets() -> SecretsManagerSecretStore:
    """The tenants' webhook signing secrets (``SigningSecretSettings``): one store, and so one
    cache, per warm container, shared by the delivery service and the functions below."""
    return per_settings(SigningSecretSettings, _build_signing_secrets)


def redeliver_webhook(job_id: str, tenant_id: str) -> Job:
    """``POST /v1/jobs/{jobId}/webhook``: send the completion webhook again (new round).
    Raises ``JobNotFound`` / ``Conflict``; returns the job (``webhook_delivery == "pending"``)."""
    return webhook_service().redeliver(job_id, tenant_id)


def ensure_signing_secret(tenant_id: str, *, secret: str | None = None) -> str:
    """The tenant's current webhook signing secret, created when missing (keys CLI, local mode).
    ``secret`` chooses its value (local mode's ``--webhook-secret``; use a long random one)."""
    return signing_secrets().ensure(tenant_id, secret=secret)


def rotate_signing_secret(tenant_id: str, *, grace_s: float = 24 * 3600) -> str:
    """A new signing secret for the tenant; the old one stays valid (both signatures are sent)
    for ``grace_s`` seconds. Returns the new secret."""
    return signing_secrets().rotate(tenant_id, grace_s=grace_s)


def build_work_queue(work_queue_url: str, short_work_queue_url: str | None, long_every: int) -> WorkQueue:
    """The drain workers' work (``WorkQueueSettings``): two lanes (``services.lanes.LanedWork``)
    when the short lane's queue is configured, else the one queue. One per worker or per function
    container (the lanes count a worker's short jobs in a row)."""
    from diarist.adapters.sqs_work_queue import SqsWorkQueue
    from diarist.services.lanes import LanedWork

    long = SqsWorkQueue(work_queue_url)
    if not short_work_queue_url:
        return long
    return LanedWork(short=SqsWorkQueue(short_work_queue_url), long=long, long_every=long_every)
