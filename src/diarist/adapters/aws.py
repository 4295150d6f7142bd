"""boto3 clients, built once per process, and what their errors mean to the ports.

``AWS_ENDPOINT_URL`` (moto in tests and local mode) is honoured by boto3 itself, so the same code
talks to AWS or to the emulator.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from diarist.ports import LaunchFailed, LaunchThrottled

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30)
_LOCK = threading.Lock()  # creating clients from one session is not thread-safe
_SESSION: boto3.session.Session | None = None

_THROTTLING_CODES = frozenset(
    {
        "TooManyRequestsException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
    }
)


def session() -> boto3.session.Session:
    """One session per process: building a session reloads botocore's data (slow)."""
    global _SESSION
    if _SESSION is None:
        _SESSION = boto3.session.Session()
    return _SESSION


@cache
def client(service: str) -> Any:
    with _LOCK:
        return session().client(service, config=_CONFIG)  # type: ignore[call-overload]


def reset_clients() -> None:
    """Forget cached clients (tests and local mode switch endpoints). The session stays: clients
    read ``AWS_ENDPOINT_URL`` when they are built."""
    client.cache_clear()


def is_throttling(error: ClientError) -> bool:
    """The service throttled us (after boto's own retries): an error code or HTTP 429."""
    err = error.response.get("Error", {})
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return err.get("Code") in _THROTTLING_CODES or status == 429


def launch_error(what: str, error: ClientError) -> LaunchFailed:
    """A container service's refusal as the ``Launcher`` port's error, ``LaunchThrottled`` when
    it is throttling; the message is ``<what>: <code>: <message>``."""
    err = error.response.get("Error", {})
    message = f"{what}: {err.get('Code', 'Error')}: {err.get('Message', str(error))}"
    return LaunchThrottled(message) if is_throttling(error) else LaunchFailed(message)
