"""Local mode's API Gateway emulation: real HTTP in, REST proxy events to the handler, 413 at the edge."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from diarist.local.apigw import ApiGatewayServer, to_proxy_event
from diarist.resources import API_GATEWAY_MAX_BODY_BYTES

seen: list[dict[str, Any]] = []


def echo_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    seen.append(event)
    return {
        "statusCode": 201,
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {"X-Location": ["http://x/1"]},
        "body": json.dumps({"path": event["path"], "remaining": context.get_remaining_time_in_millis() > 0}),
        "isBase64Encoded": False,
    }


@pytest.fixture
def server() -> Iterator[ApiGatewayServer]:
    s = ApiGatewayServer(echo_handler)
    s.start()
    yield s
    s.stop()


def test_request_becomes_proxy_event_and_response_is_mapped(server: ApiGatewayServer) -> None:
    seen.clear()
    http = urllib3.PoolManager()
    resp = http.request(
        "POST",
        server.url + "/v1/diarize?a=1&a=2&b=",
        body=b'{"url": "x"}',
        headers={"Content-Type": "application/json", "Authorization": "Bearer k"},
    )
    assert resp.status == 201
    assert resp.headers["X-Location"] == "http://x/1"
    assert json.loads(resp.data) == {"path": "/v1/diarize", "remaining": True}
    event = seen[-1]
    assert event["httpMethod"] == "POST" and event["isBase64Encoded"] is False
    assert event["body"] == '{"url": "x"}'
    assert event["queryStringParameters"] == {"a": "2", "b": ""}
    assert event["multiValueQueryStringParameters"]["a"] == ["1", "2"]
    assert event["headers"]["Authorization"] == "Bearer k"
    assert event["requestContext"]["httpMethod"] == "POST"


def test_binary_body_is_base64() -> None:
    body = bytes(range(256))
    event = to_proxy_event("POST", "/x", {"Content-Type": "multipart/form-data; boundary=z"}, body)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == body


def test_body_over_api_gateway_limit_is_413_before_the_handler(server: ApiGatewayServer) -> None:
    seen.clear()
    http = urllib3.PoolManager()
    resp = http.request(
        "POST",
        server.url + "/api/technology/speaker-diarization",
        body=b"\0" * (API_GATEWAY_MAX_BODY_BYTES + 1),
    )
    assert resp.status == 413
    assert "media/input" in json.loads(resp.data)["message"]
    assert seen == []


def test_handler_runs_one_request_at_a_time_like_one_lambda_environment() -> None:
    """Powertools' resolver keeps the current event on the app: concurrent calls must not interleave."""
    import threading
    import time

    active, peak = 0, 0
    lock = threading.Lock()

    def slow_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.02)
        with lock:
            active -= 1
        return {"statusCode": 200, "body": event["path"]}

    server = ApiGatewayServer(slow_handler)
    server.start()
    try:
        http = urllib3.PoolManager(maxsize=10)
        results: list[bytes] = []

        def call(i: int) -> None:
            results.append(http.request("GET", f"{server.url}/v1/jobs/{i}").data)

        threads = [threading.Thread(target=call, args=(i,)) for i in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        server.stop()
    assert peak == 1
    assert sorted(results) == sorted(f"/v1/jobs/{i}".encode() for i in range(10))


# -- framing: Content-Length only, never trusted --------------------------------------------------


def _raw(server: ApiGatewayServer, data: bytes, *, wait_s: float = 5.0) -> bytes:
    """Send raw bytes to the server (loopback) and read until it closes the connection."""
    import socket

    host, port = server.server_address[:2]
    with socket.create_connection((str(host), int(port)), timeout=wait_s) as sock:
        sock.sendall(data)
        out = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                raise AssertionError(f"no answer and no close within {wait_s} s; got {out!r}") from None
            if not chunk:
                return out
            out += chunk


@pytest.fixture
def quick_server() -> Iterator[ApiGatewayServer]:
    s = ApiGatewayServer(echo_handler, read_timeout_s=0.5)
    s.start()
    yield s
    s.stop()


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (b"Content-Length: abc\r\n", 400),
        (b"Content-Length: -5\r\n", 400),
        (b"Content-Length: 5\r\nContent-Length: 7\r\n", 400),
        (b"Content-Length: 99999999999999999999999\r\n", 400),
        (b"Content-Length: 0x10\r\n", 400),
        (b"Transfer-Encoding: chunked\r\n", 411),
        (b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", 411),
    ],
)
def test_bad_framing_is_refused_and_the_connection_closed(
    quick_server: ApiGatewayServer, headers: bytes, status: int
) -> None:
    seen.clear()
    request = (
        b"POST /v1/diarize HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + b"\r\n" + b"5\r\nhello\r\n0\r\n\r\n"
    )
    answer = _raw(quick_server, request)
    assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer[:200]
    assert answer.count(b"HTTP/1.1 ") == 1  # the rest of the stream was not read as a request
    assert seen == []  # the handler never ran
    # the server still serves
    assert urllib3.PoolManager().request("GET", quick_server.url + "/ok").status == 201


def test_a_body_shorter_than_announced_times_out_instead_of_hanging(quick_server: ApiGatewayServer) -> None:
    seen.clear()
    answer = _raw(
        quick_server, b"POST /v1/diarize HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789"
    )
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert seen == []


def test_a_well_framed_request_on_a_raw_socket_still_works(quick_server: ApiGatewayServer) -> None:
    seen.clear()
    answer = _raw(
        quick_server,
        b"POST /v1/diarize HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
        b"Connection: close\r\n\r\nhello",
    )
    assert answer.startswith(b"HTTP/1.1 201 ") and seen[-1]["body"] == "hello"
