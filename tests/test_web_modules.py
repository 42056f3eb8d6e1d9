"""The web page's ES modules (service/web/static/js/), checked without a browser.

The page is plain native modules with no build step: index.html loads ``js/main.js`` with
``<script type="module">`` and every other module is reached through relative imports. A module that
grows past the size limit, an import of a file that is not there (or of a name the file does not
export), or a module served with a non-JavaScript type (browsers refuse to run those) would only show
in a real browser; these checks find them in a second. tests/test_web_browser.py drives the page itself.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from api_helpers import make_settings
from fastapi.testclient import TestClient

from service.api.app import WEB_STATIC, create_app

JS_DIR = WEB_STATIC / "js"
ENTRY = JS_DIR / "main.js"
MAX_LINES = 650
JS_TYPES = ("text/javascript", "application/javascript", "application/x-javascript")

# static imports (`import { a } from "./x.js"`, `import "./x.js"`, `export { a } from "./x.js"`) and import("./x.js")
IMPORT_RE = re.compile(r"""^\s*(?:import|export)\s+(?:([^"';]*?)\s+from\s+)?["']([^"']+)["']""", re.M)
DYNAMIC_RE = re.compile(r"""\bimport\(\s*["']([^"']+)["']\s*\)""")
EXPORT_RE = re.compile(r"^export\s+(?:async\s+)?(?:function\*?|class|const|let|var)\s+([A-Za-z_$][\w$]*)", re.M)

MODULES = sorted(JS_DIR.glob("*.js"))


def _imports(path: Path) -> list[tuple[str, str]]:
    """(what is imported, specifier) for each import in ``path``; ``what`` is "" for a bare or dynamic import."""
    text = path.read_text(encoding="utf-8")
    found = [(m.group(1) or "", m.group(2)) for m in IMPORT_RE.finditer(text)]
    found += [("", m.group(1)) for m in DYNAMIC_RE.finditer(text)]
    return found


def _named(clause: str) -> list[str]:
    """The exported names a clause such as ``{ a, b as c }`` asks for (none for ``* as x``)."""
    inner = re.search(r"\{([^}]*)\}", clause)
    if not inner:
        return []
    return [part.split(" as ")[0].strip() for part in inner.group(1).split(",") if part.strip()]


def test_modules_exist_and_app_js_is_gone() -> None:
    assert ENTRY.is_file()
    assert len(MODULES) > 5, MODULES
    assert not (WEB_STATIC / "app.js").exists(), "the page is the modules under js/ now"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_module_size(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").count("\n") + 1
    assert lines <= MAX_LINES, f"{path.name} has {lines} lines (limit {MAX_LINES}): split it"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_relative_imports_resolve(path: Path) -> None:
    imports = _imports(path)
    for what, spec in imports:
        assert spec.startswith(("./", "../")), f"{path.name}: {spec!r} is not a relative import (no bundler resolves it)"
        assert spec.endswith(".js"), f"{path.name}: {spec!r} needs its .js extension in a browser"
        target = (path.parent / spec).resolve()
        assert target.is_file(), f"{path.name}: {spec!r} does not exist"
        assert target.is_relative_to(WEB_STATIC.resolve()), f"{path.name}: {spec!r} is outside /static"
        exported = set(EXPORT_RE.findall(target.read_text(encoding="utf-8")))
        for name in _named(what):
            assert name in exported, f"{path.name} imports {name!r} from {spec!r}, which does not export it"


def test_every_module_is_reached_from_the_entry() -> None:
    seen: set[Path] = set()
    todo = [ENTRY.resolve()]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo.extend((path.parent / spec).resolve() for _, spec in _imports(path))
    orphans = sorted(p.name for p in MODULES if p.resolve() not in seen)
    assert not orphans, f"not imported by main.js or its imports: {orphans}"


def test_index_loads_the_entry_module() -> None:
    html = (WEB_STATIC / "index.html").read_text(encoding="utf-8")
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S | re.I)
    assert scripts
    for attrs, body in scripts:  # the CSP (script-src 'self') runs no inline script
        assert re.search(r"""\bsrc\s*=\s*["']/static/""", attrs), attrs
        assert not body.strip(), "inline script"
    entry = [attrs for attrs, _ in scripts if re.search(r"""src\s*=\s*["']/static/js/main\.js["']""", attrs)]
    assert len(entry) == 1 and re.search(r"""type\s*=\s*["']module["']""", entry[0]), scripts
    assert not re.search(r"""\son[a-z]+\s*=""", html, re.I), "inline event handler"
    assert "app.js" not in html


def test_modules_are_served_as_javascript(tmp_path: Path) -> None:
    client = TestClient(create_app(make_settings(tmp_path)))
    page = client.get("/")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    for path in MODULES:
        url = f"/static/{path.relative_to(WEB_STATIC).as_posix()}"
        response = client.get(url)
        assert response.status_code == 200, url
        media_type = response.headers["content-type"].split(";")[0].strip().lower()
        assert media_type in JS_TYPES, f"{url} served as {media_type}: browsers refuse a module of that type"
        assert response.headers.get("x-content-type-options") == "nosniff"
        assert response.content == path.read_bytes(), url
