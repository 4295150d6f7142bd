"""A small Python client for the Diarist API (pyannoteAI dialect), used by the CLI and tests.

from diarist.client.api import DiaristClient
c = DiaristClient("https://api.example.com", "dk_...")
job = c.submit_file("meeting.wav", num_speakers=3)
done = c.wait(job["jobId"])
"""

from __future__ import annotations

import json
import mimetypes
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import urllib3

TERMINAL = {"succeeded", "failed", "canceled"}


class DiaristApiError(Exception):
    """The API answered with an error. ``str(e)`` is one line fit for a terminal."""

    def __init__(self, status: int, message: str, body: Any = None) -> None:
        super().__init__(f"HTTP {status}: {message}" if status else message)
        self.status = status
        self.message = message
        self.body = body


def _error_message(body: Any) -> str:
    if isinstance(body, dict):
        if isinstance(body.get("errors"), list) and body["errors"]:
            return "; ".join(
                f"{e.get('field')}: {e.get('message')}" if e.get("field") else str(e.get("message"))
                for e in body["errors"]
            )
        for key in ("message", "detail", "title", "error"):
            if body.get(key):
                v = body[key]
                return v if isinstance(v, str) else json.dumps(v)
    return str(body)[:300]


class DiaristClient:
    def __init__(self, api_url: str, api_key: str, *, timeout_s: float = 30.0) -> None:
        if not api_url:
            raise ValueError("api_url is required (flag --api-url or DIARIST_API_URL)")
        if not api_key:
            raise ValueError("api_key is required (flag --api-key or DIARIST_API_KEY)")
        self.api_url = api_url.rstrip("/")
        self.api_key = api_key
        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=10, read=timeout_s),
            retries=urllib3.Retry(
                total=3,
                backoff_factor=0.5,
                status_forcelist=(502, 503, 504),
                allowed_methods=frozenset({"GET"}),
            ),
        )

    @classmethod
    def from_env(cls, api_url: str | None = None, api_key: str | None = None) -> DiaristClient:
        return cls(
            api_url or os.environ.get("DIARIST_API_URL", ""), api_key or os.environ.get("DIARIST_API_KEY", "")
        )

    # -- plumbing -----------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        fields: dict[str, Any] | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        hdrs = {"Authorization": f"Bearer {self.api_key}", **(headers or {})}
        url = self.api_url + path
        try:
            if fields is not None:
                resp = self._http.request(method, url, fields=fields, headers=hdrs)
            else:
                data = json.dumps(body).encode() if body is not None else None
                if data is not None:
                    hdrs.setdefault("Content-Type", "application/json")
                resp = self._http.request(method, url, body=data, headers=hdrs)
        except urllib3.exceptions.HTTPError as e:
            raise DiaristApiError(0, f"cannot reach {self.api_url}: {e}") from None
        try:
            parsed: Any = json.loads(resp.data) if resp.data else None
        except ValueError:
            parsed = resp.data.decode("utf-8", "replace")
        if resp.status >= 400:
            raise DiaristApiError(resp.status, _error_message(parsed), parsed)
        return resp.status, dict(resp.headers), parsed

    # -- API --------------------------------------------------------------------------------------
    def submit_url(self, url: str, **params: Any) -> dict[str, Any]:
        body = {"url": url, **{k: v for k, v in params.items() if v is not None}}
        return self.request("POST", "/v1/diarize", body)[2]

    def voiceprint(self, url: str, **params: Any) -> dict[str, Any]:
        """``POST /v1/voiceprint``: a voiceprint job for ``url`` (<= 30 s of audio); JobCreated."""
        body = {"url": url, **{k: v for k, v in params.items() if v is not None}}
        return self.request("POST", "/v1/voiceprint", body)[2]

    def identify(
        self,
        url: str,
        voiceprints: Mapping[str, str],
        *,
        exclusive: bool = True,
        threshold: float = 0.0,
        **params: Any,
    ) -> dict[str, Any]:
        """``POST /v1/identify``: diarize ``url`` and match its speakers to ``{label: voiceprint}``
        (labels in the order given); JobCreated."""
        body = {
            "url": url,
            "voiceprints": [{"label": label, "voiceprint": vp} for label, vp in voiceprints.items()],
            "matching": {"exclusive": exclusive, "threshold": threshold},
            **{k: v for k, v in params.items() if v is not None},
        }
        return self.request("POST", "/v1/identify", body)[2]

    def upload(self, path: str | Path, progress: Callable[[int, int], None] | None = None) -> str:
        """Upload a local file through a presigned PUT URL; returns its ``media://`` URL."""
        path = Path(path)
        if not path.is_file():
            raise DiaristApiError(0, f"no such file: {path}")
        media_url = f"media://{uuid.uuid4().hex}/{path.name}"
        presigned = self.request("POST", "/v1/media/input", {"url": media_url})[2]["url"]
        size = path.stat().st_size
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"

        def chunks() -> Iterator[bytes]:
            sent = 0
            with path.open("rb") as f:
                while chunk := f.read(1 << 20):
                    sent += len(chunk)
                    if progress:
                        progress(sent, size)
                    yield chunk

        try:
            resp = self._http.request(
                "PUT",
                presigned,
                body=chunks(),
                headers={"Content-Length": str(size), "Content-Type": content_type},
                preload_content=True,
                chunked=False,
            )
        except urllib3.exceptions.HTTPError as e:
            raise DiaristApiError(0, f"upload failed: {e}") from None
        if resp.status >= 300:
            raise DiaristApiError(resp.status, f"upload failed: {resp.data[:200]!r}")
        return media_url

    def submit_file(
        self, path: str | Path, progress: Callable[[int, int], None] | None = None, **params: Any
    ) -> dict[str, Any]:
        return self.submit_url(self.upload(path, progress), **params)

    def job(self, job_id: str) -> dict[str, Any]:
        return self.request("GET", f"/v1/jobs/{job_id}")[2]

    def output(self, job: dict[str, Any]) -> dict[str, Any] | None:
        """The job's output, following ``outputUrl`` when the API did not inline it."""
        if job.get("output") is not None:
            return job["output"]
        if job.get("outputUrl"):
            resp = self._http.request("GET", job["outputUrl"])
            if resp.status >= 400:
                raise DiaristApiError(resp.status, "cannot download the result")
            return json.loads(resp.data)
        return None

    def jobs(self, limit: int = 20, cursor: str | None = None, status: str | None = None) -> dict[str, Any]:
        q = (
            [f"limit={limit}"]
            + ([f"cursor={cursor}"] if cursor else [])
            + ([f"status={status}"] if status else [])
        )
        return self.request("GET", "/v2/jobs?" + "&".join(q))[2]

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self.request("POST", f"/v1/jobs/{job_id}/cancel")[2]

    def wait(
        self,
        job_id: str,
        *,
        poll_s: float = 0.5,
        timeout_s: float | None = None,
        on_update: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s if timeout_s else None
        while True:
            job = self.job(job_id)
            if on_update:
                on_update(job)
            if job.get("status") in TERMINAL:
                return job
            if deadline and time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job.get('status')} after {timeout_s} s")
            time.sleep(poll_s)
