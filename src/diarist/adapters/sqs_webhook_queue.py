"""The webhook queue (``ports.RetryQueue``): how the delivery function schedules its own retries.

Two kinds of message bodies arrive on the queue (``domain.messages.parse_webhook_queue_body``):

- the EventBridge completion event itself (the rule's target): ``{"version": "0", "id": ...,
  "detail-type": "Diarization Job Succeeded", "source": "diarist", "detail": {JobFinishedDetail}}``;
- ``WebhookRetryMessage`` (``{"kind": "diarist.webhook.retry", "version": 1, "jobId", "tenantId",
  "attempt", "seq", "reason"}``), sent by the function itself with ``DelaySeconds``.
"""

from __future__ import annotations

from typing import Any

from diarist.adapters.aws import client
from diarist.domain.messages import WebhookRetryMessage

SQS_MAX_DELAY_S = 900


class SqsWebhookQueue:
    def __init__(self, queue_url: str, sqs: Any | None = None) -> None:
        self.queue_url = queue_url
        self._sqs = sqs or client("sqs")

    def send_retry(self, message: WebhookRetryMessage, delay_s: int) -> None:
        """SQS delays are capped at 15 min: a longer configured delay is shortened to that."""
        self._sqs.send_message(
            QueueUrl=self.queue_url,
            MessageBody=message.model_dump_json(by_alias=True),
            DelaySeconds=max(0, min(int(delay_s), SQS_MAX_DELAY_S)),
        )
