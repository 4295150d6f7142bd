"""Which ``s3://`` inputs a tenant may read from the operator's buckets: the input-bucket rules.

The operator lists rules (``allowedInputBuckets`` at deploy, ``DIARIST_ALLOWED_INPUT_BUCKETS`` in
the API), comma-separated. Each rule names a bucket, optionally a key prefix, and says who may
read under it; there is no rule without that answer:

- ``<bucket>/<prefix>{tenant}/``: each tenant reads only its own folder, e.g.
  ``acme-recordings/calls/{tenant}/`` lets tenant ``acme`` read ``s3://acme-recordings/calls/acme/...``.
  ``{tenant}`` is one whole path segment, the last of the prefix;
- ``<bucket>[/<prefix>/]=<tenant>+<tenant>...``: the named tenants read everything under the prefix;
- ``<bucket>[/<prefix>/]=*``: every tenant reads everything under the prefix (sharing with all
  tenants is always written out).

A fixed prefix ends with ``/`` (``calls`` would also cover ``calls-private/``). The Diarist media
bucket is never a rule: its built-in rule (a tenant's own ``media/<tenant>/`` and
``incoming/<tenant>/``) is in ``services.inputs``; a bare media-bucket name in the list is ignored.
The deploy-time IAM grant of a rule covers ``<bucket>/<fixed part of the prefix>*`` (read only).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from diarist.domain.tenants import TENANT_ID_RULE, is_tenant_id

TENANT_PLACEHOLDER = "{tenant}"
EVERY_TENANT = "*"
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_HOW = (
    "say who may read it: '{b}/{{tenant}}/' (each tenant its own folder), "
    "'{b}=acme+globex' (these tenants) or '{b}=*' (every tenant)"
)


@dataclass(frozen=True)
class InputBucketRule:
    bucket: str
    prefix: str  # may end with "{tenant}/"
    tenants: frozenset[str] | None  # None: per-tenant folders; {"*"}: every tenant

    @classmethod
    def parse(cls, text: str) -> InputBucketRule:
        """One rule from its text form; ``ValueError`` with what is wrong and how to write it."""
        entry = text.strip()
        where, sep, who = entry.partition("=")
        bucket, _, prefix = where.partition("/")
        if not _BUCKET_RE.match(bucket) or ".." in bucket:
            raise ValueError(f"input bucket rule {entry!r}: {bucket!r} is not an S3 bucket name")
        if prefix and any(p in ("", ".", "..") for p in prefix.rstrip("/").split("/")):
            raise ValueError(f"input bucket rule {entry!r}: the prefix has an empty, '.' or '..' part")
        if prefix and not prefix.endswith("/"):
            raise ValueError(f"input bucket rule {entry!r}: end the prefix with '/'")
        if TENANT_PLACEHOLDER in prefix:
            if sep:
                raise ValueError(
                    f"input bucket rule {entry!r}: use either {{tenant}} or '=tenants', not both"
                )
            if not prefix.endswith("/" + TENANT_PLACEHOLDER + "/") and prefix != TENANT_PLACEHOLDER + "/":
                raise ValueError(
                    f"input bucket rule {entry!r}: {{tenant}} must be the last folder of the prefix"
                )
            if prefix.count(TENANT_PLACEHOLDER) != 1:
                raise ValueError(f"input bucket rule {entry!r}: {{tenant}} may appear once")
            return cls(bucket, prefix, None)
        if "{" in prefix or "}" in prefix:
            raise ValueError(f"input bucket rule {entry!r}: the only placeholder is {{tenant}}")
        if not sep:
            raise ValueError(f"input bucket rule {entry!r}: " + _HOW.format(b=where.rstrip("/")))
        names = frozenset(n.strip() for n in who.split("+"))
        if names == {EVERY_TENANT}:
            return cls(bucket, prefix, names)
        bad = sorted(n for n in names if not is_tenant_id(n))
        if bad:
            raise ValueError(f"input bucket rule {entry!r}: {bad[0]!r} is not a tenant id ({TENANT_ID_RULE})")
        return cls(bucket, prefix, names)

    @property
    def grant_prefix(self) -> str:
        """The fixed part of the prefix: what a deploy-time grant covers (``<bucket>/<this>*``)."""
        return self.prefix.split(TENANT_PLACEHOLDER, 1)[0]

    def prefix_for(self, tenant_id: str) -> str | None:
        """The key prefix ``tenant_id`` may read under this rule, or None."""
        if self.tenants is None:
            return self.prefix.replace(TENANT_PLACEHOLDER, tenant_id)
        if EVERY_TENANT in self.tenants or tenant_id in self.tenants:
            return self.prefix
        return None

    def allows(self, tenant_id: str, key: str) -> bool:
        prefix = self.prefix_for(tenant_id)
        return prefix is not None and key.startswith(prefix) and len(key) > len(prefix)

    def __str__(self) -> str:
        where = f"{self.bucket}/{self.prefix}" if self.prefix else self.bucket
        if self.tenants is None:
            return where
        return f"{where}={'+'.join(sorted(self.tenants))}"


def parse_rules(entries: Iterable[str], *, media_bucket: str | None = None) -> tuple[InputBucketRule, ...]:
    """Every rule of a list (blank entries and a bare ``media_bucket`` name skipped). A rule on the
    media bucket is refused: its tenants' uploads have their own rule."""
    rules = []
    for entry in entries:
        text = entry.strip()
        if not text or (media_bucket and text == media_bucket):
            continue
        rule = InputBucketRule.parse(text)
        if media_bucket and rule.bucket == media_bucket:
            raise ValueError(
                f"input bucket rule {text!r}: the media bucket is not configured here (each tenant "
                "reads its own media/<tenant>/ and incoming/<tenant>/ keys there)"
            )
        rules.append(rule)
    return tuple(rules)


def split_rules(text: str) -> list[str]:
    """A comma-separated list of rules, as the setting and the context option hold it."""
    return [part.strip() for part in text.split(",") if part.strip()]
