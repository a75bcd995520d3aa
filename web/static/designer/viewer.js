// Read-only diagrams of the designer (import view, version diff) with the vendored
// bpmn-js navigated viewer. data-marks = {"added": [ids], "removed": [ids], "changed": [ids]}
// marks elements; the lists next to the diagram say the same in text.
(function () {
  "use strict";
  function marks(el) {
    try { return JSON.parse(el.getAttribute("data-marks") || "{}") || {}; } catch (e) { return {}; }
  }
  function load(el) {
    var jsonUrl = el.getAttribute("data-json-url");
    var url = jsonUrl || el.getAttribute("data-xml-url");
    return fetch(url, { credentials: "same-origin", headers: { Accept: jsonUrl ? "application/json" : "application/xml" } })
      .then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return jsonUrl ? r.json().then(function (d) { return d.xml; }) : r.text();
      });
  }
  function render(el) {
    if (typeof window.BpmnJS !== "function") { return; }
    var viewer = new window.BpmnJS({ container: el });
    load(el)
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        var canvas = viewer.get("canvas");
        var registry = viewer.get("elementRegistry");
        canvas.zoom("fit-viewport");
        var m = marks(el);
        Object.keys(m).forEach(function (kind) {
          (m[kind] || []).forEach(function (id) {
            if (registry.get(id)) { canvas.addMarker(id, "lotse-diff-" + kind); }
          });
        });
        el.querySelectorAll("svg[tabindex]").forEach(function (svg) {
          svg.setAttribute("tabindex", "-1");
        });
        el.querySelectorAll(".djs-container > svg").forEach(function (svg) {
          svg.setAttribute("role", "img");
          svg.setAttribute("aria-label", el.getAttribute("data-label") || "BPMN");
        });
        el.setAttribute("data-rendered", "true");
      })
      .catch(function () {
        el.setAttribute("data-rendered", "error");
        el.textContent = el.getAttribute("data-error") || "";
      });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".lotse-designer-view").forEach(render);
  });
})();
