"""Shared fixtures: a moto server the suite starts itself (127.0.0.1, a free port, fake creds).

Integration tests take ``aws`` (a fresh, provisioned emulator per test, with DIARIST_* env set)
and call the real handlers with real event shapes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data" / "diarization-dev"

# Never talk to a real AWS account from the tests, whatever the developer's shell has.
for _var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_var, None)
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ["AWS_REGION"] = "us-east-1"
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "diarist-tests")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "DiaristTests")
os.environ["POWERTOOLS_TRACE_DISABLED"] = "true"
os.environ["PYANNOTE_METRICS_ENABLED"] = "0"
os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    from diarist.local.emulator import make_writes_atomic

    make_writes_atomic()  # as DynamoDB: one conditional write at a time wins (local mode does the same)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    yield endpoint
    server.stop()
    os.environ.pop("AWS_ENDPOINT_URL", None)


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch):
    """A clean emulator with every Diarist resource provisioned and DIARIST_* set in the environment."""
    import urllib.request

    from diarist.adapters.aws import reset_clients
    from diarist.local.provision import provision
    from diarist.settings import load

    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).read()
    reset_clients()
    load.cache_clear()
    resources = provision()
    for key, value in resources.env().items():
        monkeypatch.setenv(key, value)
    yield resources
    load.cache_clear()
    reset_clients()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"dev set not found at {SHARED_DATA}")
    return SHARED_DATA
