// Renders each instance diagram with the vendored bpmn-js viewer and marks the
// completed, active and waiting elements (the text list next to it says the same).
(function () {
  "use strict";
  function parse(el, name) {
    try { return JSON.parse(el.getAttribute("data-" + name) || "[]"); } catch (e) { return []; }
  }
  function render(el) {
    if (typeof window.BpmnJS !== "function") { return; }
    var viewer = new window.BpmnJS({ container: el });
    fetch(el.getAttribute("data-diagram-url"), { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.text(); })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        var canvas = viewer.get("canvas");
        var registry = viewer.get("elementRegistry");
        canvas.zoom("fit-viewport");
        [["completed", "lotse-completed"], ["waiting", "lotse-waiting"], ["active", "lotse-active"]]
          .forEach(function (pair) {
            parse(el, pair[0]).forEach(function (id) {
              if (registry.get(id)) { canvas.addMarker(id, pair[1]); }
            });
          });
        // Audit replay: number the elements of the path in the order they were taken.
        var order = {};
        try { order = JSON.parse(el.getAttribute("data-order") || "{}"); } catch (e) { order = {}; }
        var overlays = viewer.get("overlays");
        Object.keys(order).forEach(function (id) {
          if (!registry.get(id)) { return; }
          var badge = document.createElement("span");
          badge.className = "lotse-order";
          badge.setAttribute("aria-hidden", "true");
          badge.textContent = order[id].join(", ");
          overlays.add(id, "lotse-order", { position: { top: -12, left: -8 }, html: badge });
        });
        // Case page: each marked step carries the code of its office (its lane's office),
        // so the picture shows who has the case where; the step list names it in full.
        var offices = {};
        try { offices = JSON.parse(el.getAttribute("data-offices") || "{}"); } catch (e) { offices = {}; }
        Object.keys(offices).forEach(function (id) {
          if (!registry.get(id)) { return; }
          var badge = document.createElement("span");
          badge.className = "lotse-office-badge";
          badge.setAttribute("aria-hidden", "true");
          badge.setAttribute("data-office-of", id);
          badge.textContent = offices[id];
          overlays.add(id, "lotse-office", { position: { bottom: 2, right: 2 }, html: badge });
        });
        // A read-only picture: out of the tab order, announced as one image with a
        // label; the list below the diagram names every marked step in text.
        el.querySelectorAll("svg[tabindex]").forEach(function (svg) {
          svg.setAttribute("tabindex", "-1");
          svg.setAttribute("role", "img");
          svg.setAttribute("aria-label", el.getAttribute("data-label") || "BPMN");
        });
        el.setAttribute("data-rendered", "true");
      })
      .catch(function () { el.setAttribute("data-rendered", "error"); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".lotse-diagram[data-diagram-url]").forEach(render);
  });
})();
