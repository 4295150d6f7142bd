"""Serve a Lambda API handler over real HTTP on localhost, as API Gateway (REST, proxy) would.

Each request becomes an API Gateway proxy event (the shape AWS sends), the handler's proxy
response becomes the HTTP response. Like API Gateway, bodies over 10 MB get 413 before the
handler runs, and binary bodies are passed base64-encoded.

The body is framed by ``Content-Length`` only, and never read on trust: a ``Transfer-Encoding``
(chunked) request gets 411, a ``Content-Length`` that is not one whole number (negative, not
numeric, two different values) gets 400, and the connection is closed after either (where the
next request would start is unknown). Reads time out after ``read_timeout_s`` (a client that
announces more than it sends gets 408), so no request holds a thread forever.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from diarist.resources import API_GATEWAY_MAX_BODY_BYTES

log = logging.getLogger(__name__)

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]

_TEXT_TYPES = ("application/json", "text/", "application/x-www-form-urlencoded")
_CONTENT_LENGTH = re.compile(r"^[0-9]{1,19}$")


class LambdaContext:
    """The parts of the Lambda context object that handlers (and Powertools) read."""

    def __init__(self, function_name: str, timeout_s: int = 30) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:000000000000:function:{function_name}"
        self.memory_limit_in_mb = 1024
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def to_proxy_event(
    method: str, raw_path: str, headers: dict[str, str], body: bytes, *, stage: str = "local"
) -> dict[str, Any]:
    parts = urlsplit(raw_path)
    query = parse_qs(parts.query, keep_blank_values=True)
    content_type = headers.get("content-type", headers.get("Content-Type", ""))
    is_text = any(content_type.startswith(t) for t in _TEXT_TYPES) or not body
    try:
        text = body.decode("utf-8") if is_text else None
    except UnicodeDecodeError:
        text = None
    return {
        "resource": "/{proxy+}",
        "path": parts.path,
        "httpMethod": method,
        "headers": dict(headers),
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": {"proxy": parts.path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/{stage}{parts.path}",
            "stage": stage,
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": "127.0.0.1", "userAgent": headers.get("user-agent", "")},
            "accountId": "000000000000",
            "apiId": "local",
            "protocol": "HTTP/1.1",
        },
        "body": text if text is not None else base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": text is None,
    }


class _Handler(BaseHTTPRequestHandler):
    server: ApiGatewayServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("%s " + format, self.address_string(), *args)

    @property
    def timeout(self) -> float:  # type: ignore[override]
        """The socket timeout ``StreamRequestHandler.setup`` applies to the connection."""
        return self.server.read_timeout_s

    def _refuse(self, status: int, message: str) -> None:
        """Answer without running the handler, then close (the rest of the stream is not ours)."""
        self._reply(status, {"Content-Type": "application/json"}, json.dumps({"message": message}).encode())
        self.close_connection = True

    def _body_length(self) -> int | None:
        """The body's length from ``Content-Length``, or None after refusing the request."""
        if self.headers.get("Transfer-Encoding") is not None:
            self._refuse(411, "Length Required: send the body with a Content-Length (no chunked encoding)")
            return None
        values = {v.strip() for v in self.headers.get_all("Content-Length") or []}
        if not values:
            return 0
        value = values.pop()
        if values or not _CONTENT_LENGTH.match(value):
            self._refuse(400, "Bad Request: Content-Length must be one whole number of bytes")
            return None
        length = int(value)
        if length > API_GATEWAY_MAX_BODY_BYTES:
            # API Gateway refuses these before any Lambda runs.
            self._refuse(413, "Request Entity Too Large: upload large files with POST /v1/media/input")
            return None
        return length

    def _handle(self) -> None:
        length = self._body_length()
        if length is None:
            return
        try:
            body = self.rfile.read(length) if length else b""
        except TimeoutError:
            self._refuse(408, "Request Timeout: the body was not sent in time")
            return
        if len(body) < length:  # the client closed the connection early
            self.close_connection = True
            return
        headers = dict(self.headers.items())
        event = to_proxy_event(self.command, self.path, headers, body)
        try:
            # One execution at a time, as in one Lambda execution environment: the handler (and
            # Powertools' resolver, which keeps the current event on the app) is not re-entrant.
            with self.server.invoke_lock:
                resp = self.server.lambda_handler(event, LambdaContext("diarist-api"))
        except Exception:  # the Lambda runtime would answer 502 for an unhandled error
            log.exception("API handler raised")
            self._reply(502, {"Content-Type": "application/json"}, b'{"message": "Internal server error"}')
            return
        out_headers: dict[str, str] = dict(resp.get("headers") or {})
        for k, values in (resp.get("multiValueHeaders") or {}).items():
            out_headers[k] = ", ".join(values)
        raw = resp.get("body") or ""
        data = base64.b64decode(raw) if resp.get("isBase64Encoded") else raw.encode("utf-8")
        self._reply(int(resp.get("statusCode", 200)), out_headers, data)

    def _reply(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self.send_response(status)
        for k, v in headers.items():
            if k.lower() not in ("content-length", "connection"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle


class ApiGatewayServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        lambda_handler: LambdaHandler,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        read_timeout_s: float = 60.0,
    ) -> None:
        super().__init__((host, port), _Handler)
        self.lambda_handler = lambda_handler
        self.read_timeout_s = read_timeout_s
        self.invoke_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, name="apigw", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
