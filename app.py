#!/usr/bin/env python3
"""CDK app: one ``DiaristStack``. Options come from context, e.g.

    npx cdk deploy -c instanceTypes=g6.xlarge,g5.xlarge -c maxVcpus=32 -c alarmEmail=ops@example.com

All keys: infra/config.py (CONTEXT_KEYS) and docs/deploy.md.
"""

from __future__ import annotations

import os

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.config import Context
from infra.stack import DiaristStack

app = cdk.App()
ctx = Context(app.node)

# Environment-agnostic unless the CLI knows the account (credentials) or the context says so;
# an existing VPC (-c vpcId=...) needs both for the lookup (cached in cdk.context.json).
account = ctx.get_str("account") or os.environ.get("CDK_DEFAULT_ACCOUNT")
region = ctx.get_str("region") or os.environ.get("CDK_DEFAULT_REGION")
env = cdk.Environment(account=account, region=region) if account and region else None

DiaristStack(
    app,
    ctx.get_str("stackName") or "Diarist",
    env=env,
    description="Diarist: self-hosted speaker diarization (API, queues, GPU AWS Batch, webhooks)",
)
if ctx.get_bool("nag") is not False:
    cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))

app.synth()
