"""SQS work queue (``ports.WorkQueue``): the dispatcher sends ``WorkMessage``s, drain workers take
them (long polling), keep the one they work on invisible (``ChangeMessageVisibility``, the
heartbeat), give it back at once on SIGTERM (visibility 0) and delete it once the job is handled.
A receipt that is no longer valid (the message was received again elsewhere) is no error for
``keep``/``give_back``/``done``: the job's own conditional writes decide who runs it."""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from diarist.adapters.aws import client
from diarist.domain.messages import WorkMessage
from diarist.ports import WorkItem

log = logging.getLogger(__name__)

_STALE_RECEIPT = (
    "ReceiptHandleIsInvalid",
    "InvalidParameterValue",
    "AWS.SimpleQueueService.NonExistentQueue",
)


class SqsWorkQueue:
    def __init__(self, queue_url: str, sqs: Any | None = None) -> None:
        self.queue_url = queue_url
        self._sqs = sqs or client("sqs")

    def send(self, message: WorkMessage) -> None:
        self._sqs.send_message(QueueUrl=self.queue_url, MessageBody=message.model_dump_json(by_alias=True))

    def receive(self, *, wait_s: float, visibility_s: int, max_messages: int = 1) -> list[WorkItem]:
        resp = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            VisibilityTimeout=max(0, min(43200, visibility_s)),
            MaxNumberOfMessages=max(1, min(10, max_messages)),
            WaitTimeSeconds=max(0, min(20, int(wait_s))),
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        items: list[WorkItem] = []
        for m in resp.get("Messages", []):
            try:
                message = WorkMessage.model_validate_json(m["Body"])
            except ValidationError:
                log.error("dropping a work message that is not one", extra={"body": m["Body"][:200]})
                self.done(m["ReceiptHandle"])
                continue
            count = int(m.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
            items.append(WorkItem(message=message, receipt=m["ReceiptHandle"], receive_count=count))
        return items

    def keep(self, receipt: str, seconds: int) -> None:
        self._visibility(receipt, max(0, min(43200, seconds)))

    def give_back(self, receipt: str) -> None:
        self._visibility(receipt, 0)

    def done(self, receipt: str) -> None:
        try:
            self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=receipt)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") not in _STALE_RECEIPT:
                raise

    def _visibility(self, receipt: str, seconds: int) -> None:
        try:
            self._sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=receipt, VisibilityTimeout=seconds
            )
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") not in _STALE_RECEIPT:
                raise
            log.info("work message receipt no longer valid", extra={"code": e.response["Error"]["Code"]})
