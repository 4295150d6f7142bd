"""Tenant ids: the one rule for what a tenant id looks like.

Tenant ids end up in S3 keys (``media/<tenant>/...``), DynamoDB keys (``TENANT#<tenant>``) and
operator settings (``allowedInputBuckets``), so they stay plain: 1-64 letters, digits, ``-`` or
``_``, not starting with ``-`` or ``_``.
"""

from __future__ import annotations

import re

TENANT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
TENANT_ID_RULE = "1-64 characters: letters, digits, '-' or '_' (not first)"


def is_tenant_id(text: str) -> bool:
    return bool(TENANT_ID_RE.match(text or ""))
