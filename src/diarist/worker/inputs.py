"""Input fetching for the worker: the engine's fetcher, with https downloads made SSRF-safe.

``s3://`` inputs are streamed to disk by the engine's fetcher with our boto3 client. ``https://``
inputs are user-supplied URLs: they go through ``diarist.netpolicy.safe_request`` (no private
or metadata addresses, no DNS rebinding, every redirect re-checked) under the worker's
``NetworkPolicySettings``, installed as the engine fetcher's URL opener.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from diarist.domain.errors import AudioInputError, ErrorCode
from diarist.settings import NetworkPolicySettings

MAX_REDIRECTS = 3


class _SafeUrlResponse:
    def __init__(self, resp: Any) -> None:
        self._resp = resp
        self.headers = resp.headers

    def stream(self, amt: int) -> Iterator[bytes]:
        from diarist.netpolicy import FetchError

        try:
            yield from self._resp.iter_content(amt)
        except FetchError as e:
            code = ErrorCode.INPUT_TOO_LARGE if e.kind == "too_large" else ErrorCode.INPUT_UNREACHABLE
            raise AudioInputError(f"the download failed ({e})", code=code) from None

    def close(self) -> None:
        self._resp.close()


def ssrf_safe_opener(policy: NetworkPolicySettings) -> Any:
    """An ``(url, timeout_s) -> UrlResponse`` opener for ``diarist.engine.fetch.set_url_opener``."""

    def open_url(url: str, timeout_s: float) -> _SafeUrlResponse:
        from diarist.netpolicy import FetchError, UnsafeUrl, safe_request

        try:
            resp = safe_request(
                "GET",
                url,
                timeout=max(timeout_s, 3600.0),  # the whole download
                idle_timeout=timeout_s,  # connect and each read
                policy=policy,
                stream=True,
                max_redirects=MAX_REDIRECTS,
            )
        except UnsafeUrl as e:
            raise AudioInputError(
                f"the input URL is not allowed: {e.reason}", code=ErrorCode.INPUT_FORBIDDEN
            ) from None
        except FetchError as e:
            raise AudioInputError(
                f"could not download the input ({e})", code=ErrorCode.INPUT_UNREACHABLE
            ) from None
        if resp.status != 200:
            from diarist.engine.fetch import raise_for_input_status

            resp.close()
            raise_for_input_status(resp.status)
        return _SafeUrlResponse(resp)

    return open_url


_installed: list[NetworkPolicySettings] = []


def fetch(url: str, dest_dir: Path, s3_client: Any, policy: NetworkPolicySettings | None = None) -> Path:
    """Bring the input to local disk within the engine's input limits."""
    from diarist.engine import InputLimits, fetch_input

    if policy is not None and url.startswith("https://") and (not _installed or _installed[0] is not policy):
        from diarist.engine.fetch import set_url_opener

        set_url_opener(ssrf_safe_opener(policy))
        _installed[:] = [policy]
    return Path(fetch_input(url, dest_dir, InputLimits(), s3_client=s3_client))
