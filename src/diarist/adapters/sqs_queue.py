"""SQS job queue (``ports.JobQueue``)."""

from __future__ import annotations

from typing import Any

from diarist.adapters.aws import client
from diarist.domain.messages import DispatchMessage


class SqsJobQueue:
    def __init__(self, queue_url: str, sqs: Any | None = None) -> None:
        self.queue_url = queue_url
        self._sqs = sqs or client("sqs")

    def send(self, message: DispatchMessage) -> None:
        self._sqs.send_message(QueueUrl=self.queue_url, MessageBody=message.model_dump_json(by_alias=True))

    def delay_redelivery(self, receipt_handle: str, seconds: int) -> None:
        self._sqs.change_message_visibility(
            QueueUrl=self.queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )
