"""Webhook signatures, compatible with pyannoteAI's.

The sender puts two headers on every delivery::

    X-Request-Timestamp: <unix seconds>
    X-Signature: base64(HMAC-SHA256(secret, "v0:<X-Request-Timestamp>:<raw body>"))

While a signing secret is being rotated the sender also adds ``X-Signature-Previous`` (the same
signature made with the previous secret), so a receiver still configured with the old secret keeps
verifying until it switches. ``verify_signature`` checks both headers against every secret it is
given, in constant time, and refuses timestamps older (or newer) than ``tolerance_s``.

This module has no dependency beyond the standard library: receivers can copy it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping

TIMESTAMP_HEADER = "X-Request-Timestamp"
SIGNATURE_HEADER = "X-Signature"
PREVIOUS_SIGNATURE_HEADER = "X-Signature-Previous"
SIGNATURE_VERSION = "v0"
DEFAULT_TOLERANCE_S = 300


def _as_bytes(value: bytes | str) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def sign(secret: str, timestamp: int | str, body: bytes | str) -> str:
    """``base64(HMAC-SHA256(secret, "v0:{timestamp}:{body}"))`` over the raw body bytes."""
    message = f"{SIGNATURE_VERSION}:{timestamp}:".encode() + _as_bytes(body)
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signature_headers(secrets: list[str], body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    """Headers for one delivery. ``secrets[0]`` is the current secret, ``secrets[1]`` (if any) the
    previous one, still valid during a rotation."""
    if not secrets:
        raise ValueError("no signing secret")
    ts = str(int(time.time()) if timestamp is None else int(timestamp))
    headers = {TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: sign(secrets[0], ts, body)}
    if len(secrets) > 1 and secrets[1] and secrets[1] != secrets[0]:
        headers[PREVIOUS_SIGNATURE_HEADER] = sign(secrets[1], ts, body)
    return headers


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def verify_signature(
    secret: str | Iterable[str],
    headers: Mapping[str, str],
    body: bytes | str,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    *,
    now: float | None = None,
) -> bool:
    """True when ``body`` was signed by Diarist with ``secret`` (or one of several secrets).

    ``headers`` is the request's headers (any mapping; names are matched case-insensitively);
    ``body`` must be the raw request body, before any JSON parsing. Pass both the new and the old
    secret while you switch to a rotated one. ``tolerance_s`` bounds how old (or how far in the
    future) ``X-Request-Timestamp`` may be, against replays; ``0`` or less turns the check off.
    """
    secrets = [secret] if isinstance(secret, str) else [s for s in secret if s]
    timestamp = _header(headers, TIMESTAMP_HEADER)
    if not secrets or timestamp is None or not timestamp.strip().isdigit():
        return False
    if tolerance_s > 0:
        current = time.time() if now is None else now
        if abs(current - int(timestamp)) > tolerance_s:
            return False
    given = [
        s.strip()
        for s in (_header(headers, SIGNATURE_HEADER), _header(headers, PREVIOUS_SIGNATURE_HEADER))
        if s
    ]
    ok = False
    for candidate in secrets:
        expected = sign(candidate, timestamp.strip(), body)
        for signature in given:
            # evaluate every pair: no early exit that would leak which secret matched
            ok |= hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace"))
    return ok
