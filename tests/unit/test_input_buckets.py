"""The input-bucket rules (``domain.input_buckets``): every rule says who may read, and nothing more."""

from __future__ import annotations

import pytest

from diarist.domain.input_buckets import InputBucketRule, parse_rules, split_rules
from diarist.domain.locations import MAX_S3_KEY_BYTES, object_key_problem


def test_per_tenant_folders() -> None:
    rule = InputBucketRule.parse("acme-recordings/calls/{tenant}/")
    assert rule.allows("acme", "calls/acme/2026/a.wav")
    assert not rule.allows("acme", "calls/globex/a.wav")
    assert not rule.allows("ac", "calls/acme/a.wav")  # a prefix of another tenant's name
    assert not rule.allows("acme", "calls/acme/")  # the folder itself is no object
    assert not rule.allows("acme", "other/acme/a.wav")
    assert rule.grant_prefix == "calls/" and str(rule) == "acme-recordings/calls/{tenant}/"
    top = InputBucketRule.parse("rec-bucket/{tenant}/")
    assert top.allows("acme", "acme/x.wav") and not top.allows("acme", "globex/x.wav")
    assert top.grant_prefix == ""


def test_named_tenants_and_every_tenant() -> None:
    named = InputBucketRule.parse("shared-calls/team/=acme+globex")
    assert named.allows("acme", "team/x.wav") and named.allows("globex", "team/y/z.wav")
    assert not named.allows("initech", "team/x.wav")
    assert not named.allows("acme", "teamwork/x.wav")
    assert str(named) == "shared-calls/team/=acme+globex"
    everyone = InputBucketRule.parse("public-samples=*")
    assert everyone.allows("anyone", "a/b.wav") and everyone.grant_prefix == ""
    assert str(everyone) == "public-samples=*"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("my-bucket", "say who may read it"),  # no implicit sharing any more
        ("my-bucket/calls/", "say who may read it"),
        ("My_Bucket=*", "not an S3 bucket name"),
        ("b=*", "not an S3 bucket name"),
        ("my-bucket/calls=*", "end the prefix with '/'"),
        ("my-bucket/a//b/=*", "empty, '.' or '..'"),
        ("my-bucket/../b/=*", "empty, '.' or '..'"),
        ("my-bucket/{tenant}/=acme", "not both"),
        ("my-bucket/{tenant}/calls/", "last folder"),
        ("my-bucket/x{tenant}/", "last folder"),
        ("my-bucket/{tenant}/{tenant}/", "once"),
        ("my-bucket/{user}/=*", "only placeholder"),
        ("my-bucket=acme+bad name", "not a tenant id"),
        ("my-bucket=", "not a tenant id"),
        ("my-bucket=*+acme", "not a tenant id"),
    ],
)
def test_unclear_rules_are_refused_with_how_to_write_them(text: str, says: str) -> None:
    with pytest.raises(ValueError, match="input bucket rule") as err:
        InputBucketRule.parse(text)
    assert says in str(err.value), str(err.value)


def test_parse_rules_skips_the_bare_media_bucket_and_refuses_rules_on_it() -> None:
    assert parse_rules(split_rules(" media-b , x-bucket=* ,"), media_bucket="media-b") == (
        InputBucketRule.parse("x-bucket=*"),
    )
    with pytest.raises(ValueError, match="media bucket"):
        parse_rules(["media-b=*"], media_bucket="media-b")


@pytest.mark.parametrize(
    ("key", "ok"),
    [
        ("calls/a.wav", True),
        ("a" * MAX_S3_KEY_BYTES, True),
        ("é" * (MAX_S3_KEY_BYTES // 2), True),  # 1,024 bytes in UTF-8
        ("a" * (MAX_S3_KEY_BYTES + 1), False),
        ("é" * (MAX_S3_KEY_BYTES // 2) + "a", False),  # 513 characters would pass a character count
        ("", False),
        ("/abs/a.wav", False),
        ("calls//a.wav", False),
        ("calls/../other/a.wav", False),
        ("./a.wav", False),
        ("calls/a.wav/", False),
        ("calls\\a.wav", False),
        ("calls/a\x00.wav", False),
        ("calls/\ud800.wav", False),
    ],
)
def test_object_key_rule(key: str, ok: bool) -> None:
    assert (object_key_problem(key) is None) is ok, object_key_problem(key)
