"""``diarist tenants show | set-limits`` in-process against the moto server (the environment the
``aws`` fixture sets, as an operator's shell would): what it prints, what it stores, and a clear
error (exit 2, the option named) for every bad input."""

from __future__ import annotations

import json

import pytest

from diarist.cli import main

pytestmark = pytest.mark.integration


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    message = ""
    try:
        code = main(list(argv))
    except SystemExit as e:  # argparse's refusals (code 2); a message: Python prints it and exits 1
        code = e.code if isinstance(e.code, int) else 1
        message = "" if isinstance(e.code, int) else str(e.code)
    out, err = capsys.readouterr()
    return code, out, err + message


def test_set_limits_then_show(
    aws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIARIST_MAX_ACTIVE_JOBS_PER_TENANT", "7")
    monkeypatch.setenv("DIARIST_REQUESTS_PER_MINUTE_PER_TENANT", "90")
    code, out, _ = _run(capsys, "tenants", "show", "--tenant", "acme", "--json")
    assert code == 0
    shown = json.loads(out)
    assert shown["max_active_jobs"] == {"in_effect": 7, "override": None, "default": 7, "used": 0}
    assert shown["requests_per_minute"]["in_effect"] == 90

    code, out, _ = _run(
        capsys, "tenants", "set-limits", "--tenant", "acme", "--max-active-jobs", "3", "--json"
    )
    assert code == 0 and json.loads(out) == {
        "tenant": "acme",
        "max_active_jobs": 3,
        "requests_per_minute": None,
    }
    code, out, _ = _run(capsys, "tenants", "set-limits", "--tenant", "acme", "--requests-per-minute", "0")
    assert code == 0 and "requests_per_minute: no limit" in out and "max_active_jobs:     3" in out
    code, out, _ = _run(capsys, "tenants", "show", "--tenant", "acme")
    assert code == 0
    assert [line.split()[:3] for line in out.splitlines()[2:4]] == [
        ["max_active_jobs", "3", "override"],
        ["requests_per_minute", "no", "limit"],
    ]
    # one override back to the default, then both
    code, out, _ = _run(
        capsys, "tenants", "set-limits", "--tenant", "acme", "--max-active-jobs", "default", "--json"
    )
    assert (
        code == 0
        and json.loads(out)["max_active_jobs"] is None
        and json.loads(out)["requests_per_minute"] == 0
    )
    code, out, _ = _run(capsys, "tenants", "set-limits", "--tenant", "acme", "--clear", "--json")
    assert code == 0 and json.loads(out) == {
        "tenant": "acme",
        "max_active_jobs": None,
        "requests_per_minute": None,
    }
    # another tenant never saw any of it
    code, out, _ = _run(capsys, "tenants", "show", "--tenant", "other", "--json")
    assert json.loads(out)["max_active_jobs"]["override"] is None


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (("set-limits", "--tenant", "acme", "--max-active-jobs", "-1"), "--max-active-jobs"),
        (("set-limits", "--tenant", "acme", "--requests-per-minute", "lots"), "--requests-per-minute"),
        (("set-limits", "--tenant", "acme", "--max-active-jobs", "5001"), "max_active_jobs"),
        (("set-limits", "--tenant", "acme"), "--max-active-jobs"),
        (("set-limits", "--tenant", "acme", "--clear", "--max-active-jobs", "2"), "--clear"),
        (("set-limits", "--tenant", "no such/tenant", "--max-active-jobs", "2"), "tenant"),
        (("show", "--tenant", "../x"), "tenant"),
        (("show",), "--tenant"),
    ],
)
def test_bad_input_is_a_clear_error(
    aws, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], named: str
) -> None:
    code, out, err = _run(capsys, "tenants", *argv)
    assert code == 2 and named in err and "Traceback" not in err, err
    code, out, _ = _run(capsys, "tenants", "show", "--tenant", "acme", "--json")
    assert json.loads(out)["max_active_jobs"]["override"] is None  # nothing was stored


def test_env_file_errors_name_the_file(aws, tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("# nothing\n")
    for path, says in ((tmp_path / "missing.env", "no such file"), (empty, "no KEY=VALUE")):
        code, _, err = _run(capsys, "tenants", "show", "--tenant", "acme", "--env-file", str(path))
        assert code == 1 and says in err and str(path) in err, err
        code, _, err = _run(capsys, "keys", "list", "--env-file", str(path))
        assert code == 1 and says in err and str(path) in err, err


def test_no_role_but_the_api_may_touch_tenant_or_rate_items() -> None:
    from infra.table_access import BY_ROLE, DELETE, GET, PUT, QUERY, UPDATE

    for role, access in BY_ROLE.items():
        for op in (GET, PUT, UPDATE, DELETE, QUERY):
            for key in ("TENANT#acme", "RATE#acme#1800000000"):
                assert access.allows(op, key) is (
                    role == "api"
                    and op in (GET, UPDATE)
                    and key.startswith("TENANT#")
                    or role == "api"
                    and op == UPDATE
                    and key.startswith("RATE#")
                ), (role, op, key)
