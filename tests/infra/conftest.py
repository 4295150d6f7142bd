"""Synthesize the CDK app once per session (the first synth in a process costs ~10-20 s).

Two stacks in one App, with the cdk-nag AwsSolutions checks on both:
- ``Diarist``: what ``app.py`` deploys with no context (defaults, new VPC, spot + on-demand);
- ``DiaristCustom``: every option switched (existing VPC, on-demand only, custom domain, WAF,
  API Gateway keys, e-mail alarms, extra input buckets, destroy on delete).

The Lambda code is the *light* asset (sources only, no pip), so nothing here needs the network.
The ``cdk synth`` CLI smoke runs in a subprocess started when the session begins, in parallel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
os.environ.setdefault("JSII_DEPRECATED", "quiet")

CUSTOM_ACCOUNT = "123456789012"
CUSTOM_REGION = "eu-west-1"
EXTRA_INPUT_BUCKET = "acme-call-recordings"
# per-tenant folders under calls/, and samples/ shared with every tenant (written out)
EXTRA_INPUT_RULES = (f"{EXTRA_INPUT_BUCKET}/calls/{{tenant}}/", f"{EXTRA_INPUT_BUCKET}/samples/=*")
CUSTOM_EMBEDDING_MODEL_ID = "pipeline-embedding-0123456789ab"
CUSTOM_MAX_ACTIVE_JOBS, CUSTOM_REQUESTS_PER_MINUTE = 20, 120  # per-tenant limit defaults
WEB_ACL_ARN = f"arn:aws:wafv2:{CUSTOM_REGION}:{CUSTOM_ACCOUNT}:regional/webacl/diarist/abc"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.infra)


@dataclass
class Synth:
    templates: dict[str, dict[str, Any]]  # stack name -> template JSON
    stacks: dict[str, Any]  # stack name -> DiaristStack
    findings: list[str]  # unsuppressed cdk-nag errors and warnings, "<rule> <path>"

    def resources(self, stack: str, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.templates[stack]["Resources"].items() if v["Type"] == type_}

    def one(self, stack: str, type_: str) -> tuple[str, dict[str, Any]]:
        found = self.resources(stack, type_)
        assert len(found) == 1, f"expected one {type_} in {stack}, found {sorted(found)}"
        return next(iter(found.items()))


def cdk_json_context() -> dict[str, Any]:
    """Feature flags exactly as the CLI passes them (cdk.json), so tests see the deployed template."""
    return dict(json.loads((REPO / "cdk.json").read_text())["context"])


def _violations(outdir: Path) -> list[str]:
    """One line per violation of the validation report CDK writes when annotations are errors."""
    lines = []
    for report in outdir.glob("**/validation-report.json"):
        for plugin in json.loads(report.read_text()).get("pluginReports", []):
            for v in plugin.get("violations", []):
                paths = [c.get("constructPath") for c in v.get("violatingConstructs", [])]
                lines.append(f"{str(v.get('description', ''))[:160]} at {paths}")
    return lines


def _cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    env.update(
        DIARIST_CDK_LIGHT_ASSET="1",
        AWS_EC2_METADATA_DISABLED="true",  # no credentials here: don't wait for instance metadata
        CDK_DISABLE_CLI_TELEMETRY="true",
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="18,20",
    )
    return env


@pytest.fixture(scope="session")
def cli_synth(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[subprocess.Popen[str] | None, Path, str]]:
    """``npx cdk synth`` started right away in the background; the smoke test waits for it."""
    out = tmp_path_factory.mktemp("cdk-cli-out")
    cdk = REPO / "node_modules" / ".bin" / "cdk"
    if not cdk.exists() or shutil.which("node") is None:
        yield None, out, "node_modules/.bin/cdk missing: run `npm install` (or `npm ci`) at the repo root"
        return
    if not (REPO / ".venv" / "bin" / "python").exists():
        yield None, out, "cdk.json runs .venv/bin/python: create the virtualenv at the repo root"
        return
    proc = subprocess.Popen(
        # cdk-nag is checked in-process (test_nag.py); skipping it here saves CPU the two share.
        [str(cdk), "synth", "--no-notices", "-q", "-o", str(out), "-c", "lightAsset=true", "-c", "nag=false"],
        cwd=REPO,
        env=_cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield proc, out, ""
    if proc.poll() is None:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def synth(cli_synth: object, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    import aws_cdk as cdk
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk.assertions import Annotations, Match
    from cdk_nag import AwsSolutionsChecks

    from infra.packaging import build_lambda_asset
    from infra.props import ApiProps, DiaristServiceProps, GpuProps
    from infra.stack import DiaristStack

    build_lambda_asset(light=True)
    app = cdk.App(
        outdir=str(tmp_path_factory.mktemp("cdk-out")),
        context={**cdk_json_context(), "aws:cdk:disable-asset-staging": True, "lightAsset": True},
    )
    default = DiaristStack(app, "Diarist")

    def custom_props(stack: cdk.Stack) -> DiaristServiceProps:
        vpc = ec2.Vpc.from_vpc_attributes(
            stack,
            "ExistingVpc",
            vpc_id="vpc-0123456789abcdef0",
            availability_zones=[f"{CUSTOM_REGION}a", f"{CUSTOM_REGION}b"],
            private_subnet_ids=["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
            private_subnet_route_table_ids=["rtb-0aaaaaaaaaaaaaaa1", "rtb-0aaaaaaaaaaaaaaa2"],
        )
        return DiaristServiceProps(
            vpc=vpc,
            gpu=GpuProps(instance_types=("g6.2xlarge",), spot=False, max_vcpus=32),
            api=ApiProps(
                domain_name="diarist.example.com",
                certificate_arn=f"arn:aws:acm:{CUSTOM_REGION}:{CUSTOM_ACCOUNT}:certificate/0000",
                hosted_zone_id="Z0123456789ABCDEFGHIJ",
                hosted_zone_name="example.com",
                web_acl_arn=WEB_ACL_ARN,
                require_api_gateway_key=True,
                quota_per_day=None,
                reserved_concurrency=50,
                max_active_jobs_per_tenant=CUSTOM_MAX_ACTIVE_JOBS,
                requests_per_minute_per_tenant=CUSTOM_REQUESTS_PER_MINUTE,
            ),
            retention_days=7,
            allowed_input_buckets=EXTRA_INPUT_RULES,
            alarm_email="ops@example.com",
            removal_policy=cdk.RemovalPolicy.DESTROY,
            engine_model="community-1",  # e.g. a prebuilt image that bakes community-1
            embedding_model_id=CUSTOM_EMBEDDING_MODEL_ID,  # ... and says its embedding model's id
        )

    custom_stack = DiaristStack(
        app,
        "DiaristCustom",
        service_props=custom_props,
        env=cdk.Environment(account=CUSTOM_ACCOUNT, region=CUSTOM_REGION),
    )
    cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))

    stacks = {"Diarist": default, "DiaristCustom": custom_stack}
    try:
        assembly = app.synth()
    except RuntimeError as e:  # cdk-nag errors fail synthesis: show what they were
        pytest.fail(f"cdk synth failed: {e}\n" + "\n".join(_violations(Path(app.outdir))))
    templates = {name: assembly.get_stack_by_name(name).template for name in stacks}
    findings: list[str] = []
    for stack in stacks.values():
        ann = Annotations.from_stack(stack)
        for msg in [*ann.find_error("*", Match.any_value()), *ann.find_warning("*", Match.any_value())]:
            findings.append(f"{str(msg.entry.data).split(':')[0]} {msg.id}")
    return Synth(templates=templates, stacks=stacks, findings=findings)
