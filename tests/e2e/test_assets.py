"""Vendored browser assets: pinned, complete, and never loaded from a CDN.

The pipeline is package.json (exact pins) -> package-lock.json -> `npm ci`
-> scripts/vendor_assets.py -> web/static/vendor/ + manifest.json.
`make assets` runs it; `make test` depends on it.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
VENDOR_DIR = REPO_ROOT / "web" / "static" / "vendor"

EXACT_VERSION = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$")
NPM_REGISTRY = "https://registry.npmjs.org/"

# Packages the UI relies on; removing one must be a deliberate change here.
REQUIRED_PACKAGES = {
    "bpmn-js",
    "bpmn-js-properties-panel",
    "@bpmn-io/properties-panel",
    "bpmn-js-bpmnlint",
    "bpmnlint",
    "htmx.org",
    "@kern-ux/native",
}
# Files templates are expected to reference (paths relative to web/static/vendor).
REQUIRED_FILES = {
    "bpmn-js/bpmn-viewer.production.min.js",
    "bpmn-js/bpmn-modeler.production.min.js",
    "bpmn-js/assets/bpmn-js.css",
    "bpmn-js/assets/diagram-js.css",
    "bpmn-js/assets/bpmn-font/css/bpmn.css",
    "htmx/htmx.min.js",
    "kern/kern.min.css",
    "kern/fonts/fira-sans.css",
}

# <script src=...> / <link href=...> pointing at http(s):// or protocol-relative //host
REMOTE_SOURCE = re.compile(
    r"""<(?P<tag>script|link)\b[^>]*?\b(?:src|href)\s*=\s*["']?\s*(?P<url>(?:https?:)?//[^"'\s>]+)""",
    re.IGNORECASE | re.DOTALL,
)
CSS_REMOTE = re.compile(
    r"""(?:@import\s+(?:url\()?|url\()\s*["']?\s*(?P<url>(?:https?:)?//[^"')\s]+)""",
    re.IGNORECASE,
)


def _package_json() -> dict:
    return json.loads((REPO_ROOT / "package.json").read_text(encoding="utf-8"))


def _pins() -> dict[str, str]:
    pkg = _package_json()
    pins: dict[str, str] = {}
    for section in ("dependencies", "devDependencies", "optionalDependencies"):
        pins.update(pkg.get(section, {}))
    return pins


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_package_json_pins_exact_versions():
    pins = _pins()
    assert REQUIRED_PACKAGES <= set(pins), f"missing: {REQUIRED_PACKAGES - set(pins)}"
    loose = {name: spec for name, spec in pins.items() if not EXACT_VERSION.match(spec)}
    assert not loose, f"package.json must pin exact versions (no ^, ~, ranges, URLs): {loose}"
    assert major(pins["htmx.org"]) == 2
    assert major(pins["bpmn-js"]) in (17, 18)


def major(version: str) -> int:
    return int(version.split(".", 1)[0])


def test_lockfile_matches_pins_and_uses_only_the_npm_registry():
    lock = json.loads((REPO_ROOT / "package-lock.json").read_text(encoding="utf-8"))
    assert lock.get("lockfileVersion", 0) >= 2
    packages = lock["packages"]
    root = packages[""]
    assert root.get("dependencies", {}) == _package_json().get("dependencies", {}), (
        "package-lock.json is out of date with package.json - run `npm install`"
    )
    for name, version in _pins().items():
        assert packages[f"node_modules/{name}"]["version"] == version, name

    problems = []
    for key, entry in packages.items():
        if not key:
            continue
        resolved = entry.get("resolved")
        if entry.get("link") or (resolved and not resolved.startswith(NPM_REGISTRY)):
            problems.append(f"{key}: {resolved or 'link'}")
        elif "integrity" not in entry:
            problems.append(f"{key}: no integrity hash")
    assert not problems, "lockfile entries outside the npm registry:\n" + "\n".join(problems)


def test_manifest_versions_equal_pins(vendor_manifest):
    pins = _pins()
    tools = _package_json().get("devDependencies", {})
    # devDependencies are build tools (esbuild): pinned and recorded, never vendored
    assert vendor_manifest.get("build_tools", {}) == tools
    for name in tools:
        del pins[name]
    libs = vendor_manifest["libs"]
    assert set(libs) == set(pins), "manifest and package.json list different packages"
    mismatched = {
        name: (entry["version"], pins[name])
        for name, entry in libs.items()
        if entry["version"] != pins[name]
    }
    assert not mismatched, f"manifest version != package.json pin (run `make assets`): {mismatched}"
    for name, entry in libs.items():
        assert EXACT_VERSION.match(entry["version"]), name
        assert entry["needs_bundling"] or entry["files"], f"{name}: nothing vendored"
    assert vendor_manifest["needs_bundling"] == sorted(
        name for name, entry in libs.items() if entry["needs_bundling"]
    )


def test_vendored_files_exist_and_match_manifest(vendor_manifest):
    listed: dict[str, str] = {}
    for entry in vendor_manifest["libs"].values():
        for rel, digest in entry["files"].items():
            assert rel.startswith(entry["dir"] + "/"), rel
            listed[rel] = digest

    missing = sorted(rel for rel in listed if not (VENDOR_DIR / rel).is_file())
    assert not missing, f"vendored files missing (run `make assets`): {missing}"
    changed = sorted(rel for rel, digest in listed.items() if _sha256(VENDOR_DIR / rel) != digest)
    assert not changed, f"vendored files differ from manifest (run `make assets`): {changed}"
    assert REQUIRED_FILES <= set(listed), f"not vendored: {sorted(REQUIRED_FILES - set(listed))}"

    on_disk = {
        p.relative_to(VENDOR_DIR).as_posix()
        for p in VENDOR_DIR.rglob("*")
        if p.is_file() and p.name != "manifest.json"
    }
    assert on_disk == set(listed), f"files not in manifest: {sorted(on_disk - set(listed))}"


def test_vendored_css_has_no_remote_references(vendor_manifest):
    offenders = []
    for entry in vendor_manifest["libs"].values():
        for rel in entry["files"]:
            if rel.endswith(".css"):
                text = (VENDOR_DIR / rel).read_text(encoding="utf-8")
                offenders += [f"{rel}: {m.group('url')}" for m in CSS_REMOTE.finditer(text)]
    assert not offenders, "vendored CSS fetches remote resources:\n" + "\n".join(offenders)


def test_templates_load_no_scripts_or_styles_from_cdn():
    templates = sorted((REPO_ROOT / "web").glob("**/templates/**/*.html"))
    if not templates:
        pytest.skip("no web templates yet")
    offenders = []
    for path in templates:
        text = path.read_text(encoding="utf-8")
        for m in REMOTE_SOURCE.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            rel = path.relative_to(REPO_ROOT)
            offenders.append(f"{rel}:{line}: <{m.group('tag')}> {m.group('url')}")
    assert not offenders, "templates must use vendored assets, not a CDN:\n" + "\n".join(offenders)


def test_remote_source_pattern_catches_cdn_tags():
    """Guard the guard: the CDN regex must see what it is meant to see."""
    bad = [
        '<script src="https://unpkg.com/htmx.org@2"></script>',
        "<script defer src='http://cdn.example/x.js'></script>",
        '<link rel="stylesheet" href="//cdn.jsdelivr.net/npm/@kern-ux/native/dist/kern.min.css">',
        '<link\n  href="https://fonts.googleapis.com/css" rel="stylesheet">',
    ]
    good = [
        "<script src=\"{{ url_for('static', filename='vendor/htmx/htmx.min.js') }}\"></script>",
        '<link rel="stylesheet" href="/static/vendor/kern/kern.min.css">',
        '<a href="https://www.kern-ux.de">KERN</a>',
    ]
    assert all(REMOTE_SOURCE.search(s) for s in bad)
    assert not any(REMOTE_SOURCE.search(s) for s in good)
