"""End-to-end: start ``diarist local`` as a user would (a subprocess), then go through real HTTP."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from diarist.client.api import DiaristClient

REPO = Path(__file__).resolve().parents[2]


@dataclass
class LocalProcess:
    proc: subprocess.Popen[str]
    api_url: str
    api_key: str
    webhook_secret: str
    aws_endpoint: str
    lines: list[str] = field(default_factory=list)

    def client(self) -> DiaristClient:
        return DiaristClient(self.api_url, self.api_key)


def start_local(*extra: str, env: dict[str, str] | None = None, timeout_s: float = 120) -> LocalProcess:
    cmd = [
        sys.executable,
        "-m",
        "diarist",
        "local",
        "--port",
        "0",
        "--webhook-secret",
        "whs_e2e_secret_0123456789",
        *extra,
    ]
    full_env = {**os.environ, **(env or {})}
    full_env.pop("AWS_ENDPOINT_URL", None)  # local mode starts its own emulator
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    found: dict[str, str] = {}
    lines: list[str] = []
    deadline = time.monotonic() + timeout_s
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        lines.append(line)
        for key, label in (
            ("api_url", "API URL"),
            ("api_key", "API key"),
            ("secret", "Webhook secret"),
            ("aws", "AWS endpoint"),
        ):
            m = re.match(rf"\s*{label}:\s+(\S+)", line)
            if m:
                found[key] = m.group(1)
        if "Ctrl-C" in line:
            break
    if "api_url" not in found:
        proc.kill()
        raise AssertionError("local mode did not start:\n" + "".join(lines))
    # keep draining output so the child never blocks on a full pipe
    threading.Thread(target=lambda: [lines.append(x) for x in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
    return LocalProcess(
        proc, found["api_url"], found["api_key"], found["secret"], found.get("aws", ""), lines
    )


def stop_local(lp: LocalProcess) -> int:
    lp.proc.send_signal(2)  # Ctrl-C
    try:
        return lp.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        lp.proc.kill()
        raise


class Receiver(ThreadingHTTPServer):
    """A webhook receiver on loopback that records every request (headers + raw body)."""

    daemon_threads = True

    def __init__(self) -> None:
        self.received: queue.Queue[tuple[dict[str, str], bytes]] = queue.Queue()

        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.received.put((dict(self.headers.items()), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        super().__init__(("127.0.0.1", 0), H)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"

    def wait(self, timeout_s: float = 60) -> tuple[dict[str, str], dict[str, Any], bytes]:
        headers, body = self.received.get(timeout=timeout_s)
        return headers, json.loads(body), body


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.shutdown()
    r.server_close()
