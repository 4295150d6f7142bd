"""Event-source mappings for local mode: SQS queues feeding Lambda handlers, as AWS does; and
``SchedulePoller``, an EventBridge schedule calling a handler every few seconds (the sweeper).

moto accepts an SQS -> Lambda mapping but never runs it, so local mode polls each queue itself,
builds the real SQS event, calls the handler and deletes what the handler did not report in
``batchItemFailures`` (Lambda's partial batch response). Failed messages come back after their
visibility timeout and reach the DLQ after maxReceiveCount, as in AWS.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from diarist.adapters.aws import client
from diarist.local.apigw import LambdaContext

log = logging.getLogger(__name__)


def sqs_event(queue_arn: str, messages: list[dict[str, Any]], region: str = "us-east-1") -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


class SqsPoller:
    def __init__(
        self,
        name: str,
        queue_url: str,
        handler: Callable[[dict[str, Any], Any], Any],
        *,
        batch_size: int = 10,
        wait_s: int = 1,
    ) -> None:
        self.name = name
        self.queue_url = queue_url
        self.handler = handler
        self.batch_size = batch_size
        self.wait_s = wait_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        sqs = client("sqs")
        self.queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]

    def poll_once(self) -> int:
        """Receive one batch and hand it to the handler. Returns how many messages it received."""
        sqs = client("sqs")
        resp = sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=self.wait_s,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = resp.get("Messages", [])
        if not messages:
            return 0
        event = sqs_event(self.queue_arn, messages)
        try:
            result = self.handler(event, LambdaContext(self.name)) or {}
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except Exception:
            log.exception("%s handler raised; the whole batch will be retried", self.name)
            return len(messages)
        done = [m for m in messages if m["MessageId"] not in failed]
        for i in range(0, len(done), 10):
            sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(j), "ReceiptHandle": m["ReceiptHandle"]}
                    for j, m in enumerate(done[i : i + 10])
                ],
            )
        return len(messages)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                if self._stop.is_set():
                    break
                log.exception("%s poller error", self.name)
                self._stop.wait(1)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"poller-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=self.wait_s + 5)


class SchedulePoller:
    """Calls ``handler`` with a scheduled-event shape every ``interval_s`` (EventBridge's
    ``rate(...)`` rule in AWS). An exception is logged and the next tick comes as usual."""

    def __init__(
        self, name: str, handler: Callable[[dict[str, Any], Any], Any], *, interval_s: float
    ) -> None:
        self.name = name
        self.handler = handler
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> Any:
        event = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
        return self.handler(event, LambdaContext(self.name))

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.tick()
            except Exception:
                log.exception("%s scheduled run failed", self.name)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"schedule-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)
