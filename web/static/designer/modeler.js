// The Lotse process modeler: bpmn-js with its properties panel, a Lotse panel for what the
// engine needs (lane -> office, user task form, conditions, default flows, scripts), a JSON
// Schema editor beside a live preview, live validation (engine/lint.py on the server) and
// save / deploy of the draft. Everything is served from 127.0.0.1; no inline script (CSP).
// bpmnlint's recommended rules run live as well (vendored bundle, global LotseBpmnlint):
// advisory, shown beside the engine's report, which stays the check that gates deploy.
(function () {
  "use strict";

  var SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core";
  var FORM_PROP = "formJsonSchemaFilename";
  var UI_PROP = "formUiSchemaFilename";
  var FORM_FILE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,150}\.json$/;
  var GATEWAYS = ["bpmn:ExclusiveGateway", "bpmn:InclusiveGateway"];

  var data, T, draft, files, revision, dirty = false, csrf = "";
  var modeler, modeling, moddle, registry, selection, canvas;
  var lintTimer = null, lintSeq = 0, previewTimer = null, previewSeq = 0;
  var marked = [];
  var lastFindings = [];
  var formTask = null;

  function $(id) { return document.getElementById(id); }
  function text(key, params) {
    var s = (T && T[key]) || key;
    Object.keys(params || {}).forEach(function (k) { s = s.split("{" + k + "}").join(String(params[k])); });
    return s;
  }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; }
      else if (k === "className") { node.className = attrs[k]; }
      else if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) { node.setAttribute(k, attrs[k] === true ? "" : attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c) { node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); } });
    return node;
  }
  function setStatus(message, kind) {
    var s = $("designer-status");
    s.textContent = message || "";
    s.setAttribute("data-kind", kind || "info");
  }

  // ------------------------------------------------------------------ server calls
  function api(method, url, body) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { "Accept": "application/json", "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return { error: "BAD_RESPONSE", message: "HTTP " + r.status }; })
        .then(function (j) {
          if (r.status === 401) { setStatus(text("session_ended"), "error"); }
          return { status: r.status, ok: r.ok, body: j || {} };
        });
    }, function (err) {
      return { status: 0, ok: false, body: { error: "NETWORK", message: String(err) } };
    });
  }

  // ------------------------------------------------------------------ spiffworkflow properties
  function propsElement(bo) {
    var ext = bo && bo.extensionElements;
    if (!ext || !ext.values) { return null; }
    for (var i = 0; i < ext.values.length; i++) {
      if (ext.values[i].$type === "spiffworkflow:properties") { return ext.values[i]; }
    }
    return null;
  }
  function getProp(bo, name) {
    var p = propsElement(bo);
    var kids = (p && p.$children) || [];
    for (var i = 0; i < kids.length; i++) {
      if (kids[i].$type === "spiffworkflow:property" && kids[i].name === name) { return kids[i].value; }
    }
    return null;
  }
  // One undoable command: set (or remove, value null) spiffworkflow properties, plus other
  // attributes of the element in `extra`. Other extension elements are kept as they are.
  function setProps(element, changes, extra) {
    var bo = element.businessObject;
    var values = (bo.extensionElements && bo.extensionElements.values) ? bo.extensionElements.values.slice() : [];
    var idx = -1;
    for (var i = 0; i < values.length; i++) { if (values[i].$type === "spiffworkflow:properties") { idx = i; break; } }
    var kids = idx >= 0 ? (values[idx].$children || []).slice() : [];
    Object.keys(changes).forEach(function (name) {
      var value = changes[name];
      var at = -1;
      for (var j = 0; j < kids.length; j++) {
        if (kids[j].$type === "spiffworkflow:property" && kids[j].name === name) { at = j; break; }
      }
      if (value === null || value === "") {
        if (at >= 0) { kids.splice(at, 1); }
      } else {
        var prop = moddle.createAny("spiffworkflow:property", SPIFF_NS, { name: name, value: value });
        if (at >= 0) { kids[at] = prop; } else { kids.push(prop); }
      }
    });
    var props = kids.length ? moddle.createAny("spiffworkflow:properties", SPIFF_NS, { $children: kids }) : null;
    if (idx >= 0) { if (props) { values[idx] = props; } else { values.splice(idx, 1); } }
    else if (props) { values.push(props); }
    var update = { extensionElements: values.length ? moddle.create("bpmn:ExtensionElements", { values: values }) : undefined };
    Object.keys(extra || {}).forEach(function (k) { update[k] = extra[k]; });
    modeling.updateProperties(element, update);
  }

  // ------------------------------------------------------------------ DI bpmn-js does not draw
  // bpmn-js's modeler rebuilds every diagram plane from the drawn elements when it saves
  // (BpmnDiOrdering on saveXML.start), so the DI of elements it does not draw is dropped
  // with its vendor attributes: ARIS draws the content of an "expanded" call activity (a
  // process no participant references) on the same plane, and an edge may lack its
  // bpmnElement (MIWG C.7.0). Kept here: every plane element that was not drawn at import
  // is put back after the reordering (lower priority = later), in its own plane.
  function KeepUndrawnDi(eventBus, elementRegistry, bpmnjs) {
    var kept = [];
    eventBus.on("import.done", function () {
      kept = [];
      var drawn = new Set();
      elementRegistry.getAll().forEach(function (e) { if (e.di) { drawn.add(e.di); } });
      var defs = bpmnjs.getDefinitions();
      ((defs && defs.diagrams) || []).forEach(function (diagram) {
        var plane = diagram.plane;
        ((plane && plane.planeElement) || []).forEach(function (di) {
          if (!drawn.has(di)) { kept.push([plane, di]); }
        });
      });
    });
    eventBus.on("saveXML.start", 500, function () {
      kept.forEach(function (k) {
        var list = k[0].get("planeElement");
        if (list.indexOf(k[1]) < 0) { list.push(k[1]); }
      });
    });
    this.kept = function () { return kept.length; };
  }
  KeepUndrawnDi.$inject = ["eventBus", "elementRegistry", "bpmnjs"];
  var keepDiModule = { __init__: ["lotseKeepDi"], lotseKeepDi: ["type", KeepUndrawnDi] };

  // bpmn-js's translate service with German (or English) texts for the lint button and
  // overlay; every other template (properties panel, palette) stays as bpmn-js has it.
  function translateModule() {
    var map = {
      "Toggle linting overlays": text("bpmnlint.toggle"),
      "{errors} Errors, {warnings} Warnings": text("bpmnlint.counts"),
      "No Issues": text("bpmnlint.clean"),
      "Issues for child elements": text("bpmnlint.child_issues")
    };
    function translate(template, replacements) {
      var s = Object.prototype.hasOwnProperty.call(map, template) ? map[template] : template;
      replacements = replacements || {};
      return s.replace(/{([^}]+)}/g, function (_, key) { return replacements[key] || "{" + key + "}"; });
    }
    return { translate: ["value", translate] };
  }

  // ------------------------------------------------------------------ offices
  function norm(s) { return String(s || "").normalize("NFKC").toLowerCase().replace(/[\u2010-\u2014\u2212]/g, "-").replace(/\s+/g, " ").trim(); }
  function officeByCode(code) {
    for (var i = 0; i < data.offices.length; i++) { if (data.offices[i].code === code) { return data.offices[i]; } }
    return null;
  }
  function officeByName(name) {
    var n = norm(name);
    if (!n) { return null; }
    var hit = officeByCode(String(name).trim());
    if (hit) { return hit; }
    for (var i = 0; i < data.offices.length; i++) {
      var o = data.offices[i];
      if (norm(o.name_de) === n || norm(o.name_en) === n) { return o; }
    }
    return null;
  }

  // ------------------------------------------------------------------ the Lotse panel
  function typeLabel(element) {
    var t = element.type;
    if (t === "bpmn:Lane") { return text("el.lane"); }
    if (t === "bpmn:UserTask") { return text("el.userTask"); }
    if (t === "bpmn:SequenceFlow") { return text("el.flow"); }
    if (GATEWAYS.indexOf(t) >= 0) { return text("el.gateway"); }
    if (t === "bpmn:ScriptTask") { return text("el.scriptTask"); }
    return t.replace("bpmn:", "");
  }
  function field(id, label, control, hint) {
    var wrap = el("div", { className: "kern-form-input" }, [el("label", { className: "kern-label", "for": id, text: label })]);
    if (hint) { wrap.appendChild(el("div", { className: "kern-hint", id: id + "-hint", text: hint })); control.setAttribute("aria-describedby", id + "-hint"); }
    wrap.appendChild(control);
    return wrap;
  }
  function selectBox(id, options, value) {
    var sel = el("select", { className: "kern-form-input__select", id: id });
    options.forEach(function (o) {
      var opt = el("option", { value: o[0], text: o[1] });
      if (o[0] === value) { opt.selected = true; }
      sel.appendChild(opt);
    });
    return el("div", { className: "kern-form-input__select-wrapper" }, [sel]);
  }

  function renderPanel(element) {
    var head = $("lotse-panel-h");
    var body = $("lotse-panel-body");
    var focusedId = document.activeElement && body.contains(document.activeElement) ? document.activeElement.id : null;
    body.textContent = "";
    if (!element || element.type === "bpmn:Process" || element.type === "bpmn:Collaboration") {
      head.textContent = text("nothing_selected");
      return;
    }
    var bo = element.businessObject;
    head.textContent = text("selected", { type: typeLabel(element), name: bo.name || element.id });
    body.appendChild(el("p", { className: "kern-body kern-body--small" }, ["ID: ", el("code", { text: element.id })]));

    if (element.type === "bpmn:Lane") { laneControls(element, body); }
    if (element.type === "bpmn:UserTask") {
      var fname = getProp(bo, FORM_PROP);
      body.appendChild(el("p", { className: "kern-body", "data-form": fname || "" },
        [text("form_file") + ": ", fname ? el("code", { text: fname }) : text("form_none")]));
      body.appendChild(el("a", { className: "kern-link", href: "#form-editor", text: text("form_title") }));
    }
    if (element.type === "bpmn:ScriptTask") { scriptControls(element, body); }
    if (GATEWAYS.indexOf(element.type) >= 0) { gatewayControls(element, body); }
    if (element.type === "bpmn:SequenceFlow") { flowControls(element, body); }
    timerControls(element, body);
    messageControls(element, body);
    fieldFeedback();
    if (focusedId && $(focusedId)) { $(focusedId).focus(); }
  }

  function laneControls(lane, body) {
    var bo = lane.businessObject;
    var prop = getProp(bo, "office");
    var byName = prop ? null : officeByName(bo.name);
    var options = [["", text("lane_unbound")]].concat(data.offices.map(function (o) {
      return [o.code, o.code + " – " + o.name + (o.active ? "" : " (inaktiv)")];
    }));
    if (prop && !officeByCode(prop)) { options.push([prop, prop + " (?)"]); }
    var box = selectBox("lane-office", options, prop || "");
    var hint = byName ? text("lane_by_name", { office: byName.code + " – " + byName.name }) : null;
    body.appendChild(field("lane-office", text("lane_office"), box, hint));
    box.querySelector("select").addEventListener("change", function (ev) {
      var code = ev.target.value;
      var office = officeByCode(code);
      var extra = {};
      var name = bo.name || "";
      if (office && (!name.trim() || officeByName(name))) { extra.name = office.name_de; }
      setProps(lane, { office: code || null }, extra);
    });
  }

  function scriptControls(task, body) {
    var bo = task.businessObject;
    var area = el("textarea", { className: "kern-form-input__input lotse-code", id: "task-script", rows: "6", spellcheck: "false" });
    area.value = bo.script || "";
    body.appendChild(field("task-script", text("script"), area));
    area.addEventListener("change", function () {
      modeling.updateProperties(task, { scriptFormat: "python", script: area.value || undefined });
    });
  }

  function outgoingFlows(element) {
    return (element.outgoing || []).filter(function (c) { return c.type === "bpmn:SequenceFlow"; });
  }

  function gatewayControls(gw, body) {
    var flows = outgoingFlows(gw);
    if (flows.length < 2) { return; }
    var current = gw.businessObject["default"];
    var options = [["", text("default_none")]].concat(flows.map(function (f) {
      var target = f.target && (f.target.businessObject.name || f.target.id);
      return [f.id, (f.businessObject.name || f.id) + " → " + target];
    }));
    var box = selectBox("gateway-default", options, current ? current.id : "");
    body.appendChild(field("gateway-default", text("default_flow"), box));
    box.querySelector("select").addEventListener("change", function (ev) {
      var flow = registry.get(ev.target.value);
      modeling.updateProperties(gw, { "default": flow ? flow.businessObject : undefined });
    });
  }

  // ------------------------------------------------------------------ timers and messages
  // The value is what SpiffWorkflow evaluates: a Python expression, so an ISO 8601 literal is
  // quoted ("P5D"). Whether it is valid is the engine's lint (timer-not-iso8601,
  // expression-does-not-compile), which runs on every change; its finding for this element
  // is shown at the field (fieldFeedback), so there is one rule set, not a second one here.
  var TIMER_KINDS = ["timeDuration", "timeDate", "timeCycle"];
  var TIMER_RULES = ["timer-not-iso8601", "expression-does-not-compile"];

  function eventDefinition(bo, type) {
    var defs = (bo && bo.eventDefinitions) || [];
    for (var i = 0; i < defs.length; i++) { if (defs[i].$type === type) { return defs[i]; } }
    return null;
  }

  function timerControls(element, body) {
    var ted = eventDefinition(element.businessObject, "bpmn:TimerEventDefinition");
    if (!ted) { return; }
    var kind = TIMER_KINDS.filter(function (k) { return ted[k]; })[0] || "timeDuration";
    var box = selectBox("timer-kind", TIMER_KINDS.map(function (k) { return [k, text("timer." + k)]; }), kind);
    body.appendChild(field("timer-kind", text("timer_kind"), box));
    var input = el("input", { className: "kern-form-input__input lotse-code", id: "timer-value", type: "text", spellcheck: "false", autocomplete: "off" });
    input.value = (ted[kind] && ted[kind].body) || "";
    body.appendChild(field("timer-value", text("timer_value"), input, text("timer_hint")));
    function apply() {
      var k = box.querySelector("select").value;
      var props = { timeDate: undefined, timeDuration: undefined, timeCycle: undefined };
      var value = input.value.trim();
      props[k] = value ? moddle.create("bpmn:FormalExpression", { body: value }) : undefined;
      if (props[k]) { props[k].$parent = ted; }
      modeling.updateModdleProperties(element, ted, props);
    }
    input.addEventListener("change", apply);
    box.querySelector("select").addEventListener("change", apply);
  }

  function messageTarget(element) {
    var bo = element.businessObject;
    if (element.type === "bpmn:SendTask" || element.type === "bpmn:ReceiveTask") { return bo; }
    return eventDefinition(bo, "bpmn:MessageEventDefinition");
  }

  function messageControls(element, body) {
    var target = messageTarget(element);
    if (!target) { return; }
    var input = el("input", { className: "kern-form-input__input", id: "message-name", type: "text", spellcheck: "false", autocomplete: "off" });
    input.value = (target.messageRef && target.messageRef.name) || "";
    body.appendChild(field("message-name", text("message_name"), input, text("message_hint")));
    input.addEventListener("change", function () {
      var name = input.value.trim();
      if (!name) { showFieldError("message-name", text("message_empty")); return; }
      var message = target.messageRef;
      if (message) { modeling.updateModdleProperties(element, message, { name: name }); return; }
      var defs = modeler.getDefinitions();
      var existing = (defs.rootElements || []).filter(function (r) { return r.$type === "bpmn:Message" && r.name === name; })[0];
      if (!existing) {
        var id = "Message_" + name.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 60);
        while (registry.get(id) || (defs.rootElements || []).some(function (r) { return r.id === id; })) { id += "_1"; }
        existing = moddle.create("bpmn:Message", { id: id, name: name });
        existing.$parent = defs;
        modeling.updateModdleProperties(element, defs, { rootElements: (defs.rootElements || []).concat([existing]) });
      }
      modeling.updateModdleProperties(element, target, { messageRef: existing });
    });
  }

  // An error below the field (KERN markup), named by the field's aria-describedby.
  function showFieldError(id, message, lang) {
    var input = $(id);
    if (!input) { return; }
    var old = $(id + "-error");
    if (old) { old.parentNode.removeChild(old); }
    var hint = id + "-hint";
    if (!message) {
      input.removeAttribute("aria-invalid");
      input.setAttribute("aria-describedby", hint);
      return;
    }
    input.parentNode.appendChild(el("p", { className: "kern-error", id: id + "-error" }, [
      el("span", { className: "kern-icon kern-icon--danger kern-icon--small", "aria-hidden": "true" }),
      el("span", { className: "kern-body", lang: lang || null, text: message })]));
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", hint + " " + id + "-error");
  }

  // Findings of the engine's lint for the selected element, at the timer / message field.
  function fieldFeedback() {
    var sel = selection && selection.get();
    var current = sel && sel.length === 1 ? sel[0] : null;
    var mine = lastFindings.filter(function (f) { return current && f.element === current.id; });
    if ($("timer-value")) {
      var t = mine.filter(function (f) { return TIMER_RULES.indexOf(f.rule) >= 0 && /time(Date|Duration|Cycle)/.test(f.message); });
      showFieldError("timer-value", t.length ? t.map(function (f) { return f.message; }).join(" ") : null, "en");
    }
    if ($("message-name")) {
      var m = mine.filter(function (f) { return f.rule === "message-without-correlation"; });
      if (!$("message-name").value.trim()) { showFieldError("message-name", text("message_empty")); }
      else {
        showFieldError("message-name", m.length ? m.map(function (f) { return f.message; }).join(" ") : null, "en");
      }
    }
  }

  function flowControls(flow, body) {
    var source = flow.source;
    if (!source || GATEWAYS.indexOf(source.type) < 0) { return; }
    var bo = flow.businessObject;
    var isDefault = source.businessObject["default"] === bo;
    var area = el("textarea", { className: "kern-form-input__input lotse-code", id: "flow-condition", rows: "3", spellcheck: "false" });
    area.value = (bo.conditionExpression && bo.conditionExpression.body) || "";
    if (isDefault) { area.disabled = true; }
    body.appendChild(field("flow-condition", text("condition"), area, text("condition_hint")));
    area.addEventListener("change", function () {
      var value = area.value.trim();
      modeling.updateProperties(flow, {
        conditionExpression: value ? moddle.create("bpmn:FormalExpression", { body: value }) : undefined
      });
    });
    var check = el("input", { type: "checkbox", className: "kern-form-check__checkbox", id: "flow-default" });
    check.checked = isDefault;
    body.appendChild(el("div", { className: "kern-form-check" }, [check, el("label", { className: "kern-label", "for": "flow-default", text: text("default_flow") })]));
    check.addEventListener("change", function () {
      if (check.checked) {
        modeling.updateProperties(source, { "default": bo });
        if (bo.conditionExpression) { modeling.updateProperties(flow, { conditionExpression: undefined }); }
      } else if (source.businessObject["default"] === bo) {
        modeling.updateProperties(source, { "default": undefined });
      }
    });
  }

  // ------------------------------------------------------------------ form editor
  function defaultFormName(task) { return task.id.replace(/[^A-Za-z0-9._-]/g, "_") + "-schema.json"; }
  function baseName(name) { return String(name || "").split("/").pop(); }

  function showFormEditor(task) {
    var section = $("form-editor");
    formTask = task;
    if (!task) { section.hidden = true; return; }
    section.hidden = false;
    var bo = task.businessObject;
    $("form-editor-h").textContent = text("form_title") + ": " + (bo.name || task.id);
    var fname = getProp(bo, FORM_PROP);
    var file = fname ? baseName(fname) : defaultFormName(task);
    $("form-file").value = file;
    $("form-file").removeAttribute("aria-invalid");
    var has = Object.prototype.hasOwnProperty.call(files, file);
    $("form-schema").value = has ? files[file] : "";
    $("form-create").hidden = has && files[file].trim() !== "";
    preview();
  }

  function ensureFormProperty(file) {
    if (!formTask) { return; }
    if (getProp(formTask.businessObject, FORM_PROP) !== file) { setProps(formTask, (function () { var c = {}; c[FORM_PROP] = file; return c; })()); }
  }

  function onSchemaInput() {
    var file = $("form-file").value.trim();
    if (!FORM_FILE_RE.test(file)) { $("form-file").setAttribute("aria-invalid", "true"); setStatus(text("form_file_bad"), "error"); return; }
    files[file] = $("form-schema").value;
    $("form-create").hidden = files[file].trim() !== "";
    markDirty();
    ensureFormProperty(file);
    schedulePreview();
    scheduleLint();
  }

  function onFileRename() {
    var input = $("form-file");
    var file = input.value.trim();
    if (!FORM_FILE_RE.test(file)) { input.setAttribute("aria-invalid", "true"); setStatus(text("form_file_bad"), "error"); return; }
    input.removeAttribute("aria-invalid");
    var old = formTask && getProp(formTask.businessObject, FORM_PROP);
    old = old ? baseName(old) : null;
    if (old === file) { return; }
    files[file] = $("form-schema").value;
    if (old && old !== file && !usedElsewhere(old, formTask)) { delete files[old]; }
    markDirty();
    ensureFormProperty(file);
    scheduleLint();
  }

  function usedElsewhere(file, except) {
    return registry.filter(function (e) {
      return e !== except && e.type === "bpmn:UserTask" && baseName(getProp(e.businessObject, FORM_PROP)) === file;
    }).length > 0;
  }

  function createForm() {
    if (!formTask) { return; }
    var starter = JSON.parse(data.starter_form);
    starter.title = formTask.businessObject.name || formTask.id;
    $("form-schema").value = JSON.stringify(starter, null, 2);
    onSchemaInput();
    $("form-schema").focus();
  }

  function schedulePreview() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(preview, 400);
  }
  function preview() {
    var seq = ++previewSeq;
    var target = $("form-preview");
    var body = new URLSearchParams();
    body.set("schema", $("form-schema").value);
    var ui = formTask && getProp(formTask.businessObject, UI_PROP);
    if (ui && Object.prototype.hasOwnProperty.call(files, baseName(ui))) { body.set("ui", files[baseName(ui)]); }
    target.setAttribute("aria-busy", "true");
    fetch(data.urls.preview, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Content-Type": "application/x-www-form-urlencoded" },
      body: body.toString()
    }).then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.text(); })
      .then(function (html) {
        if (seq !== previewSeq) { return; }
        target.innerHTML = html; // server-rendered template, every value escaped
        target.setAttribute("data-state", "done");
      })
      .catch(function () { if (seq === previewSeq) { target.textContent = text("preview_failed"); } })
      .then(function () { target.removeAttribute("aria-busy"); });
  }

  // ------------------------------------------------------------------ validation report
  function scheduleLint() {
    clearTimeout(lintTimer);
    $("report").setAttribute("data-state", "pending");
    lintTimer = setTimeout(runLint, 600);
  }
  function runLint() {
    var seq = ++lintSeq;
    $("report").setAttribute("data-state", "running");
    return modeler.saveXML({ format: true }).then(function (r) {
      return api("POST", data.urls.lint, { xml: r.xml, files: files });
    }).then(function (res) {
      if (seq !== lintSeq) { return; }
      if (!res.ok) { $("report-summary").textContent = text("lint_failed") + " " + (res.body.message || ""); $("report").setAttribute("data-state", "failed"); return; }
      renderFindings(res.body.findings || []);
    });
  }

  function elementFor(id) {
    if (!id) { return null; }
    var hit = registry.get(id);
    if (hit) { return hit; }
    var part = registry.filter(function (e) {
      return e.type === "bpmn:Participant" && e.businessObject.processRef && e.businessObject.processRef.id === id;
    });
    return part[0] || null;
  }

  function selectElement(id) {
    var target = elementFor(id);
    if (!target) { return; }
    selection.select(target);
    if (canvas.scrollToElement) { canvas.scrollToElement(target, { top: 120, bottom: 120, left: 160, right: 160 }); }
    $("lotse-panel-h").focus();
  }

  function renderFindings(findings) {
    lastFindings = findings;
    marked.forEach(function (m) { if (registry.get(m[0])) { canvas.removeMarker(m[0], m[1]); } });
    marked = [];
    var errors = findings.filter(function (f) { return f.severity === "error"; }).length;
    var warnings = findings.length - errors;
    $("report-summary").textContent = findings.length ? text("lint_counts", { errors: errors, warnings: warnings }) : text("lint_clean");
    var list = $("report-list");
    list.textContent = "";
    if (findings.length) {
      var table = el("table", { className: "kern-table kern-table--small lotse-findings", id: "findings" });
      table.appendChild(el("caption", { className: "kern-sr-only", text: text("lint_counts", { errors: errors, warnings: warnings }) }));
      table.appendChild(el("thead", { className: "kern-table__head" }, [el("tr", { className: "kern-table__row" },
        ["severity", "rule", "element", "message"].map(function (k) { return el("th", { scope: "col", className: "kern-table__header", text: text(k) }); }))]));
      var tbody = el("tbody", { className: "kern-table__body" });
      findings.forEach(function (f) {
        var target = elementFor(f.element);
        var cell = el("td", { className: "kern-table__cell" });
        if (f.element) {
          if (target) {
            var btn = el("button", { type: "button", className: "kern-btn kern-btn--tertiary kern-btn--x-small lotse-finding-select", "data-element": f.element },
              [el("span", { className: "kern-label" }, [el("code", { text: f.element })]), el("span", { className: "kern-sr-only", text: " – " + text("select_element") })]);
            btn.addEventListener("click", function () { selectElement(f.element); });
            cell.appendChild(btn);
            var marker = f.severity === "error" ? "lotse-lint-error" : "lotse-lint-warning";
            canvas.addMarker(target.id, marker);
            marked.push([target.id, marker]);
          } else {
            cell.appendChild(el("code", { text: f.element }));
          }
        } else {
          cell.appendChild(document.createTextNode(f.file || "–"));
        }
        tbody.appendChild(el("tr", { className: "kern-table__row", "data-rule": f.rule, "data-severity": f.severity, "data-element": f.element || "" }, [
          el("td", { className: "kern-table__cell" }, [el("span", { className: "kern-badge kern-badge--" + (f.severity === "error" ? "danger" : "warning") },
            [el("span", { className: "kern-label kern-label--small", text: text("severity." + f.severity) })])]),
          el("td", { className: "kern-table__cell" }, [f.rule_label + " ", el("code", { className: "kern-body--small", text: f.rule })]),
          cell,
          el("td", { className: "kern-table__cell", lang: f.text_lang || "en", text: f.text || f.message })
        ]));
      });
      table.appendChild(tbody);
      list.appendChild(el("div", { className: "kern-table-responsive" }, [table]));
    }
    $("report").setAttribute("data-state", "done");
    $("report").setAttribute("data-errors", String(errors));
    $("report").setAttribute("data-warnings", String(warnings));
    fieldFeedback();
  }

  // ------------------------------------------------------------------ bpmnlint (advisory)
  var BPMNLINT_SEVERITY = { "error": "error", "warn": "warning", "info": "info", "rule-error": "error" };

  function bpmnlintFindings(issues) {
    var out = [];
    Object.keys(issues || {}).forEach(function (id) {
      (issues[id] || []).forEach(function (i) {
        out.push({ rule: i.rule, severity: BPMNLINT_SEVERITY[i.category] || "info",
          element: i.actualElementId || i.id || id, message: i.message });
      });
    });
    var order = { error: 0, warning: 1, info: 2 };
    out.sort(function (a, b) {
      return (order[a.severity] - order[b.severity]) || String(a.element).localeCompare(String(b.element)) || a.rule.localeCompare(b.rule);
    });
    return out;
  }

  function renderBpmnlint(issues) {
    var findings = bpmnlintFindings(issues);
    var count = function (sev) { return findings.filter(function (f) { return f.severity === sev; }).length; };
    var summary = findings.length
      ? text("bpmnlint.report_counts", { errors: count("error"), warnings: count("warning") + count("info") })
      : text("bpmnlint.report_clean");
    $("bpmnlint-summary").textContent = summary;
    var list = $("bpmnlint-list");
    list.textContent = "";
    if (findings.length) {
      var table = el("table", { className: "kern-table kern-table--small lotse-findings", id: "bpmnlint-findings" });
      table.appendChild(el("caption", { className: "kern-sr-only", text: text("bpmnlint.title") + ": " + summary }));
      table.appendChild(el("thead", { className: "kern-table__head" }, [el("tr", { className: "kern-table__row" },
        ["severity", "rule", "element", "message"].map(function (k) { return el("th", { scope: "col", className: "kern-table__header", text: text(k) }); }))]));
      var tbody = el("tbody", { className: "kern-table__body" });
      findings.forEach(function (f) {
        var cell = el("td", { className: "kern-table__cell" });
        if (elementFor(f.element)) {
          var btn = el("button", { type: "button", className: "kern-btn kern-btn--tertiary kern-btn--x-small lotse-finding-select", "data-element": f.element },
            [el("span", { className: "kern-label" }, [el("code", { text: f.element })]), el("span", { className: "kern-sr-only", text: " – " + text("select_element") })]);
          btn.addEventListener("click", function () { selectElement(f.element); });
          cell.appendChild(btn);
        } else {
          cell.appendChild(el("code", { text: f.element }));
        }
        var badge = f.severity === "error" ? "danger" : (f.severity === "warning" ? "warning" : "info");
        tbody.appendChild(el("tr", { className: "kern-table__row", "data-source": "bpmnlint", "data-rule": f.rule, "data-severity": f.severity, "data-element": f.element }, [
          el("td", { className: "kern-table__cell" }, [el("span", { className: "kern-badge kern-badge--" + badge },
            [el("span", { className: "kern-label kern-label--small", text: text("severity." + f.severity) })])]),
          el("td", { className: "kern-table__cell" }, [el("code", { className: "kern-body--small", text: f.rule })]),
          cell,
          el("td", { className: "kern-table__cell", lang: "en", text: f.message })
        ]));
      });
      table.appendChild(tbody);
      list.appendChild(el("div", { className: "kern-table-responsive" }, [table]));
    }
    var section = $("bpmnlint-report");
    section.setAttribute("data-state", "done");
    section.setAttribute("data-count", String(findings.length));
  }

  // ------------------------------------------------------------------ save / deploy
  function markDirty() {
    if (!dirty) { dirty = true; setStatus(text("unsaved"), "info"); }
  }

  function save() {
    setStatus(text("saving"), "info");
    return modeler.saveXML({ format: true }).then(function (r) {
      return api("PUT", data.urls.save, { xml: r.xml, files: files, revision: revision });
    }).then(function (res) {
      if (res.ok) {
        revision = res.body.revision;
        dirty = false;
        setStatus(text("saved"), "success");
        return true;
      }
      if (res.status === 409) { setStatus(text("changed_elsewhere"), "error"); }
      else if (res.status !== 401) { setStatus(text("save_failed") + " " + (res.body.message || ""), "error"); }
      return false;
    });
  }

  function showDeployResult(kind, title, items, links) {
    var box = $("deploy-result");
    box.textContent = "";
    var alert = el("div", { className: "kern-alert kern-alert--" + kind, "data-kind": kind }, [
      el("div", { className: "kern-alert__header" }, [
        el("span", { className: "kern-icon kern-icon--" + kind, "aria-hidden": "true" }),
        el("span", { className: "kern-title", text: title })])
    ]);
    var inner = el("div", { className: "kern-alert__body" });
    if (items && items.length) {
      inner.appendChild(el("ul", { className: "kern-list kern-list--bullet" }, items.map(function (i) { return el("li", { lang: "en", text: i }); })));
    }
    (links || []).forEach(function (l) { inner.appendChild(el("p", { className: "kern-body" }, [el("a", { className: "kern-link", href: l[0], text: l[1] })])); });
    alert.appendChild(inner);
    box.appendChild(alert);
    box.focus();
  }

  function deploy() {
    var btn = $("btn-deploy");
    btn.disabled = true;
    save().then(function (ok) {
      if (!ok) { return; }
      setStatus(text("deploying"), "info");
      return api("POST", data.urls.deploy, { revision: revision }).then(function (res) {
        if (res.ok) {
          var outs = res.body.outcomes || [];
          var o = outs[0] || {};
          var title = text(o.changed ? "deployed" : "deployed_same", { process: o.process_id, version: o.version });
          setStatus(title, "success");
          showDeployResult("success", title, [], outs.map(function (x) { return [x.url, text("process_versions", { process: x.process_id })]; }));
          renderFindings(res.body.findings || []);
          return;
        }
        if (res.body.error === "LINT_ERRORS") {
          renderFindings(res.body.findings || []);
          setStatus(text("deploy_lint_errors"), "error");
          showDeployResult("danger", text("deploy_lint_errors"), [], [["#report", text("open_report")]]);
          return;
        }
        var problems = (res.body.problems || []).map(function (p) {
          return [p.file, p.element, p.problem].filter(Boolean).join(": ");
        });
        setStatus(text("deploy_refused"), "error");
        showDeployResult("danger", text("deploy_refused"), problems.length ? problems : [res.body.message || ""], []);
      });
    }).then(function () { btn.disabled = false; }, function () { btn.disabled = false; });
  }

  // ------------------------------------------------------------------ start
  function init() {
    data = JSON.parse($("designer-data").textContent);
    T = data.texts;
    draft = data.draft;
    files = Object.assign({}, draft.files || {});
    revision = draft.revision;
    try { csrf = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || ""; } catch (e) { csrf = ""; }
    if (typeof window.BpmnJS !== "function") { setStatus("bpmn-js missing", "error"); return; }
    var P = window.BpmnJSPropertiesPanel;
    var L = window.LotseBpmnlint;
    var modules = [keepDiModule, translateModule()];
    if (P) { modules.push(P.BpmnPropertiesPanelModule, P.BpmnPropertiesProviderModule); }
    if (L) { modules.push(L.lintModule); }
    var options = { container: "#canvas", propertiesPanel: { parent: "#properties" }, additionalModules: modules };
    if (L) { options.linting = { bpmnlint: L.bpmnlint, active: true }; }
    else { $("bpmnlint-summary").textContent = text("bpmnlint.missing"); }
    modeler = new window.BpmnJS(options);
    modeling = modeler.get("modeling");
    moddle = modeler.get("moddle");
    registry = modeler.get("elementRegistry");
    selection = modeler.get("selection");
    canvas = modeler.get("canvas");
    window.lotseDesigner = {
      modeler: modeler, files: function () { return files; }, save: save, lint: runLint,
      setProps: setProps, getProp: getProp, select: selectElement,
      revision: function () { return revision; }, dirty: function () { return dirty; }
    };

    var eventBus = modeler.get("eventBus");
    eventBus.on("selection.changed", function (e) {
      var current = e.newSelection.length === 1 ? e.newSelection[0] : null;
      renderPanel(current);
      showFormEditor(current && current.type === "bpmn:UserTask" ? current : null);
    });
    eventBus.on("element.changed", function (e) {
      var sel = selection.get();
      if (sel.length === 1 && sel[0] === e.element) { renderPanel(e.element); }
    });
    eventBus.on("commandStack.changed", function () { markDirty(); scheduleLint(); });
    eventBus.on("linting.completed", function (e) { renderBpmnlint(e.issues); });

    $("btn-save").addEventListener("click", function () { save(); });
    $("btn-lint").addEventListener("click", function () { clearTimeout(lintTimer); runLint(); });
    $("btn-deploy").addEventListener("click", deploy);
    $("btn-download").addEventListener("click", function (ev) {
      if (!dirty) { return; }
      ev.preventDefault();
      var href = ev.currentTarget.href;
      save().then(function (ok) { if (ok) { window.location.href = href; } });
    });
    $("form-schema").addEventListener("input", onSchemaInput);
    $("form-file").addEventListener("change", onFileRename);
    $("form-create").addEventListener("click", createForm);
    window.addEventListener("beforeunload", function (ev) {
      if (dirty) { ev.preventDefault(); ev.returnValue = ""; }
    });

    modeler.importXML(draft.xml).then(function () {
      canvas.zoom("fit-viewport", "auto");
      var svg = document.querySelector("#canvas .djs-container > svg");
      if (svg) { svg.setAttribute("aria-label", document.getElementById("canvas").getAttribute("aria-label")); }
      $("canvas").setAttribute("data-ready", "true");
      runLint();
    }).catch(function (err) {
      setStatus(String(err && err.message || err), "error");
      $("canvas").setAttribute("data-ready", "error");
    });
  }

  document.addEventListener("DOMContentLoaded", init);
})();
