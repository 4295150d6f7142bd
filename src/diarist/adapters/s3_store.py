"""S3 object store (``ports.ObjectStore``). Locations are ``(bucket, key)``; ``s3://`` URLs are
parsed by ``diarist.domain.locations``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from diarist.adapters.aws import client


class S3ObjectStore:
    def __init__(self, s3: Any | None = None) -> None:
        self._s3 = s3 or client("s3")

    def put_bytes(self, bucket: str, key: str, data: bytes, content_type: str) -> None:
        self._s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)

    def get_bytes(self, bucket: str, key: str) -> bytes:
        return bytes(self._s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    def get_head(self, bucket: str, key: str, length: int) -> bytes:
        resp = self._s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{max(0, length - 1)}")
        return bytes(resp["Body"].read())

    def head(self, bucket: str, key: str) -> Mapping[str, Any] | None:
        try:
            return dict(self._s3.head_object(Bucket=bucket, Key=key))
        except ClientError as e:
            if e.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def exists(self, bucket: str, key: str) -> bool:
        return self.head(bucket, key) is not None

    def delete(self, bucket: str, key: str) -> None:
        self._s3.delete_object(Bucket=bucket, Key=key)

    def delete_prefix(self, bucket: str, prefix: str) -> int:
        n = 0
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            objs = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if objs:
                self._s3.delete_objects(Bucket=bucket, Delete={"Objects": objs})
                n += len(objs)
        return n

    def presign_get(self, bucket: str, key: str, expires_s: int) -> str:
        return str(
            self._s3.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_s
            )
        )

    def presign_put(self, bucket: str, key: str, expires_s: int, content_type: str | None = None) -> str:
        params: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if content_type:
            params["ContentType"] = content_type
        return str(self._s3.generate_presigned_url("put_object", Params=params, ExpiresIn=expires_s))
