"""The web console's files: the page, its script and style, and the vendored wavesurfer.js
(``static/vendor``, pinned in package.json, refreshed by ``scripts/vendor_console.py``).

Invariants:

- Only the files shipped in ``static/`` are served, each under one fixed name (``index.html``,
  ``console.js`` and the other ES modules it imports, ``vendor/wavesurfer.esm.js`` ...). A requested name is looked up in that map,
  never joined to a path, so no request reaches another file: ``..``, ``%2F``, absolute paths and
  anything not shipped are unknown names (``None``).
- Each file has one content type, from its suffix (``CONTENT_TYPES``); a suffix without one is not
  served at all.
- The page carries no inline script or style: its only inline value is the style nonce that
  wavesurfer.js needs for the ``<style>`` it puts in its shadow root (``STYLE_NONCE_MARK`` is
  replaced per response, the nonce goes in the Content-Security-Policy too).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

STYLE_NONCE_MARK = "__STYLE_NONCE__"
PAGE = "index.html"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
}


@dataclass(frozen=True)
class Asset:
    name: str
    body: str
    content_type: str


def _walk(node: resources.abc.Traversable, prefix: str = "") -> dict[str, Asset]:
    found: dict[str, Asset] = {}
    for child in node.iterdir():
        name = f"{prefix}{child.name}"
        if child.is_dir():
            found.update(_walk(child, f"{name}/"))
            continue
        suffix = "." + child.name.rsplit(".", 1)[-1] if "." in child.name else ""
        if suffix in CONTENT_TYPES:
            found[name] = Asset(name, child.read_text(encoding="utf-8"), CONTENT_TYPES[suffix])
    return found


@cache
def assets() -> dict[str, Asset]:
    """Every file the console serves, by its name under ``static/`` (read once per container)."""
    return _walk(resources.files(__name__) / "static")


def asset(name: str) -> Asset | None:
    """The shipped file ``name`` (``console.js``, ``vendor/regions.esm.js``), or None. The page is
    not one of them: it is served at the API's root only (``page``)."""
    return None if name == PAGE else assets().get(name)


def page(style_nonce: str) -> Asset:
    """The console page with this response's style nonce in it."""
    html = assets()[PAGE]
    return Asset(html.name, html.body.replace(STYLE_NONCE_MARK, style_nonce), html.content_type)
