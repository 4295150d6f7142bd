"""The web console's files as shipped: wavesurfer.js exactly as the pinned npm package has it, every
file the page and its script refer to present, and the page's own code free of what its
Content-Security-Policy forbids or what would turn user input into markup."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from diarist import console

REPO = Path(__file__).resolve().parents[2]


def test_vendored_wavesurfer_matches_the_pinned_package() -> None:
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import vendor_console
    finally:
        sys.path.pop(0)
    assert vendor_console.check() == []
    assert console.asset("vendor/wavesurfer.LICENSE.txt") is not None


def test_every_file_the_page_and_script_name_is_shipped() -> None:
    page = console.page("n0nce")
    assert 'content="n0nce"' in page.body and console.STYLE_NONCE_MARK not in page.body
    refs = re.findall(r'(?:src|href)="console/([^"]+)"', page.body)
    assert {"console.js", "console.css", "vendor/wavesurfer.LICENSE.txt"} <= set(refs)
    # the script is native ES modules: console.js and every module it imports, transitively
    seen: list[str] = []
    todo = ["console.js"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.append(name)
        module = console.asset(name)
        assert module is not None, name
        todo.extend(re.findall(r"from '\./([^']+)'", module.body))
    vendor = {n for n in seen if n.startswith("vendor/")}
    assert vendor == {"vendor/wavesurfer.esm.js", "vendor/regions.esm.js", "vendor/timeline.esm.js"}
    # every module shipped is used
    assert set(seen) - vendor == set(_own_modules())
    for name in refs:
        assert console.asset(name) is not None, name


def _own_modules() -> list[str]:
    return sorted(n for n in console.assets() if n.endswith(".js") and not n.startswith("vendor/"))


def test_page_code_has_no_inline_code_and_no_html_sinks() -> None:
    page = console.assets()[console.PAGE].body
    assert re.search(r"<script(?![^>]*\bsrc=)", page) is None, "inline script"
    assert "<style" not in page and " style=" not in page and re.search(r"\son[a-z]+=", page) is None
    assert "console.js" in _own_modules()
    for name in _own_modules():
        script = console.assets()[name].body
        for sink in (
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
        ):
            assert sink not in script, (name, sink)
        assert "localStorage" not in script and "document.cookie" not in script, name
