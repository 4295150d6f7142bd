"""Canonical Lambda event shapes and context shared by every test package (written from AWS's
documented shapes, independently of local mode's own builders, so each checks the other)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class LambdaContext:
    function_name: str = "diarist-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:diarist-test"
    aws_request_id: str = "52fdfc07-2182-454f-963f-5f0f9a621d72"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def sqs_event(messages: list[dict[str, Any]], arn: str, region: str = "us-east-1") -> dict[str, Any]:
    """The event Lambda's SQS event-source mapping delivers, from ReceiveMessage's messages."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }
