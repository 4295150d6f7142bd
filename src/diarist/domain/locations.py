"""Where things are: ``s3://bucket/key`` URLs, the one parser and formatter for them."""

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
