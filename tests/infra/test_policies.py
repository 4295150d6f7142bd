"""Least privilege, checked on every IAM statement of both templates.

Unavoidable ``Resource: "*"`` (actions with no resource-level permissions):
- ``xray:PutTraceSegments``, ``xray:PutTelemetryRecords``: active tracing on the functions;
- ``ecr:GetAuthorizationToken``: the Batch execution role pulling the worker image.
Everything else names this stack's resources (wildcards only inside an ARN: object key prefixes,
the table's indexes, webhook secrets under their prefix, Batch job ids).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from diarist import resources
from tests.infra.conftest import EXTRA_INPUT_BUCKET, Synth

STAR_RESOURCE_ALLOWED = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "ecr:GetAuthorizationToken",
    "batch:DescribeJobs",  # the sweeper asks about a silent job's worker; no resource types exist
}
MANAGED_POLICIES_ALLOWED = {
    "AmazonEC2ContainerServiceforEC2Role",  # Batch instance role (ECS agent)
    "AmazonAPIGatewayPushToCloudWatchLogs",  # API Gateway account logging role
    "AWSLambdaBasicExecutionRole",  # CDK's BucketNotifications custom resource
}


def _listify(x: Any) -> list[Any]:
    return x if isinstance(x, list) else [x]


def _statements(synth: Synth) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for stack, template in synth.templates.items():
        for lid, res in template["Resources"].items():
            if res["Type"] == "AWS::IAM::Policy":
                for s in res["Properties"]["PolicyDocument"]["Statement"]:
                    yield stack, lid, s
            if res["Type"] == "AWS::IAM::Role":
                for policy in res["Properties"].get("Policies", []):
                    for s in policy["PolicyDocument"]["Statement"]:
                        yield stack, lid, s


def _policy_of(synth: Synth, stack: str, role_fragment: str) -> list[dict[str, Any]]:
    out = []
    for lid, res in synth.resources(stack, "AWS::IAM::Policy").items():
        if role_fragment in lid:
            out += res["Properties"]["PolicyDocument"]["Statement"]
    assert out, f"no policy for {role_fragment}"
    return out


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    return {a for s in statements for a in _listify(s["Action"])}


def test_no_wildcard_actions(synth: Synth) -> None:
    for stack, lid, s in _statements(synth):
        for action in _listify(s["Action"]):
            assert action != "*" and not action.endswith(":*"), f"{stack}/{lid}: {action}"


def test_star_resources_only_for_actions_without_resource_level_permissions(synth: Synth) -> None:
    for stack, lid, s in _statements(synth):
        if s["Effect"] == "Allow" and "*" in _listify(s.get("Resource", [])):
            extra = set(_listify(s["Action"])) - STAR_RESOURCE_ALLOWED
            assert not extra, f"{stack}/{lid}: {sorted(extra)} on Resource '*'"


def test_only_documented_aws_managed_policies(synth: Synth) -> None:
    for template in synth.templates.values():
        for res in template["Resources"].values():
            if res["Type"] == "AWS::IAM::Role":
                for arn in res["Properties"].get("ManagedPolicyArns", []):
                    name = str(arn).rsplit("/", 1)[-1].strip("\"']}")
                    assert any(name.endswith(p) for p in MANAGED_POLICIES_ALLOWED), arn


def test_dispatcher_submits_only_to_its_queue_and_definition(synth: Synth) -> None:
    statements = _policy_of(synth, "Diarist", "DispatcherFunctionRole")
    (submit,) = [s for s in statements if "batch:SubmitJob" in _listify(s["Action"])]
    assert submit["Action"] == "batch:SubmitJob"
    refs = [next(iter(r.values())) for r in submit["Resource"]]
    assert any("JobQueue" in str(r) for r in refs) and any("JobDefinition" in str(r) for r in refs)
    assert "s3:GetObject" not in _actions(statements)  # the dispatcher never touches media


def test_webhook_reads_only_secrets_under_the_prefix(synth: Synth) -> None:
    statements = _policy_of(synth, "Diarist", "WebhookFunctionRole")
    (secrets,) = [
        s for s in statements if any(a.startswith("secretsmanager:") for a in _listify(s["Action"]))
    ]
    assert secrets["Action"] == "secretsmanager:GetSecretValue"
    assert f":secret:{resources.WEBHOOK_SECRET_PREFIX}*" in str(secrets["Resource"])
    for stack in synth.templates:
        for role in ("ApiFunctionRole", "DispatcherFunctionRole", "IngestFunctionRole", "GpuJobRole"):
            assert not any(a.startswith("secretsmanager:") for a in _actions(_policy_of(synth, stack, role)))


def test_s3_access_is_prefix_scoped_and_extra_buckets_read_only(synth: Synth) -> None:
    object_scopes = (
        *(f"/{p}*" for p in (resources.INCOMING_PREFIX, resources.MEDIA_PREFIX, resources.RESULTS_PREFIX)),
        f":::{EXTRA_INPUT_BUCKET}/calls/*",
        f":::{EXTRA_INPUT_BUCKET}/samples/*",
    )
    for stack, lid, s in _statements(synth):
        actions = [a for a in _listify(s["Action"]) if a.startswith("s3:")]
        if not actions or "Custom::" in lid or "NotificationsHandler" in lid:
            continue
        if actions == ["s3:ListBucket"]:
            assert "s3:prefix" in str(s["Condition"]), (stack, lid)
            continue
        for resource in _listify(s["Resource"]):
            assert any(scope in str(resource).replace('", "', "") for scope in object_scopes), (
                stack,
                lid,
                resource,
            )
    for role in ("GpuJobRole", "ApiFunctionRole"):
        # read-only, and only under the rules' prefixes: never the whole bucket
        extra = [
            s for s in _policy_of(synth, "DiaristCustom", role) if EXTRA_INPUT_BUCKET in str(s["Resource"])
        ]
        assert [s["Action"] for s in extra] == ["s3:GetObject"], role
        scopes = sorted(
            str(r).split(":::")[-1].split("'")[0]
            for s in extra
            for r in _listify(s["Resource"])
            if EXTRA_INPUT_BUCKET in str(r)
        )
        assert scopes == [f"{EXTRA_INPUT_BUCKET}/calls/*", f"{EXTRA_INPUT_BUCKET}/samples/*"], (role, scopes)
        # no rule, no grant (the default stack)
        assert not [s for s in _policy_of(synth, "Diarist", role) if ":::" in str(s.get("Resource"))]
    ingest = _policy_of(synth, "Diarist", "IngestFunctionRole")
    assert not {"s3:PutObject", "s3:DeleteObject"} & _actions(ingest)


def test_each_function_writes_only_its_own_log_group(synth: Synth) -> None:
    for lid, res in synth.resources("Diarist", "AWS::IAM::Policy").items():
        for s in res["Properties"]["PolicyDocument"]["Statement"]:
            if "logs:PutLogEvents" in _listify(s["Action"]):
                (resource,) = _listify(s["Resource"])
                assert "Fn::GetAtt" in resource and resource["Fn::GetAtt"][1] == "Arn", lid


def test_batch_terminate_only_on_jobs_this_stacks_launcher_tagged(synth: Synth) -> None:
    """TerminateJob on job/* would stop any Batch job in the account: it is conditioned on the tag
    the launcher puts on every job it submits (the same key, and the queue ARN it is given)."""
    from diarist.domain.launches import LAUNCH_TAG_KEYS, TAG_JOB_QUEUE

    for stack in synth.templates:
        env_of = {
            lid: res["Properties"].get("Environment", {}).get("Variables", {})
            for lid, res in synth.resources(stack, "AWS::Lambda::Function").items()
        }
        # cancel stops no container (a drain worker runs other jobs): only the sweeper terminates
        for role, function in (("SweeperFunctionRole", "SweeperFunction"),):
            statements = _policy_of(synth, stack, role)
            (terminate,) = [s for s in statements if "batch:TerminateJob" in _listify(s["Action"])]
            assert terminate["Action"] == "batch:TerminateJob"
            condition = terminate["Condition"]["StringEquals"]
            assert list(condition) == [f"aws:ResourceTag/{TAG_JOB_QUEUE}"], terminate
            # the value is the queue the function's launcher tags its jobs with
            (env,) = [v for lid, v in env_of.items() if function in lid and "Dlq" not in lid]
            assert condition[f"aws:ResourceTag/{TAG_JOB_QUEUE}"] == env["DIARIST_BATCH_JOB_QUEUE"]
            assert env["DIARIST_BATCH_JOB_QUEUE"]["Fn::GetAtt"][1] == "JobQueueArn"
        # tagging at submit (the dispatcher and the sweeper launch workers): only the Diarist keys,
        # and the queue tag only with this queue
        for role in ("DispatcherFunctionRole", "SweeperFunctionRole"):
            (tag,) = [
                s for s in _policy_of(synth, stack, role) if "batch:TagResource" in _listify(s["Action"])
            ]
            assert tag["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"] == list(LAUNCH_TAG_KEYS)
            assert tag["Condition"]["StringEquals"] == {
                f"aws:RequestTag/{TAG_JOB_QUEUE}": condition[f"aws:ResourceTag/{TAG_JOB_QUEUE}"]
            }
        # no other role may tag or terminate Batch jobs
        for lid, _, s in [(lid, st, s) for st, lid, s in _statements(synth) if st == stack]:
            actions = set(_listify(s["Action"]))
            if "batch:TerminateJob" in actions:
                assert "SweeperFunctionRole" in lid, lid
            if "batch:TagResource" in actions:
                assert "DispatcherFunctionRole" in lid or "SweeperFunctionRole" in lid, lid


# The role each function (and the worker) runs as, by a fragment of its logical id.
TABLE_ROLES = {
    "api": "ApiFunctionRole",
    "dispatcher": "DispatcherFunctionRole",
    "dispatcher_dlq": "DispatchDlqFunctionRole",
    "ingest": "IngestFunctionRole",
    "batch_events": "BatchEventsFunctionRole",
    "webhook": "WebhookFunctionRole",
    "sweeper": "SweeperFunctionRole",
    "worker": "GpuJobRole",
}


def _table_grants(statements: list[dict[str, Any]]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(item family prefix -> operations on the table, index name -> partition prefixes queried),
    read back from the statements; fails on any DynamoDB statement that is not of that shape."""
    items: dict[str, set[str]] = {}
    index: dict[str, set[str]] = {}
    for s in statements:
        actions = [a for a in _listify(s["Action"]) if a.startswith("dynamodb:")]
        if not actions:
            continue
        assert len(actions) == len(_listify(s["Action"])), s  # DynamoDB statements are on their own
        condition = s.get("Condition", {})
        assert condition.get("Null") == {"dynamodb:LeadingKeys": "false"}, s
        prefixes = _listify(condition["ForAllValues:StringLike"]["dynamodb:LeadingKeys"])
        assert all(p.endswith("*") and "*" not in p[:-1] for p in prefixes), s
        (resource,) = _listify(s["Resource"])
        text = str(resource)
        if "/index/" in text:
            names = [
                n
                for n in (resources.TABLE_GSI_TENANT, resources.TABLE_GSI_STATE)
                if text.endswith(f"/index/{n}']]}}")
            ]
            assert len(names) == 1, text  # a named index only
            (name,) = names
            assert actions == ["dynamodb:Query"], s
            index.setdefault(name, set()).update(p[:-1] for p in prefixes)
        else:
            assert "Table" in text and "GetAtt" in text, text
            (prefix,) = prefixes
            items.setdefault(prefix[:-1], set()).update(a.split(":", 1)[1] for a in actions)
    return items, index


def test_table_access_is_per_role_and_item_family(synth: Synth) -> None:
    """Each role gets exactly its ``infra.table_access`` entry: the GPU worker (which decodes
    untrusted audio) can touch job items and the fleet item only, only the API reads API-key items (get only),
    nobody may Scan or query the API keys' index partition."""
    from infra import table_access

    assert set(TABLE_ROLES) == set(table_access.BY_ROLE)
    for stack in synth.templates:
        for role, fragment in TABLE_ROLES.items():
            expected = table_access.BY_ROLE[role]
            items, index = _table_grants(_policy_of(synth, stack, fragment))
            assert items == {p: set(ops) for p, ops in expected.items.items()}, (stack, role, items)
            assert index.get(resources.TABLE_GSI_TENANT, set()) == set(expected.index_queries), (stack, role)
            assert index.get(resources.TABLE_GSI_STATE, set()) == set(expected.state_queries), (stack, role)
    worker, _ = _table_grants(_policy_of(synth, "Diarist", "GpuJobRole"))
    assert set(worker) == {resources.JOB_KEY_PREFIX, resources.FLEET_KEY_PREFIX}
    assert worker[resources.JOB_KEY_PREFIX] == worker[resources.FLEET_KEY_PREFIX] == {"GetItem", "UpdateItem"}
    everything = {
        a for _, _, s in _statements(synth) for a in _listify(s["Action"]) if a.startswith("dynamodb:")
    }
    assert everything <= {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
    }


def test_the_api_writes_results_only_under_results(synth: Synth) -> None:
    """The API stores a large output's rendering and a voiceprint comparison's scores in the results
    bucket itself: PutObject there, scoped to results/ (the object-scope test above)."""
    api = _policy_of(synth, "Diarist", "ApiFunctionRole")
    puts = [s for s in api if "s3:PutObject" in _listify(s["Action"])]
    assert any(f"/{resources.RESULTS_PREFIX}*" in str(s["Resource"]).replace('", "', "") for s in puts), puts
