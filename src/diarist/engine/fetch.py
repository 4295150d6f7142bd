"""Bring an input to local disk: a local path, ``s3://bucket/key`` (boto3, streamed to disk) or
``https://`` (streamed, size checked as it arrives). No torch here.

The https fetch goes through :data:`open_url_checked`, a replaceable callable, so the SSRF guard
(``diarist.netpolicy``) can be plugged in: ``set_url_opener(my_safe_opener)``. The opener takes
``(url, timeout_s)`` and returns a :class:`UrlResponse`-like object (``headers``, ``stream(n)``, ``close()``)
or raises :class:`~diarist.domain.errors.AudioInputError`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

from diarist.domain.errors import AudioInputError, ErrorCode
from diarist.engine.audio import check_file_size
from diarist.engine.options import InputLimits

_CHUNK = 1 << 20


class UrlResponse(Protocol):
    headers: Mapping[str, str]

    def stream(self, amt: int) -> Iterator[bytes]: ...

    def close(self) -> None: ...


class _Urllib3Response:
    def __init__(self, resp: Any) -> None:
        self._resp = resp
        self.headers: Mapping[str, str] = {str(k).lower(): str(v) for k, v in resp.headers.items()}

    def stream(self, amt: int) -> Iterator[bytes]:
        yield from self._resp.stream(amt, decode_content=False)

    def close(self) -> None:
        self._resp.release_conn()


def plain_https_opener(url: str, timeout_s: float) -> UrlResponse:
    """Default opener: https only, verified TLS, no redirects to other schemes, no decompression."""
    import urllib3

    if urlparse(url).scheme != "https":
        raise AudioInputError("only https:// URLs are accepted", code=ErrorCode.INPUT_FORBIDDEN)
    http = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=timeout_s, read=timeout_s),
        retries=urllib3.Retry(total=2, redirect=3, raise_on_redirect=True),
    )
    try:
        resp = http.request("GET", url, preload_content=False, redirect=True)
    except urllib3.exceptions.HTTPError as exc:
        raise AudioInputError(
            f"could not download the input ({type(exc).__name__})", code=ErrorCode.INPUT_UNREACHABLE
        ) from exc
    final = str(resp.geturl() or url)
    if "://" in final and not final.startswith("https://"):
        resp.release_conn()
        raise AudioInputError("the URL redirected away from https", code=ErrorCode.INPUT_FORBIDDEN)
    if resp.status != 200:
        resp.release_conn()
        raise_for_input_status(resp.status)
    return _Urllib3Response(resp)


def raise_for_input_status(status: int) -> None:
    """The coded input error for a download answered with HTTP ``status`` (anything but 200)."""
    if status in (401, 403):
        raise AudioInputError(
            f"the server refused access to the input (HTTP {status})", code=ErrorCode.INPUT_FORBIDDEN
        )
    if status != 200:
        raise AudioInputError(
            f"could not download the input (HTTP {status})", code=ErrorCode.INPUT_UNREACHABLE
        )


# the replaceable hook: (url, timeout_s) -> UrlResponse
open_url_checked: Callable[[str, float], UrlResponse] = plain_https_opener


def set_url_opener(opener: Callable[[str, float], UrlResponse] | None) -> None:
    """Install the https opener (e.g. the SSRF-guarded one); None restores the plain https opener."""
    global open_url_checked
    open_url_checked = opener or plain_https_opener


def _filename(url_path: str, default: str = "input") -> str:
    name = os.path.basename(unquote(url_path).rstrip("/")) or default
    name = "".join(c if (c.isalnum() or c in "-_.") else "_" for c in name)[:120].lstrip(".")
    return name or default


def copy_stream_limited(
    chunks: Iterator[bytes], dest: Path, limits: InputLimits, declared: int | None = None
) -> int:
    """Write ``chunks`` to ``dest``, stopping with INPUT_TOO_LARGE as soon as max_bytes is passed."""
    if declared is not None and declared > limits.max_bytes:
        raise AudioInputError(
            f"the input is {declared} bytes, over the {limits.max_bytes}-byte limit",
            code=ErrorCode.INPUT_TOO_LARGE,
        )
    total = 0
    try:
        with dest.open("wb") as f:
            for block in chunks:
                total += len(block)
                if total > limits.max_bytes:
                    raise AudioInputError(
                        f"the input is over the {limits.max_bytes}-byte limit (download stopped)",
                        code=ErrorCode.INPUT_TOO_LARGE,
                    )
                f.write(block)
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    if total == 0:
        dest.unlink(missing_ok=True)
        raise AudioInputError("the input is empty (0 bytes)", code=ErrorCode.INPUT_EMPTY)
    return total


def _fetch_https(url: str, dest_dir: Path, limits: InputLimits) -> Path:
    resp = open_url_checked(url, limits.fetch_timeout_s)
    try:
        declared = None
        raw = resp.headers.get("content-length")
        if raw is not None and str(raw).isdigit():
            declared = int(raw)
        dest = dest_dir / _filename(urlparse(url).path)
        copy_stream_limited(resp.stream(_CHUNK), dest, limits, declared)
        return dest
    except AudioInputError:
        raise
    except Exception as exc:
        raise AudioInputError(
            f"the download failed ({type(exc).__name__})", code=ErrorCode.INPUT_UNREACHABLE
        ) from exc
    finally:
        resp.close()


def _fetch_s3(url: str, dest_dir: Path, limits: InputLimits, s3_client: Any = None) -> Path:
    parsed = urlparse(url)
    bucket, key = parsed.netloc, parsed.path.lstrip("/")
    if not bucket or not key:
        raise AudioInputError(f"not an s3://bucket/key URL: {url}", code=ErrorCode.INPUT_UNREACHABLE)
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    s3 = s3_client or boto3.client("s3")
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
        size = int(head.get("ContentLength", 0))
        if size > limits.max_bytes:
            raise AudioInputError(
                f"the input is {size} bytes, over the {limits.max_bytes}-byte limit",
                code=ErrorCode.INPUT_TOO_LARGE,
            )
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        dest = dest_dir / _filename(key)
        try:
            copy_stream_limited(body.iter_chunks(_CHUNK), dest, limits)
        finally:
            body.close()
        return dest
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("403", "AccessDenied", "Forbidden"):
            raise AudioInputError(f"access to {url} was denied", code=ErrorCode.INPUT_FORBIDDEN) from exc
        raise AudioInputError(
            f"could not read {url} ({code or 'error'})", code=ErrorCode.INPUT_UNREACHABLE
        ) from exc
    except BotoCoreError as exc:
        raise AudioInputError(
            f"could not read {url} ({type(exc).__name__})", code=ErrorCode.INPUT_UNREACHABLE
        ) from exc


def fetch_input(
    url: str | Path, dest_dir: str | Path, limits: InputLimits | None = None, *, s3_client: Any = None
) -> Path:
    """Return a local file for ``url`` (a path, ``file://``, ``s3://`` or ``https://``), within ``limits``.

    Local files are used in place (not copied); remote ones are streamed into ``dest_dir``.
    """
    limits = limits or InputLimits()
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    s = str(url)
    scheme = urlparse(s).scheme.lower() if "://" in s else ""
    if scheme in ("", "file"):
        path = Path(unquote(urlparse(s).path) if scheme == "file" else s)
        check_file_size(path, limits)
        return path
    if scheme == "s3":
        return _fetch_s3(s, dest, limits, s3_client)
    if scheme == "https":
        return _fetch_https(s, dest, limits)
    raise AudioInputError(
        f"unsupported input URL scheme '{scheme}' (use a path, s3:// or https://)",
        code=ErrorCode.INPUT_FORBIDDEN,
    )


__all__ = [
    "copy_stream_limited",
    "fetch_input",
    "open_url_checked",
    "plain_https_opener",
    "raise_for_input_status",
    "set_url_opener",
]
