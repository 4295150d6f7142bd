"""Where things are: ``s3://bucket/key`` URLs, the one parser and formatter for them, and the one
rule for an object key a user may name."""

from __future__ import annotations

S3_SCHEME = "s3://"
MAX_S3_KEY_BYTES = 1024
"""S3's own limit on a key, in UTF-8 bytes."""


def split_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``(bucket, key)``. ``ValueError`` unless both parts are there."""
    if not url.startswith(S3_SCHEME):
        raise ValueError(f"not an s3:// URL: {url}")
    bucket, _, key = url[len(S3_SCHEME) :].partition("/")
    if not bucket or not key:
        raise ValueError(f"s3 URL needs s3://bucket/key: {url}")
    return bucket, key


def s3_url(bucket: str, key: str) -> str:
    return f"{S3_SCHEME}{bucket}/{key}"


def object_key_problem(key: str) -> str | None:
    """Why ``key`` is not an object key a user may name (``s3://`` inputs, ``media://`` keys), or
    None. Keys are written as paths by tools (local mode's data dir, ``aws s3 sync``): no empty,
    ``.`` or ``..`` parts, no leading ``/``, no control characters or backslashes, and at most S3's
    own limit of ``MAX_S3_KEY_BYTES`` UTF-8 bytes."""
    if not key:
        return "the object key is empty"
    if any(ord(c) < 0x20 or c in "\\\x7f" for c in key):
        return "the object key has control characters or backslashes"
    if any(part in ("", ".", "..") for part in key.split("/")):
        return "the object key has an empty, '.' or '..' part"
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        return "the object key is not valid Unicode (a lone surrogate)"
    if size > MAX_S3_KEY_BYTES:
        return f"the object key is {size} bytes, over S3's {MAX_S3_KEY_BYTES}-byte limit (UTF-8)"
    return None
