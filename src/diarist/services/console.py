"""The web console's security policy: what the page may load and connect to.

Invariants:

- Scripts come from the API's own origin only (``script-src 'self'``): no inline script, no
  ``eval``, no third-party origin. Styles likewise, plus the one nonce of this response (the
  ``<style>`` wavesurfer.js puts in its shadow root); no inline style attribute.
- Besides the API's own origin, the page may connect to (``connect-src``) and play from
  (``media-src``) exactly the origins of the presigned URLs the API hands out: those of the media
  bucket (uploads, ``media://`` playback), the results bucket (large outputs) and each bucket an
  input-bucket rule names (``s3://`` playback). Each origin is taken from a presigned URL the object
  store builds, so it is the one the browser will really meet (the S3 endpoint in AWS, the emulator
  on 127.0.0.1 in local mode); never a wildcard.
- Nothing may frame the page; forms post nowhere but the page's origin; no plugins, no ``<base>``.
"""

from __future__ import annotations

from functools import cached_property
from urllib.parse import urlsplit

from diarist.ports import ObjectStore
from diarist.settings import ApiSettings

_PROBE_KEY = "console-origin-probe"


class ConsolePolicy:
    def __init__(self, *, objects: ObjectStore, settings: ApiSettings) -> None:
        self.objects = objects
        self.settings = settings

    @cached_property
    def storage_origins(self) -> tuple[str, ...]:
        """The origins of the presigned URLs the API issues, sorted, without duplicates."""
        buckets = {self.settings.media_bucket, self.settings.results_bucket}
        buckets.update(rule.bucket for rule in self.settings.input_rules())
        origins = set()
        for bucket in buckets:
            parts = urlsplit(self.objects.presign_get(bucket, _PROBE_KEY, 60))  # signing is local: no request
            origins.add(f"{parts.scheme}://{parts.netloc}")
        return tuple(sorted(origins))

    def content_security_policy(self, style_nonce: str) -> str:
        storage = " ".join(self.storage_origins)
        return "; ".join(
            [
                "default-src 'self'",
                "script-src 'self'",
                f"style-src 'self' 'nonce-{style_nonce}'",
                "img-src 'self' data:",
                f"media-src 'self' blob: {storage}",
                f"connect-src 'self' {storage}",
                "object-src 'none'",
                "base-uri 'none'",
                "form-action 'self'",
                "frame-ancestors 'none'",
            ]
        )
