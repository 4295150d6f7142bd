"""``s3://`` inputs: what a tenant may read in the operator's buckets is what a rule says
(per-tenant folders, named tenants, or every tenant when written out), and every key follows the
object-key rule (no ``..`` or empty parts, at most 1,024 UTF-8 bytes)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.conftest import Api

pytestmark = pytest.mark.integration

RULES = "calls-bucket/rec/{tenant}/,team-bucket/shared/=tenant-a,public-samples=*"


@pytest.fixture
def ruled(api: Api, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    from diarist.settings import load
    from functions.api import deps

    monkeypatch.setenv("DIARIST_ALLOWED_INPUT_BUCKETS", RULES)
    load.cache_clear()
    deps.reset()
    yield api
    load.cache_clear()
    deps.reset()


def _submit(api: Api, url: str, token: str | None = None):
    return api.call("POST", "/v1/diarize", body={"url": url}, token=token or api.key_a)


@pytest.mark.parametrize(
    ("url", "tenant_a", "tenant_b"),
    [
        ("s3://calls-bucket/rec/tenant-a/2026/a.wav", True, False),
        ("s3://calls-bucket/rec/tenant-b/a.wav", False, True),
        ("s3://calls-bucket/rec/tenant-a", False, False),  # the folder name, not under it
        ("s3://calls-bucket/other/tenant-a/a.wav", False, False),
        ("s3://team-bucket/shared/a.wav", True, False),  # named: tenant-a only
        ("s3://team-bucket/private/a.wav", False, False),
        ("s3://public-samples/any/where.wav", True, True),  # written out: every tenant
        ("s3://unlisted-bucket/tenant-a/a.wav", False, False),
    ],
)
def test_who_may_read_what(ruled: Api, url: str, tenant_a: bool, tenant_b: bool) -> None:
    for token, allowed in ((ruled.key_a, tenant_a), (ruled.key_b, tenant_b)):
        r = _submit(ruled, url, token)
        assert (r.status == 200) is allowed, (url, token == ruled.key_a, r.body)
        if not allowed:
            assert r.status == 400 and r.fields() == ["url"], r.body


def test_the_refusal_shows_only_the_callers_own_prefix(ruled: Api) -> None:
    r = _submit(ruled, "s3://calls-bucket/rec/tenant-b/a.wav")
    (error,) = r.body["errors"]
    assert "s3://calls-bucket/rec/tenant-a/" in error["message"] and "tenant-b" not in error["message"]
    r = _submit(ruled, "s3://team-bucket/shared/a.wav", ruled.key_b)
    assert (
        r.body["errors"][0]["message"]
        == "bucket 'team-bucket' is not an allowed input bucket for your tenant"
    )


@pytest.mark.parametrize(
    "key",
    [
        "rec/tenant-a/../tenant-b/a.wav",
        "rec/tenant-a//a.wav",
        "rec/tenant-a/./a.wav",
        "rec/tenant-a/a.wav/",
        "rec/tenant-a/" + "é" * 506,  # 13 + 1,012 bytes: over 1,024
    ],
)
def test_keys_with_dot_parts_or_over_1024_bytes_are_refused(ruled: Api, key: str) -> None:
    r = _submit(ruled, f"s3://calls-bucket/{key}")
    assert r.status == 400 and r.fields() == ["url"], r.body


def test_a_key_of_exactly_1024_bytes_is_accepted(ruled: Api) -> None:
    key = "rec/tenant-a/" + "a" * (1024 - len("rec/tenant-a/"))
    assert len(key.encode()) == 1024
    assert _submit(ruled, f"s3://calls-bucket/{key}").status == 200


def test_media_bucket_keys_follow_the_same_rule(api: Api) -> None:
    media = api.resources.media_bucket
    assert _submit(api, f"s3://{media}/media/tenant-a/a.wav").status == 200
    for key in (
        "media/tenant-a/../tenant-b/a.wav",
        "media/tenant-a//a.wav",
        "incoming/tenant-a/" + "é" * 600,
    ):
        r = _submit(api, f"s3://{media}/{key}")
        assert r.status == 400 and r.fields() == ["url"], (key, r.body)
    # without any rule, no other bucket is readable
    assert _submit(api, "s3://public-samples/a.wav").status == 400


def test_media_key_over_1024_bytes_is_refused(api: Api) -> None:
    r = api.call("POST", "/v1/media/input", body={"url": "media://" + "é" * 510})  # 510 chars, 1,020 bytes
    assert r.status == 400 and r.fields() == ["url"] and "1024-byte" in r.body["errors"][0]["message"]
