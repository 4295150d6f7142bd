"""Lambda packaging without Docker (infra/packaging.py).

The real build needs PyPI (pip downloads manylinux wheels): it runs when pypi.org is reachable
and is skipped otherwise, or when DIARIST_SKIP_PACKAGING_TEST=1 (CI without network). It then
imports every handler from the built folder the way the Lambda runtime would: only the asset and
the runtime's own boto3/botocore on sys.path, no site-packages.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infra.packaging import (
    LAMBDA_PLATFORM,
    REPO_ROOT,
    RUNTIME_PROVIDED,
    build_lambda_asset,
    lambda_requirements,
    light_asset_requested,
)
from infra.service import HANDLERS

# What the AWS Lambda Python runtime ships besides the standard library.
RUNTIME_MODULES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six")


def test_requirements_come_from_pyproject_minus_the_runtime() -> None:
    reqs = lambda_requirements()
    names = {r.split(">")[0].split("<")[0].split("=")[0].strip() for r in reqs}
    assert "pydantic" in names and "aws-lambda-powertools" in names
    assert "aws-xray-sdk" in names  # Powertools' Tracer needs it; the Lambda runtime lacks it
    assert not names & RUNTIME_PROVIDED
    assert LAMBDA_PLATFORM.startswith("manylinux")


def test_light_asset_copies_sources_and_skips_unchanged_builds(tmp_path: Path) -> None:
    out = tmp_path / "lambda"
    first = build_lambda_asset(light=True, out_dir=out)
    assert (first / "diarist" / "settings.py").exists()
    assert (first / "functions" / "api" / "__init__.py").exists()
    assert not (first / "pydantic").exists()  # light: no dependencies
    # the web console's files ship with the API function (served from package data)
    static = first / "diarist" / "console" / "static"
    for name in (
        "index.html",
        "console.js",
        "formats.js",
        "timeline.js",
        "console.css",
        "vendor/wavesurfer.esm.js",
    ):
        assert (static / name).is_file(), name
    assert (static / "vendor" / "wavesurfer.LICENSE.txt").is_file()
    assert not list(first.rglob("__pycache__"))
    stamp = out.with_name("lambda.sha256").read_text()
    marker = first / "diarist" / "settings.py"
    mtime = marker.stat().st_mtime_ns
    t0 = time.perf_counter()
    again = build_lambda_asset(light=True, out_dir=out)
    assert again == first and marker.stat().st_mtime_ns == mtime  # nothing rebuilt
    assert time.perf_counter() - t0 < 2.0
    assert out.with_name("lambda.sha256").read_text() == stamp


def test_light_flag_from_env_or_context(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DIARIST_CDK_LIGHT_ASSET", raising=False)
    assert not light_asset_requested()
    assert light_asset_requested("true") and light_asset_requested(True)
    monkeypatch.setenv("DIARIST_CDK_LIGHT_ASSET", "1")
    assert light_asset_requested(None)


def _pypi_reachable() -> bool:
    try:
        with socket.create_connection(("pypi.org", 443), timeout=3):
            return True
    except OSError:
        return False


@pytest.mark.skipif(
    os.environ.get("DIARIST_SKIP_PACKAGING_TEST") == "1", reason="DIARIST_SKIP_PACKAGING_TEST=1"
)
def test_real_asset_builds_and_every_handler_imports(tmp_path: Path) -> None:
    if not _pypi_reachable():
        pytest.skip("pypi.org unreachable: the real Lambda asset needs pip downloads")
    asset = build_lambda_asset(light=False, out_dir=tmp_path / "lambda")
    assert (asset / "pydantic_core").is_dir() and (asset / "aws_lambda_powertools").is_dir()
    assert (asset / "aws_xray_sdk").is_dir()
    assert not (asset / "boto3").exists()
    size = sum(p.stat().st_size for p in asset.rglob("*") if p.is_file())
    assert size < 250 * 1024 * 1024  # Lambda's unzipped limit

    # The runtime's boto3 & co., nothing else from this venv.
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    for name in RUNTIME_MODULES:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin, name
        origin = Path(spec.origin)
        src = origin.parent if origin.name == "__init__.py" else origin
        (runtime / src.name).symlink_to(src)
    modules = [h.rsplit(".", 1)[0] for h in HANDLERS.values()]
    present = [m for m in modules if (REPO_ROOT / (m.replace(".", "/") + ".py")).exists()]
    code = (
        "import sys, importlib\n"
        f"sys.path[:0] = [{str(asset)!r}, {str(runtime)!r}]\n"
        f"for m in {present!r}:\n"
        "    mod = importlib.import_module(m)\n"
        "    assert callable(mod.lambda_handler), m\n"
        "    assert mod.__file__.startswith(sys.path[0]), mod.__file__\n"
        "import pydantic_core; assert pydantic_core.__file__.startswith(sys.path[0])\n"
        "import aws_xray_sdk; assert aws_xray_sdk.__file__.startswith(sys.path[0])\n"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "diarist",
    }
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert set(present) == set(modules), f"handlers not written yet: {sorted(set(modules) - set(present))}"
