"""boto3 clients, built once per process. ``AWS_ENDPOINT_URL`` (moto in tests and local mode) is
honoured by boto3 itself, so the same code talks to AWS or to the emulator."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30)


@cache
def client(service: str) -> Any:
    return boto3.session.Session().client(service, config=_CONFIG)  # type: ignore[call-overload]


def reset_clients() -> None:
    """Forget cached clients (tests that switch endpoints)."""
    client.cache_clear()
