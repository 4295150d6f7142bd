"""`npx cdk synth` through the CLI, exactly as a developer runs it (light asset, offline).

Started in the background when the session begins (conftest ``cli_synth``); waited for here.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from infra import outputs
from tests.infra.conftest import Synth


def test_cdk_cli_synth_offline(
    cli_synth: tuple[subprocess.Popen[str] | None, Path, str], synth: Synth
) -> None:
    # `synth` (in-process) is requested first so both run at the same time; the CLI started first.
    proc, out, why_not = cli_synth
    if proc is None:
        pytest.skip(why_not)
    try:
        log, _ = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("cdk synth took over 240 s")
    assert proc.returncode == 0, log[-4000:]
    template = json.loads((out / "Diarist.template.json").read_text())
    assert set(outputs.ALWAYS) <= set(template["Outputs"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert "Diarist" in manifest["artifacts"]
    assert "AWS::CDK::Metadata" not in {r["Type"] for r in template["Resources"].values()}


def test_cli_settings_pinned_offline_and_quiet() -> None:
    repo = Path(__file__).resolve().parents[2]
    cdk_json = json.loads((repo / "cdk.json").read_text())
    assert cdk_json["app"] == ".venv/bin/python app.py"
    assert cdk_json["notices"] is False and cdk_json["versionReporting"] is False
    assert cdk_json["context"]["cli-telemetry"] is False
    cli = json.loads((repo / "package.json").read_text())["devDependencies"]["aws-cdk"]
    assert cli.startswith("2."), "the 3.x CLI refuses aws-cdk-lib 2.x cloud assemblies"
    lock = json.loads((repo / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/aws-cdk"]["version"] == cli
    # No lookups in the default stack: synth never needs credentials or rewrites the cache.
    assert json.loads((repo / "cdk.context.json").read_text()) == {}
