"""The webhook queue (``ports.RetryQueue``): what the delivery function reads, and how it schedules
its own retries.

Two kinds of message bodies arrive on the queue:

- the EventBridge completion event itself (the rule's target): ``{"version": "0", "id": ...,
  "detail-type": "Diarization Job Succeeded", "source": "diarist", "detail": {JobFinishedDetail}}``;
- ``WebhookRetryMessage`` (``{"kind": "diarist.webhook.retry", "version": 1, "jobId", "tenantId",
  "attempt", "seq", "reason"}``), sent by the function itself with ``DelaySeconds``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from diarist.adapters.aws import client
from diarist.domain.messages import (
    DETAIL_TYPES,
    EVENT_SOURCE,
    WEBHOOK_RETRY_KIND,
    JobFinishedDetail,
    WebhookRetryMessage,
)

SQS_MAX_DELAY_S = 900

# The EventBridge rule that routes completion events to the webhook queue (CDK and local mode).
COMPLETION_EVENT_PATTERN: dict[str, list[str]] = {
    "source": [EVENT_SOURCE],
    "detail-type": sorted(DETAIL_TYPES.values()),
}


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


class UnknownMessage(ValueError):
    """A body that is neither a completion event nor a retry message."""


def parse_body(body: str | bytes | Mapping[str, Any]) -> JobFinishedDetail | WebhookRetryMessage:
    data = json.loads(body) if isinstance(body, str | bytes) else dict(body)
    if not isinstance(data, dict):
        raise UnknownMessage("message body is not a JSON object")
    if data.get("kind") == WEBHOOK_RETRY_KIND:
        return WebhookRetryMessage.model_validate(data)
    if "detail-type" in data and "detail" in data:
        if data.get("source") != EVENT_SOURCE or data["detail-type"] not in DETAIL_TYPES.values():
            raise UnknownMessage(
                f"not a Diarist completion event: {data.get('source')}/{data['detail-type']}"
            )
        return JobFinishedDetail.model_validate(data["detail"])
    raise UnknownMessage("neither an EventBridge completion event nor a webhook retry message")
