"""SqsJobQueue against the moto server: what the dispatcher reads, and its throttling back-off."""

from __future__ import annotations

from typing import Any

import pytest

from diarist.adapters.aws import client
from diarist.adapters.sqs_queue import SqsJobQueue
from diarist.domain.messages import DispatchMessage

pytestmark = pytest.mark.integration


def _receive(queue_url: str) -> list[dict[str, Any]]:
    resp = client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    return list(resp.get("Messages", []))


def test_send_then_delay_redelivery_keeps_the_message_invisible(aws) -> None:
    queue = SqsJobQueue(aws.job_queue_url)
    queue.send(DispatchMessage(job_id="j1", tenant_id="t1"))
    [received] = _receive(aws.job_queue_url)
    assert DispatchMessage.model_validate_json(received["Body"]) == DispatchMessage(
        job_id="j1", tenant_id="t1"
    )

    # the call acts on that very message: no delay makes it visible again at once ...
    queue.delay_redelivery(received["ReceiptHandle"], 0)
    [again] = _receive(aws.job_queue_url)
    assert again["MessageId"] == received["MessageId"]

    # ... and a delay keeps it away (the back-off of a throttled launch)
    queue.delay_redelivery(again["ReceiptHandle"], 120)
    assert _receive(aws.job_queue_url) == []
    attributes = client("sqs").get_queue_attributes(
        QueueUrl=aws.job_queue_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"
