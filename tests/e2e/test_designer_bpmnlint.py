"""bpmnlint's recommended rules in the modeler, live, in real Chromium (offline), and the bundle
`make assets` builds for them (scripts/bundle_lint.mjs via scripts/vendor_assets.py)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys

import pytest
from playwright.sync_api import expect

from tests.conftest import ROOT
from tests.e2e.test_designer_browser import (
    axe_check,
    click_element,
    context_pad,
    log_in,
    report_settled,
    selected,
)

VENDOR = ROOT / "web" / "static" / "vendor"
BUNDLE = "bpmn-js-bpmnlint/lotse-bpmnlint.iife.js"
URL = re.compile(r"""(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}[^\s"'`)<>\\]*""")
# URLs the bundle may contain: SVG/XML namespaces and bpmnlint's documentation links
# (rendered as links in the overlay, never fetched).
ALLOWED_URL = re.compile(r"^(?:https?:)?//(?:www\.w3\.org/|github\.com/bpmn-io/)")
CDN = re.compile(r"unpkg|jsdelivr|cdnjs|cdn\.|googleapis|cloudflare|esm\.sh|skypack", re.I)


@pytest.fixture
def eng(sqlite_app):
    return sqlite_app.extensions["lotse"].engine


@pytest.fixture(autouse=True)
def _offline_and_clean(request, blocked_requests, page_errors):
    yield
    if "page" in request.fixturenames:
        assert blocked_requests == [], blocked_requests
        expected = "Failed to load resource: the server responded with a status of 4"
        assert [e for e in page_errors if expected not in e] == []


def recommended_rules() -> dict[str, str]:
    """bpmnlint/config/recommended of the installed (pinned) bpmnlint, read by Node."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node missing")
    import subprocess

    out = subprocess.run(
        [node, "-e", "process.stdout.write(JSON.stringify("
                     "require('bpmnlint/config/recommended').rules))"],
        cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def check_bundle(vendor) -> str:
    manifest = json.loads((vendor / "manifest.json").read_text(encoding="utf-8"))
    entry = manifest["libs"]["bpmn-js-bpmnlint"]
    assert BUNDLE in entry["files"], entry["files"]
    assert entry["bundled_by"] == "scripts/bundle_lint.mjs"
    assert not entry["needs_bundling"] and not manifest["libs"]["bpmnlint"]["needs_bundling"]
    assert manifest["needs_bundling"] == []
    assert manifest["build_tools"] == json.loads(
        (ROOT / "package.json").read_text(encoding="utf-8"))["devDependencies"]
    path = vendor / BUNDLE
    assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["files"][BUNDLE]
    js = path.read_text(encoding="utf-8")
    urls = sorted(set(URL.findall(js)))
    assert [u for u in urls if CDN.search(u)] == []
    assert [u for u in urls if not ALLOWED_URL.match(u)] == [], urls
    assert "import(" not in js and "importScripts" not in js
    assert "window.LotseBpmnlint" in js
    # every recommended rule is packed (the resolver's cache keys)
    for rule in recommended_rules():
        assert f'"bpmnlint/{rule}"' in js, rule
    return js


def test_make_assets_output_contains_the_lint_bundle():
    """What `make assets` left in web/static/vendor (make test depends on it)."""
    if not (VENDOR / "manifest.json").is_file():
        pytest.skip("run `make assets` first")
    check_bundle(VENDOR)


def test_vendor_step_builds_the_bundle_from_node_modules(tmp_path):
    """scripts/vendor_assets.py (the `make assets` step after npm ci) run into a fresh
    directory: it bundles with the pinned esbuild and records the file."""
    if not (ROOT / "node_modules" / "esbuild").is_dir():
        pytest.skip("run `make assets` first")
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import vendor_assets
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    manifest = vendor_assets.build(ROOT, ROOT / "node_modules", tmp_path / "vendor")
    assert BUNDLE in manifest["libs"]["bpmn-js-bpmnlint"]["files"]
    check_bundle(tmp_path / "vendor")


def lint_row(page, rule: str, element: str | None = None):
    sel = f'#bpmnlint-list tr[data-source="bpmnlint"][data-rule="{rule}"]'
    if element:
        sel += f'[data-element="{element}"]'
    return page.locator(sel)


def test_bpmnlint_runs_live_in_the_modeler(live_server, page, eng):
    rules = recommended_rules()
    assert {"label-required", "no-disconnected", "end-event-required"} <= set(rules)
    log_in(page, live_server, "designer.demo")
    page.goto(live_server.url + "/designer/")
    page.get_by_label("Name des Prozesses").fill("Beratung")
    page.get_by_label("Prozess-ID").fill("kim_beratung")
    with page.expect_navigation():
        page.get_by_role("button", name="Modellieren").click()
    page.wait_for_selector("#canvas[data-ready=true]")
    report_settled(page)
    page.wait_for_selector("#bpmnlint-report[data-state=done]")

    # the template's start event: no name, no outgoing flow, and the process has no end
    start_label = lint_row(page, "label-required", "StartEvent_1")
    expect(start_label).to_have_count(1)
    expect(lint_row(page, "no-disconnected", "StartEvent_1")).to_have_count(1)
    expect(lint_row(page, "end-event-required")).to_have_count(1)
    expect(lint_row(page, "label-required", "Lane_1")).to_have_count(1)
    expect(start_label.locator("td").first).to_have_text(
        "Fehler" if rules["label-required"] == "error" else "Warnung")
    expect(page.locator("#bpmnlint-summary")).to_contain_text("bpmnlint: Fehler:")
    # advisory: the engine's report (which gates deploy) lists its own findings, not these
    expect(page.locator('#report-list tr[data-rule="label-required"]')).to_have_count(0)
    # bpmn-js-bpmnlint's overlay and toggle button are on the canvas, in German
    expect(page.locator('#canvas .bjsl-overlay')).not_to_have_count(0)
    button = page.locator("#canvas button.bjsl-button")
    expect(button).to_have_attribute("title", "bpmnlint-Hinweise im Diagramm ein- oder ausblenden")
    expect(button).to_contain_text("bpmnlint:")
    axe_check(page, "modeler with bpmnlint")

    # the element id selects the element (keyboard)
    start_label.get_by_role("button").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#lotse-panel-h")).to_be_focused()
    assert selected(page) == "StartEvent_1"

    # fix it like a user: name the start event in the properties panel, append an end event
    name = page.locator("#bio-properties-panel-name")
    if not name.is_visible():
        page.locator('#properties [data-group-id="group-general"] '
                     '.bio-properties-panel-group-header').click()
    name.fill("Anfrage eingegangen")
    expect(start_label).to_have_count(0)
    click_element(page, "StartEvent_1")
    context_pad(page, "append.end-event")
    end = selected(page)
    expect(lint_row(page, "no-disconnected", "StartEvent_1")).to_have_count(0)
    expect(lint_row(page, "end-event-required")).to_have_count(0)
    # the new end event has no name yet: a new live finding for it
    expect(lint_row(page, "label-required", end)).to_have_count(1)
    page.keyboard.type("Erledigt")  # direct editing is open on the new end event
    page.keyboard.press("Enter")
    expect(lint_row(page, "label-required", end)).to_have_count(0)
    # the lane has no name either: binding it to an office (Lotse panel) names it
    lane = lint_row(page, "label-required", "Lane_1")
    expect(lane).to_have_count(1)
    lane.get_by_role("button").click()
    page.get_by_label("Stelle dieser Bahn").select_option("JC")
    expect(lane).to_have_count(0)
    expect(page.locator("#bpmnlint-summary")).to_have_text("bpmnlint: keine Hinweise.")
    expect(page.locator("#bpmnlint-list tr")).to_have_count(0)

    # the toggle hides the overlays on the canvas
    button.click()
    expect(page.locator("#canvas .bjsl-overlay")).to_have_count(0)
