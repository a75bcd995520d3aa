"""Smoke tests: the vendored browser assets work in real Chromium, offline.

Pages are served from a local http.server thread (see conftest.local_server);
every non-local request is aborted and recorded, and must not happen.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

MINIMAL_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
                  xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
                  id="Definitions_smoke" targetNamespace="urn:lotse:test">
  <bpmn:process id="Process_smoke" isExecutable="true">
    <bpmn:startEvent id="StartEvent_1" name="Start" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_1">
    <bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="Process_smoke">
      <bpmndi:BPMNShape id="StartEvent_1_di" bpmnElement="StartEvent_1">
        <dc:Bounds x="100" y="100" width="36" height="36" />
      </bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""

PAGE = """<!doctype html>
<html lang="de">
<head>
  <meta charset="utf-8">
  <title>Lotse smoke test</title>
  <link rel="icon" href="data:,">
  {head}
  <style>#canvas, #props {{ width: 800px; height: 500px; }}</style>
</head>
<body>
  <div id="canvas"></div>
  <div id="props"></div>
  <script id="diagram" type="application/xml">{xml}</script>
  {scripts}
  <script>
    window.smoke = (async () => {{
      const xml = document.getElementById('diagram').textContent;
      {body}
    }})().then(
      (value) => ({{ ok: true, value }}),
      (err) => ({{ ok: false, error: String(err && err.stack || err) }}),
    );
  </script>
</body>
</html>
"""


def render_page(*, head: str = "", scripts: str = "", body: str = "") -> str:
    return PAGE.format(head=head, scripts=scripts, body=body, xml=MINIMAL_BPMN)


def run_smoke(page, url: str) -> object:
    page.goto(url, wait_until="load")
    result = page.evaluate("() => window.smoke")
    assert result["ok"], result.get("error")
    return result.get("value")


def test_vendored_bpmn_viewer_renders_start_event(
    page, local_server, vendor_manifest, blocked_requests, page_errors
):
    assert "bpmn-js/bpmn-viewer.production.min.js" in vendor_manifest["libs"]["bpmn-js"]["files"]
    url = local_server.add_page(
        "/smoke/viewer.html",
        render_page(
            head='<link rel="stylesheet" href="/static/vendor/bpmn-js/assets/bpmn-js.css">'
            '<link rel="stylesheet" href="/static/vendor/bpmn-js/assets/diagram-js.css">',
            scripts='<script src="/static/vendor/bpmn-js/bpmn-viewer.production.min.js"></script>',
            body="""
      const viewer = new BpmnJS({ container: '#canvas' });
      const { warnings } = await viewer.importXML(xml);
      return warnings.length;
            """,
        ),
    )

    warnings = run_smoke(page, url)

    assert warnings == 0
    shape = page.locator('#canvas svg g.djs-element.djs-shape[data-element-id="StartEvent_1"]')
    shape.wait_for(state="attached", timeout=10_000)
    assert shape.locator("circle").count() >= 1
    assert blocked_requests == []
    assert page_errors == []


def test_vendored_modeler_with_properties_panel(
    page, local_server, vendor_manifest, blocked_requests, page_errors
):
    """The properties-panel UMD bundle is browser-ready together with the modeler."""
    assert not vendor_manifest["libs"]["bpmn-js-properties-panel"]["needs_bundling"]
    url = local_server.add_page(
        "/smoke/modeler.html",
        render_page(
            head='<link rel="stylesheet" href="/static/vendor/bpmn-js/assets/bpmn-js.css">'
            '<link rel="stylesheet" href="/static/vendor/bpmn-js/assets/diagram-js.css">'
            '<link rel="stylesheet" '
            'href="/static/vendor/bpmn-js/assets/bpmn-font/css/bpmn.css">'
            '<link rel="stylesheet" '
            'href="/static/vendor/bpmn-io-properties-panel/assets/properties-panel.css">',
            scripts='<script src="/static/vendor/bpmn-js/bpmn-modeler.production.min.js"></script>'
            '<script src="/static/vendor/bpmn-js-properties-panel/'
            'bpmn-js-properties-panel.umd.js"></script>',
            body="""
      const P = window.BpmnJSPropertiesPanel;
      const modeler = new BpmnJS({
        container: '#canvas',
        propertiesPanel: { parent: '#props' },
        additionalModules: [P.BpmnPropertiesPanelModule, P.BpmnPropertiesProviderModule],
      });
      await modeler.importXML(xml);
      return true;
            """,
        ),
    )

    run_smoke(page, url)

    # select the start event like a user would; the panel must follow
    page.locator('#canvas [data-element-id="StartEvent_1"]').click()
    header = page.locator("#props .bio-properties-panel-header-label")
    header.wait_for(timeout=10_000)
    assert header.inner_text().strip() == "Start"
    # bpmn font (palette icons) must load from the vendored copy
    assert page.evaluate("() => document.fonts.load('16px bpmn').then(f => f.length)") >= 1
    assert blocked_requests == []
    assert page_errors == []


def test_vendored_htmx_and_kern(page, local_server, vendor_manifest, blocked_requests, page_errors):
    htmx_version = vendor_manifest["libs"]["htmx.org"]["version"]
    url = local_server.add_page(
        "/smoke/kern.html",
        render_page(
            head='<link rel="stylesheet" href="/static/vendor/kern/fonts/fira-sans.css">'
            '<link rel="stylesheet" href="/static/vendor/kern/kern.min.css">',
            scripts='<script src="/static/vendor/htmx/htmx.min.js"></script>',
            body="""
      const faces = await document.fonts.load('400 16px "Fira Sans"');
      return { htmx: window.htmx && window.htmx.version, fonts: faces.length };
            """,
        ),
    )

    value = run_smoke(page, url)

    assert value["htmx"] == htmx_version
    assert value["fonts"] >= 1, "Fira Sans from the vendored KERN fonts did not load"
    assert blocked_requests == []
    assert page_errors == []
