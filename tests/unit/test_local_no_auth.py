"""Local mode's ``--no-auth`` wrapper: only a request without Authorization gets the local key."""

from __future__ import annotations

from typing import Any

from diarist.local.no_auth import with_local_key


def test_a_missing_authorization_gets_the_local_key_and_a_given_one_is_kept() -> None:
    seen: list[dict[str, Any]] = []
    handler = with_local_key(lambda event, ctx: seen.append(event) or {"statusCode": 200}, "dia_local")
    handler({"headers": {"Host": "127.0.0.1"}, "multiValueHeaders": {"Host": ["127.0.0.1"]}}, None)
    handler({"headers": None}, None)
    handler({"headers": {"authorization": "Bearer wrong"}}, None)
    assert seen[0]["headers"]["Authorization"] == "Bearer dia_local"
    assert seen[0]["multiValueHeaders"]["Authorization"] == ["Bearer dia_local"]
    assert seen[1]["headers"] == {"Authorization": "Bearer dia_local"}
    assert seen[2]["headers"] == {"authorization": "Bearer wrong"}  # a wrong key stays wrong (401)


def test_the_deployed_code_never_imports_it() -> None:
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    for root in ("functions", "infra", "src/diarist/services", "src/diarist/adapters"):
        for path in (repo / root).rglob("*.py"):
            assert "no_auth" not in path.read_text(encoding="utf-8"), path
