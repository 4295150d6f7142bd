"""Signatures: pyannoteAI's scheme, rotation, tolerance, tampering."""

from __future__ import annotations

import base64
import hashlib
import hmac

from diarist.client import verify_signature
from diarist.domain.signing import sign, signature_headers

BODY = b'{"jobId":"j1","status":"succeeded","output":{"diarization":[]}}'


def test_signature_is_pyannoteai_scheme() -> None:
    # Given pyannoteAI's documented recipe, computed independently
    expected = base64.b64encode(
        hmac.new(b"s3cret", b"v0:1700000000:" + BODY, hashlib.sha256).digest()
    ).decode()
    # Then our signer produces the same value
    assert sign("s3cret", 1700000000, BODY) == expected
    headers = signature_headers(["s3cret"], BODY, timestamp=1700000000)
    assert headers == {"X-Request-Timestamp": "1700000000", "X-Signature": expected}


def test_verify_accepts_good_and_rejects_tampering() -> None:
    headers = signature_headers(["s3cret"], BODY, timestamp=1700000000)
    now = 1700000010
    assert verify_signature("s3cret", headers, BODY, now=now)
    assert verify_signature("s3cret", headers, BODY.decode(), now=now)  # str body too
    lower = {k.lower(): v for k, v in headers.items()}
    assert verify_signature("s3cret", lower, BODY, now=now)  # header names case-insensitive
    assert not verify_signature("other", headers, BODY, now=now)
    assert not verify_signature("s3cret", headers, BODY + b" ", now=now)
    assert not verify_signature("s3cret", {**headers, "X-Request-Timestamp": "1700000001"}, BODY, now=now)
    assert not verify_signature("s3cret", {"X-Signature": headers["X-Signature"]}, BODY, now=now)
    assert not verify_signature("s3cret", {**headers, "X-Signature": "AAAA"}, BODY, now=now)
    assert not verify_signature([], headers, BODY, now=now)


def test_timestamp_tolerance() -> None:
    headers = signature_headers(["k"], BODY, timestamp=1000)
    assert verify_signature("k", headers, BODY, now=1000 + 300)
    assert not verify_signature("k", headers, BODY, now=1000 + 301)  # too old: replay
    assert not verify_signature("k", headers, BODY, now=1000 - 301)  # from the future
    assert verify_signature("k", headers, BODY, tolerance_s=0, now=10**10)  # check off


def test_rotation_both_signatures_sent_and_either_secret_verifies() -> None:
    # Given a rotation under way (current "new", previous "old")
    headers = signature_headers(["new", "old"], BODY, timestamp=1000)
    # Then X-Signature is made with the current secret (pyannoteAI-compatible) ...
    assert headers["X-Signature"] == sign("new", 1000, BODY)
    assert headers["X-Signature-Previous"] == sign("old", 1000, BODY)
    # ... and a receiver holding only the old, only the new, or both secrets verifies
    for secrets in (["old"], ["new"], ["new", "old"], "old"):
        assert verify_signature(secrets, headers, BODY, now=1000)
    assert not verify_signature(["unrelated"], headers, BODY, now=1000)
    # Outside rotation there is no second header
    assert "X-Signature-Previous" not in signature_headers(["new"], BODY)
