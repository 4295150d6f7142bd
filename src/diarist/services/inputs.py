"""Job inputs: which URLs a tenant may submit, and what the worker reads for each.

Invariants:

- ``resolve`` returns an ``s3://`` or ``https://`` URL, never ``media://``; any other URL is a
  ``ValidationFailed`` naming the request's field.
- ``media://<key>`` is the tenant's own: it names ``media/<tenant>/<key>`` in the media bucket, so a
  tenant never reaches another tenant's uploads (neither to upload, ``presign_media_upload``, nor to
  download, ``presign_media_download``). The key is 1-512 characters without empty, ``.``
  or ``..`` parts (the whole S3 key within S3's 1,024 UTF-8 bytes); at submission the object must
  exist, be non-empty and at most ``MAX_INPUT_BYTES`` (exactly that many is accepted).
- ``s3://bucket/key``: the key follows the object-key rule (``domain.locations.object_key_problem``:
  no empty, ``.`` or ``..`` parts, at most 1,024 UTF-8 bytes). In the media bucket (shared by
  tenants) only the tenant's own ``media/<tenant>/`` or ``incoming/<tenant>/`` keys; in any other
  bucket only what an input-bucket rule lets this tenant read (``domain.input_buckets``: per-tenant
  folders, named tenants, or every tenant when the operator wrote ``=*``).
- ``https://`` URLs (inputs and webhooks) pass the network policy's syntax check here, for a clear
  400 at submission; the host is checked again when resolved, before every connection
  (``netpolicy``).
- A voiceprint's input (``kind="voiceprint"``) given as ``media://`` is also checked against the
  voiceprint limits (``domain.job_kinds.voiceprint_input_problem``) as far as is cheap: its size
  (HEAD), and its duration when its first ``HEAD_BYTES`` state it (WAV, FLAC:
  ``domain.audio_header``). Other formats and other URLs are left to the worker, which fails the job
  with ``input_too_long_for_voiceprint``.
"""

from __future__ import annotations

from diarist.domain.audio_header import HEAD_BYTES, header_duration
from diarist.domain.errors import ValidationFailed
from diarist.domain.job_kinds import voiceprint_input_problem
from diarist.domain.jobs import JobKind
from diarist.domain.locations import object_key_problem, s3_url, split_s3_url
from diarist.netpolicy import UnsafeUrl, validate_url_syntax
from diarist.ports import ObjectStore
from diarist.resources import INCOMING_PREFIX, MAX_INPUT_BYTES, MEDIA_PREFIX
from diarist.settings import ApiSettings

MEDIA_SCHEME = "media://"


class InputResolver:
    def __init__(self, *, objects: ObjectStore, settings: ApiSettings) -> None:
        self.objects = objects
        self.settings = settings

    def resolve(self, tenant_id: str, url: str, field: str, kind: JobKind = "diarize") -> str:
        """Check an input URL for a ``kind`` job and return what the worker reads (s3:// or https://).
        ValidationFailed."""
        return self.resolve_sized(tenant_id, url, field, kind)[0]

    def resolve_sized(
        self, tenant_id: str, url: str, field: str, kind: JobKind = "diarize"
    ) -> tuple[str, int | None]:
        """``resolve``, and the input's size when the check learned it (a ``media://`` upload's
        HEAD), else ``None``: the job records it to pick its work lane (``domain.lanes``)."""
        if url.startswith(MEDIA_SCHEME):
            return self._resolve_media(tenant_id, url, field, kind)
        if url.startswith("s3://"):
            self._check_s3(tenant_id, url, field)
            return url, None
        if url.startswith(("https://", "http://")):
            self.check_public_url(url, field)
            return url, None
        raise ValidationFailed([{"field": field, "message": "must be an https://, s3:// or media:// URL"}])

    def check_public_url(self, url: str, field: str) -> None:
        """The network policy's syntax check (``netpolicy.validate_url_syntax``), as a 400 naming ``field``."""
        try:
            validate_url_syntax(url, self.settings)
        except UnsafeUrl as e:
            raise ValidationFailed([{"field": field, "message": e.reason}]) from None

    def presign_media_upload(self, tenant_id: str, url: str) -> str:
        """``POST /v1/media/input``: a presigned PUT for ``media://<key>``."""
        if not url.startswith(MEDIA_SCHEME):
            raise ValidationFailed([{"field": "url", "message": "must be a media://<key> URL"}])
        key = self._media_key(tenant_id, url, "url")
        return self.objects.presign_put(self.settings.media_bucket, key, self.settings.presign_expiry_s)

    def presign_media_download(self, tenant_id: str, url: str) -> str:
        """``POST /v1/media/output``: a presigned GET of the tenant's own ``media://<key>``."""
        if not url.startswith(MEDIA_SCHEME):
            raise ValidationFailed([{"field": "url", "message": "must be a media://<key> URL"}])
        key = self._media_key(tenant_id, url, "url")
        return self.objects.presign_get(self.settings.media_bucket, key, self.settings.presign_expiry_s)

    def _media_key(self, tenant_id: str, url: str, field: str) -> str:
        """``media://<key>`` -> the S3 key ``media/<tenant>/<key>`` in the media bucket."""
        key = url[len(MEDIA_SCHEME) :]
        parts = key.split("/")
        if (
            not key
            or len(key) > 512
            or key.startswith("/")
            or any(p in ("", ".", "..") for p in parts)
            or any(ord(c) < 0x20 or c in "\\\x7f" for c in key)
        ):
            raise ValidationFailed(
                [
                    {
                        "field": field,
                        "message": "media:// key must be 1-512 characters, no empty, '.' or '..' parts",
                    }
                ]
            )
        full = f"{MEDIA_PREFIX}{tenant_id}/{key}"
        problem = object_key_problem(full)
        if problem:
            raise ValidationFailed([{"field": field, "message": f"media:// key: {problem}"}])
        return full

    def _resolve_media(self, tenant_id: str, url: str, field: str, kind: JobKind) -> tuple[str, int]:
        bucket = self.settings.media_bucket
        key = self._media_key(tenant_id, url, field)
        head = self.objects.head(bucket, key)
        problem = None
        size = int(head.get("ContentLength", 0)) if head is not None else 0
        if head is None:
            problem = f"{url} was not uploaded (POST /v1/media/input, then PUT the file)"
        elif int(head.get("ContentLength", 1)) == 0:
            problem = f"{url} is empty"
        elif size > MAX_INPUT_BYTES:
            problem = f"{url} is over the 1 GiB input limit"
        elif kind == "voiceprint":
            problem = voiceprint_input_problem(size=size) or voiceprint_input_problem(
                duration_s=header_duration(self.objects.get_head(bucket, key, HEAD_BYTES), size)
            )
        if problem:
            raise ValidationFailed([{"field": field, "message": problem}])
        return s3_url(bucket, key), size

    def _check_s3(self, tenant_id: str, url: str, field: str) -> None:
        try:
            bucket, key = split_s3_url(url)
        except ValueError:
            raise ValidationFailed([{"field": field, "message": "s3 URL needs s3://bucket/key"}]) from None
        problem = object_key_problem(key)
        if problem:
            raise ValidationFailed([{"field": field, "message": problem}])
        if bucket == self.settings.media_bucket:
            if not key.startswith((f"{MEDIA_PREFIX}{tenant_id}/", f"{INCOMING_PREFIX}{tenant_id}/")):
                raise ValidationFailed(
                    [{"field": field, "message": "not one of your objects in the media bucket"}]
                )
            return
        rules = [r for r in self.settings.input_rules() if r.bucket == bucket]
        if any(r.allows(tenant_id, key) for r in rules):
            return
        yours = sorted({p for r in rules if (p := r.prefix_for(tenant_id)) is not None})
        if yours:
            where = " or ".join(f"s3://{bucket}/{p}…" for p in yours)
            message = f"in bucket {bucket!r} your inputs must be under {where}"
        else:
            message = f"bucket {bucket!r} is not an allowed input bucket for your tenant"
        raise ValidationFailed([{"field": field, "message": message}])
