"""The web console's page and files, served by the API function: public, with a strict
Content-Security-Policy, the right content types, and no path to any other file."""

from __future__ import annotations

import re

import pytest

from tests.api.conftest import Api

pytestmark = pytest.mark.integration


def _directives(csp: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in (x.strip() for x in csp.split(";")) if d}


def test_page_is_public_with_a_strict_policy(api: Api, moto_endpoint: str) -> None:
    r = api.call("GET", "/", token=False)
    assert r.status == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
    assert 'data-testid="api-key"' in r.body and "<script>" not in r.body and " style=" not in r.body
    csp = _directives(r.headers["content-security-policy"])
    assert csp["default-src"] == ["'self'"] and csp["script-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]
    # the presigned URLs' origin (here the emulator), never a wildcard
    assert csp["connect-src"] == ["'self'", moto_endpoint]
    assert moto_endpoint in csp["media-src"]
    assert not any("*" in v or "unsafe" in v for values in csp.values() for v in values)
    # the one style nonce (wavesurfer.js's shadow-root style) is in the page and fresh per response
    (nonce,) = re.findall(r"'nonce-([A-Za-z0-9_-]{16,})'", r.headers["content-security-policy"])
    assert f'name="diarist-style-nonce" content="{nonce}"' in r.body
    assert nonce not in api.call("GET", "/", token=False).headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer" and r.headers["x-frame-options"] == "DENY"
    # a wrong key does not matter to a public file
    assert api.call("GET", "/", token="dia_wrong").status == 200


def test_console_files_and_their_content_types(api: Api) -> None:
    for path, ctype, needle in (
        ("/console/console.js", "text/javascript; charset=utf-8", "sessionStorage"),
        ("/console/console.css", "text/css; charset=utf-8", ".timeline"),
        ("/console/vendor/wavesurfer.esm.js", "text/javascript; charset=utf-8", "export"),
        ("/console/vendor/regions.esm.js", "text/javascript; charset=utf-8", "export"),
        ("/console/vendor/timeline.esm.js", "text/javascript; charset=utf-8", "export"),
        ("/console/vendor/wavesurfer.LICENSE.txt", "text/plain; charset=utf-8", "BSD"),
    ):
        r = api.call("GET", path, token=False)
        assert r.status == 200 and r.headers["content-type"] == ctype, path
        assert needle in r.body and r.headers["x-content-type-options"] == "nosniff", path


@pytest.mark.parametrize(
    "path",
    [
        "/console/..%2F..%2Fsettings.py",
        "/console/..%2F__init__.py",
        "/console/%2E%2E%2Fstatic%2Findex.html",
        "/console/__init__.py",
        "/console/vendor/..%2Fconsole.js",
        "/console/vendor/%2Fetc%2Fpasswd",
        "/console/..",
        "/console/vendor/..",
        "/console/index.html",
        "/console/nothing.js",
        "/console/static/console.js",
        "/console/vendor/wavesurfer.d.ts",
    ],
)
def test_no_path_reaches_another_file(api: Api, path: str) -> None:
    r = api.call("GET", path, token=False)
    assert r.status in (401, 404), (path, r.body)  # 401: no console route matched, an API path
    assert "import" not in str(r.body) and "root:" not in str(r.body)


def test_api_routes_still_need_a_key(api: Api) -> None:
    for method, path in (("GET", "/v2/jobs"), ("POST", "/v1/media/output"), ("GET", "/v1/jobs/x/input")):
        assert api.call(method, path, token=False).status == 401, path
    assert api.call("POST", "/", token=False, body={"url": "x"}).status in (401, 404, 405)
