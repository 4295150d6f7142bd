"""API Gateway REST (v1 payload) proxy events, shaped like the real ones, and a Lambda context."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.events import LambdaContext  # noqa: F401  (re-exported for the API tests)

STAGE = "prod"
HOST = "abc123.execute-api.us-east-1.amazonaws.com"


def rest_event(
    method: str,
    path: str,
    *,
    body: bytes | str | dict[str, Any] | list[Any] | None = None,
    headers: dict[str, str] | None = None,
    token: str | None = None,
    base64_body: bool = False,
    resource: str | None = None,
    path_parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A REST API proxy-integration event. ``path`` may carry a query string."""
    parts = urlsplit(path)
    query = parse_qsl(parts.query, keep_blank_values=True)
    hdrs = {"Host": HOST, "X-Forwarded-Proto": "https", "User-Agent": "pytest"}
    if isinstance(body, dict | list):
        body = json.dumps(body)
        hdrs["Content-Type"] = "application/json"
    if token is not None:
        hdrs["Authorization"] = f"Bearer {token}"
    hdrs.update(headers or {})
    is_b64 = False
    raw: str | None
    if body is None:
        raw = None
    elif isinstance(body, bytes) or base64_body:
        data = body if isinstance(body, bytes) else body.encode()
        raw, is_b64 = base64.b64encode(data).decode(), True
    else:
        raw = body
    qs: dict[str, str] = {}
    mqs: dict[str, list[str]] = {}
    for k, v in query:
        qs[k] = v
        mqs.setdefault(k, []).append(v)
    request_id = str(uuid.uuid4())
    return {
        "resource": resource or "/{proxy+}",
        "path": parts.path,
        "httpMethod": method,
        "headers": hdrs,
        "multiValueHeaders": {k: [v] for k, v in hdrs.items()},
        "queryStringParameters": qs or None,
        "multiValueQueryStringParameters": mqs or None,
        "pathParameters": path_parameters or {"proxy": parts.path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourceId": "abc123",
            "resourcePath": resource or "/{proxy+}",
            "httpMethod": method,
            "extendedRequestId": "Xyz=",
            "requestTime": "22/Nov/2026:00:00:00 +0000",
            "path": f"/{STAGE}{parts.path}",
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": STAGE,
            "domainPrefix": HOST.split(".")[0],
            "requestTimeEpoch": 1795305600000,
            "requestId": request_id,
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "pytest"},
            "domainName": HOST,
            "apiId": HOST.split(".")[0],
        },
        "body": raw,
        "isBase64Encoded": is_b64,
    }


def multipart_body(
    fields: dict[str, tuple[str | None, str | None, bytes]], boundary: str = "diaristBoundary7MA4YWxk"
) -> tuple[bytes, str]:
    """``fields``: name -> (filename, content type, data). Returns (body, Content-Type header)."""
    out = bytearray()
    for name, (filename, ctype, data) in fields.items():
        out += f"--{boundary}\r\n".encode()
        disp = f'Content-Disposition: form-data; name="{name}"'
        if filename is not None:
            disp += f'; filename="{filename}"'
        out += disp.encode() + b"\r\n"
        if ctype:
            out += f"Content-Type: {ctype}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"
