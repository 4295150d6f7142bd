"""``diarist local --data-dir D`` writes ``D/local.env``; the admin commands, run as a user would in
another shell (a subprocess) with ``--env-file D/local.env``, reach the running local mode: a key
created there authenticates, a limit set there is enforced by the running API (429 + headers)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import urllib3

from tests.e2e.conftest import REPO, start_local, stop_local

pytestmark = pytest.mark.e2e


def diarist(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DIARIST_"))}
    env["AWS_ACCESS_KEY_ID"] = env["AWS_SECRET_ACCESS_KEY"] = "not-the-local-ones"
    return subprocess.run(
        [sys.executable, "-m", "diarist", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_admin_commands_with_env_file_reach_the_running_local_mode(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    lp = start_local(
        "--engine",
        "fake",
        "--data-dir",
        str(data_dir),
        env={
            "DIARIST_FAKE_BEHAVIOUR": "slow",
            "DIARIST_FAKE_SLOW_S": "60",
            "DIARIST_TENANT_LIMITS_CACHE_TTL_S": "0",
        },
    )
    try:
        env_file = data_dir / "local.env"
        assert f"Admin env file: {env_file}" in "".join(lp.lines)
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        text = env_file.read_text()
        assert f"AWS_ENDPOINT_URL={lp.aws_endpoint}" in text and "DIARIST_TABLE_NAME=" in text

        # without the env file there is nothing to talk to: a clear error, not a traceback
        bare = diarist("tenants", "show", "--tenant", "acme")
        assert bare.returncode != 0 and "DIARIST_TABLE_NAME" in bare.stderr, bare.stderr
        missing = diarist("tenants", "show", "--tenant", "acme", "--env-file", str(tmp_path / "nope.env"))
        assert missing.returncode != 0 and "no such file" in missing.stderr

        created = diarist("keys", "create", "--tenant", "acme", "--json", "--env-file", str(env_file))
        assert created.returncode == 0, created.stderr
        key = json.loads(created.stdout)["api_key"]
        limited = diarist(
            "tenants", "set-limits", "--tenant", "acme", "--requests-per-minute", "4",
            "--max-active-jobs", "1", "--env-file", str(env_file),
        )  # fmt: skip
        assert limited.returncode == 0, limited.stderr
        bad = diarist(
            "tenants",
            "set-limits",
            "--tenant",
            "acme",
            "--max-active-jobs",
            "-3",
            "--env-file",
            str(env_file),
        )
        assert bad.returncode == 2 and "--max-active-jobs" in bad.stderr

        http = urllib3.PoolManager(retries=False)  # urllib3 would wait out a 429's Retry-After itself
        auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        body = json.dumps({"url": "http://127.0.0.1:9/a.wav"}).encode()
        first = http.request("POST", f"{lp.api_url}/v1/diarize", body=body, headers=auth)
        assert first.status == 200, first.data
        assert first.headers["X-RateLimit-Limit"] == "4" and first.headers["X-RateLimit-Remaining"] == "3"
        second = http.request("POST", f"{lp.api_url}/v1/diarize", body=body, headers=auth)
        assert second.status == 429 and b"too many active jobs" in second.data
        assert second.headers["Retry-After"] == "30"

        shown = diarist("tenants", "show", "--tenant", "acme", "--json", "--env-file", str(env_file))
        assert shown.returncode == 0, shown.stderr
        usage = json.loads(shown.stdout)
        assert usage["max_active_jobs"] == {"in_effect": 1, "override": 1, "default": 0, "used": 1}
        assert usage["requests_per_minute"]["in_effect"] == 4 and usage["requests_per_minute"]["used"] == 2

        # up to 4 per minute (a new UTC minute may start meanwhile: the count starts again)
        replies = []
        while len(replies) < 10 and (not replies or replies[-1].status == 200):
            replies.append(http.request("GET", f"{lp.api_url}/v1/test", headers=auth))
        over = replies[-1]
        assert over.status == 429, [(r.status, dict(r.headers)) for r in replies]
        left = [int(r.headers["X-RateLimit-Remaining"]) for r in replies[:-1]]
        assert left[-1] == 0 and left == sorted(left, reverse=True) and len(left) <= 4, left
        assert over.headers["X-RateLimit-Remaining"] == "0" and int(over.headers["Retry-After"]) >= 1
        assert int(over.headers["X-RateLimit-Reset"]) % 60 == 0
        assert json.loads(over.data)["message"].startswith("rate limit exceeded")
        # the local tenant is not limited by acme's overrides (local mode has no default limits)
        local = http.request(
            "GET", f"{lp.api_url}/v1/test", headers={"Authorization": f"Bearer {lp.api_key}"}
        )
        assert local.status == 200 and "X-RateLimit-Limit" not in local.headers
    finally:
        stop_local(lp)
