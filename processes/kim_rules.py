"""The KIM rule set of ``lotse lint``: the catalogue's consistency rules for the BPMN files in
``bpmn/``, which people edit in the modeler or any BPMN tool (they are the catalogue's source;
no generator writes them). The rules are checked on the files themselves: ``processes/wiring.py``
hands ``KimRules`` to the engine (``Engine(lint_rules=...)``) and to ``lotse lint``; the
engine runs them after its own checks (``engine.lint.RuleSet``), so the CLI, the modeler's
live report, the API and every deploy see the same findings. An ``error`` refuses deploy;
a ``warning`` is a convention the catalogue keeps (``lotse lint --strict`` fails on it).

Rules the engine already has (lanes that resolve to no office, a user task without a valid
form schema, message correlation, unreachable elements ...) are not repeated here. The
rules and the catalogue conventions they come from are listed in ``docs/designer.md``
("KIM rule set") and ``processes/README.md`` (section 3).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

from engine.lint import ERROR, WARNING, Finding, LintInput
from engine.lint import element_label as _label
from engine.lint import is_bpmn as _is_bpmn
from engine.lint import local_name as _local
from processes.offices import OfficeRegistry

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"

LEGAL_BASIS = "handlungsgrundlage"
RAG = "rag"
FORM_SCHEMA = "formJsonSchemaFilename"
FORM_UI = "formUiSchemaFilename"

# rule id -> what it checks (stable ids: the modeler, tests and docs key on them)
RULES: dict[str, str] = {
    "kim/id-unique": "an id is used twice in one BPMN file",
    "kim/process-id-unique": "a process or embedded subprocess id is used twice among the "
    "linted files (SpiffWorkflow registers subprocesses as processes)",
    "kim/form-name-unique": "two different form files have the same name",
    "kim/legal-basis": "an activity carries no legal basis (property handlungsgrundlage)",
    "kim/rag": "an activity carries no FIM reference activity group (property rag) or an "
    "unknown one",
    "kim/form-present": "a user task names no UI schema (formUiSchemaFilename), the file is "
    "missing, or it does not belong to the task's schema",
    "kim/lane-office": "a lane names no office (property office) or an inactive office",
    "kim/lane-member": "a flow node of a process with lanes lies in no lane",
    "kim/element-drawn": "an element has no shape or edge in the diagram (BPMNDI), or a "
    "shape draws an element that does not exist",
    "kim/id-convention": "an id does not follow the catalogue's conventions (ASCII, prefix "
    "by element type, process ids in snake_case)",
    "kim/name-present": "an activity or an intermediate or boundary event has no name",
    "kim/documentation": "an activity has no documentation (its English description)",
    "kim/message-variable": "a catch message event names no messageVariable",
    "kim/cancel-reason": "the property cancel_reason is set elsewhere than on a terminate "
    "end event",
}

# FIM reference activity groups (Referenzaktivitätengruppen) the catalogue uses
RAG_VALUES = (
    "Information empfangen",
    "Information versenden",
    "Formelle Prüfung",
    "Materielle Prüfung",
    "Entscheidung treffen",
    "Bescheid erstellen",
    "Mitwirkung einholen",
)

ACTIVITIES = frozenset({
    "task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask",
    "businessRuleTask", "callActivity", "subProcess", "transaction", "adHocSubProcess",
})
HUMAN_TASKS = frozenset({"userTask", "manualTask", "task"})
EVENTS = frozenset({
    "startEvent", "endEvent", "intermediateThrowEvent", "intermediateCatchEvent",
    "boundaryEvent",
})
GATEWAYS = frozenset({
    "exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway",
    "complexGateway",
})
FLOW_NODES = ACTIVITIES | EVENTS | GATEWAYS
NAMED = ACTIVITIES | {"intermediateThrowEvent", "intermediateCatchEvent", "boundaryEvent"}

# element type -> the id prefixes the catalogue uses (processes/README.md, section 3)
ID_PREFIXES: dict[str, tuple[str, ...]] = {
    "userTask": ("Task_",),
    "manualTask": ("Task_",),
    "task": ("Task_",),
    "scriptTask": ("Task_", "Svc_"),
    "serviceTask": ("Svc_", "Task_"),
    "sendTask": ("Task_", "Msg_"),
    "receiveTask": ("Task_", "Msg_"),
    "businessRuleTask": ("Rule_", "Task_"),
    "callActivity": ("Call_",),
    "subProcess": ("Sub_",),
    "transaction": ("Sub_",),
    "adHocSubProcess": ("Sub_",),
    "startEvent": ("Start_", "StartEvent_", "Msg_", "Tmr_"),
    "endEvent": ("End_",),
    "intermediateThrowEvent": ("Msg_", "Tmr_"),
    "intermediateCatchEvent": ("Msg_", "Tmr_"),
    "boundaryEvent": ("Bnd_",),
    "exclusiveGateway": ("Gw_",),
    "parallelGateway": ("Gw_",),
    "inclusiveGateway": ("Gw_",),
    "eventBasedGateway": ("Gw_",),
    "complexGateway": ("Gw_",),
    "sequenceFlow": ("Flow_",),
    "lane": ("Lane_",),
    "message": ("Message_",),
}
# a lane whose office is read from the task data at run time (one referral protocol for every
# receiving office) names the data path in this property instead of an office
OFFICE_FROM = "office_from"
# a form file name may be a template, ``p0-eingang-{office}-schema.json``: the office's own
# file when there is one, else the generic ``p0-eingang-schema.json``
_PLACEHOLDER = re.compile(r"[-_.]?\{[^{}]*\}")
ASCII_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
PROCESS_ID = re.compile(r"^[a-z][a-z0-9_]*$")


def _properties(el) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in el.findall(
        f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}properties/{{{SPIFF_NS}}}property"
    ):
        if p.get("name"):
            out[p.get("name")] = p.get("value") or ""
    return out


def _generic(filename: str) -> str:
    """The generic file of a form name template (the name itself when it is none)."""
    return _PLACEHOLDER.sub("", filename)


def _slug(filename: str, suffix: str) -> str | None:
    base = PurePosixPath(filename).name
    return base[: -len(suffix)] if base.endswith(suffix) else None


@dataclass
class KimRules:
    """The KIM rule set (``engine.lint.RuleSet``); ``registry`` says which offices are active."""

    registry: OfficeRegistry | None = None
    rules = RULES

    def check(self, data: LintInput) -> Iterator[Finding]:
        yield from self._forms_unique(data)
        seen_processes: dict[str, str] = {}  # process/subprocess id -> file
        form_names = {PurePosixPath(f.name).name for f in data.forms}
        for fname, tree in data.bpmn:
            root = tree.getroot()
            yield from self._ids_unique(fname, root)
            yield from self._processes_unique(fname, root, seen_processes)
            drawn = {
                s.get("bpmnElement")
                for s in root.iter(f"{{{BPMNDI_NS}}}BPMNShape", f"{{{BPMNDI_NS}}}BPMNEdge")
            }
            has_diagram = root.find(f"{{{BPMNDI_NS}}}BPMNDiagram") is not None
            for proc in root.iterfind(f"{{{BPMN_NS}}}process"):
                if proc.get("isExecutable") != "true":
                    continue
                yield from self._process(fname, root, proc, drawn, has_diagram, form_names)
            if has_diagram:
                yield from self._dangling_shapes(fname, root)

    # ------------------------------------------------------------------ errors
    def _forms_unique(self, data: LintInput) -> Iterator[Finding]:
        first: dict[str, tuple[str, bytes]] = {}
        for f in data.forms:
            base = PurePosixPath(f.name).name
            if base not in first:
                first[base] = (f.name, f.content)
            elif first[base][1] != f.content:
                yield _finding(
                    "kim/form-name-unique", ERROR, f.name, None,
                    f"two different form files are named '{base}' ({first[base][0]} and "
                    f"{f.name}): a user task could not tell which one it shows",
                    f"Zwei verschiedene Formulardateien heißen '{base}' ({first[base][0]} und "
                    f"{f.name}): eine Benutzeraufgabe könnte nicht unterscheiden, welche sie "
                    "zeigt",
                )

    @staticmethod
    def _ids_unique(fname: str, root) -> Iterator[Finding]:
        seen: set[str] = set()
        reported: set[str] = set()
        for el in root.iter():
            if not isinstance(el.tag, str):
                continue
            eid = el.get("id")
            if not eid:
                continue
            if eid in seen and eid not in reported:
                reported.add(eid)
                yield _finding(
                    "kim/id-unique", ERROR, fname, eid,
                    f"the id '{eid}' is used by more than one element of the file: references "
                    "(flows, lanes, diagram shapes) would point at the wrong one",
                    f"Die ID '{eid}' ist in der Datei mehrfach vergeben: Verweise (Flüsse, "
                    "Bahnen, Diagrammformen) zeigten auf das falsche Element",
                )
            seen.add(eid)

    @staticmethod
    def _processes_unique(fname: str, root, seen: dict[str, str]) -> Iterator[Finding]:
        ids = [p.get("id") for p in root.iterfind(f"{{{BPMN_NS}}}process")]
        for proc in root.iterfind(f"{{{BPMN_NS}}}process"):
            ids += [s.get("id") for s in proc.iter(f"{{{BPMN_NS}}}subProcess",
                                                   f"{{{BPMN_NS}}}transaction")]
        local: set[str] = set()
        for pid in ids:
            if not pid or pid in local:
                continue  # twice in one file: kim/id-unique says so
            local.add(pid)
            if pid in seen:
                yield _finding(
                    "kim/process-id-unique", ERROR, fname, pid,
                    f"the id '{pid}' is already a process or subprocess in {seen[pid]}: "
                    "SpiffWorkflow registers embedded subprocesses as processes, so one "
                    "would replace the other",
                    f"Die ID '{pid}' ist schon ein Prozess oder Teilprozess in {seen[pid]}: "
                    "SpiffWorkflow führt eingebettete Teilprozesse als Prozesse, einer "
                    "ersetzte den anderen",
                )
            else:
                seen[pid] = fname

    # ------------------------------------------------------------------ per process
    def _process(self, fname: str, root, proc, drawn: set, has_diagram: bool,
                 form_names: set[str]) -> Iterator[Finding]:
        pid = proc.get("id") or ""
        if not PROCESS_ID.match(pid):
            yield _finding(
                "kim/id-convention", WARNING, fname, pid,
                f"process id '{pid}' is not snake_case ASCII (e.g. kim_housing_advice)",
                f"Die Prozess-ID '{pid}' ist kein ASCII in snake_case (z. B. "
                "kim_wohnungsberatung)",
            )
        lanes = list(proc.iter(f"{{{BPMN_NS}}}lane"))
        in_lane: set[str] = set()
        for lane in lanes:
            yield from self._lane(fname, lane)
            in_lane |= {(r.text or "").strip() for r in lane.iterfind(f"{{{BPMN_NS}}}flowNodeRef")}
        if not has_diagram:
            yield _finding(
                "kim/element-drawn", WARNING, fname, pid,
                f"process '{pid}' has no diagram (BPMNDI): the modeler cannot show or edit it",
                f"Der Prozess '{pid}' hat kein Diagramm (BPMNDI): der Modeler kann ihn weder "
                "zeigen noch bearbeiten",
            )
        else:
            for part in root.iter(f"{{{BPMN_NS}}}participant"):
                if part.get("processRef") == pid and part.get("id") not in drawn:
                    yield _undrawn(fname, part, "participant")
        for el in proc.iter():
            if not _is_bpmn(el):
                continue
            tag = _local(el)
            eid = el.get("id")
            if eid is None:
                continue
            yield from self._id_convention(fname, el, tag)
            if has_diagram and (tag in FLOW_NODES or tag in ("sequenceFlow", "lane")) \
                    and eid not in drawn:
                yield _undrawn(fname, el, tag)
            if tag in FLOW_NODES and lanes and tag not in HUMAN_TASKS \
                    and not _in_lane(el, in_lane):
                yield _finding(
                    "kim/lane-member", WARNING, fname, eid,
                    f"{tag} {_label(el)} lies in no lane: the diagram shows it outside every "
                    "office",
                    f"{tag} {_label(el)} liegt in keiner Bahn: das Diagramm zeigt es außerhalb "
                    "jeder Stelle",
                )
            props = _properties(el)
            if tag in ACTIVITIES:
                yield from self._activity(fname, el, tag, props)
            if tag == "userTask":
                yield from self._form(fname, el, props, form_names)
            if "cancel_reason" in props and not (
                tag == "endEvent"
                and el.find(f"{{{BPMN_NS}}}terminateEventDefinition") is not None
            ):
                yield _finding(
                    "kim/cancel-reason", WARNING, fname, eid,
                    f"{tag} {_label(el)} sets cancel_reason, which only a terminate end event "
                    "uses (the cause named for the tasks it closes); here it has no effect",
                    f"{tag} {_label(el)} setzt cancel_reason; das wirkt nur an einem "
                    "Terminierungs-Endereignis (der Grund für die geschlossenen Aufgaben), "
                    "hier bleibt es ohne Wirkung",
                )
            if tag in ("intermediateCatchEvent", "boundaryEvent", "startEvent", "receiveTask"):
                yield from self._message_variable(fname, el, tag)

    def _lane(self, fname: str, lane) -> Iterator[Finding]:
        lid = lane.get("id")
        props = _properties(lane)
        office = props.get("office", "").strip()
        if not office and props.get(OFFICE_FROM, "").strip():
            return  # resolved at run time; the engine checks the data path
        if not office:
            yield _finding(
                "kim/lane-office", WARNING, fname, lid,
                f"lane {_label(lane)} names no office (property office): it is resolved by "
                "its name only, which breaks when the lane is renamed",
                f"Die Bahn {_label(lane)} nennt keine Stelle (Eigenschaft office): sie wird nur "
                "über ihren Namen zugeordnet, das bricht beim Umbenennen",
            )
            return
        if self.registry is not None and office in self.registry:
            o = self.registry.get(office)
            if not o.active:
                yield _finding(
                    "kim/lane-office", WARNING, fname, lid,
                    f"lane {_label(lane)} belongs to office {office}, which is inactive in "
                    "offices.toml (kept for history): no new work should go there",
                    f"Die Bahn {_label(lane)} gehört zur Stelle {office}, die in offices.toml "
                    "inaktiv ist (nur noch Historie): dorthin sollte keine neue Arbeit gehen",
                )

    @staticmethod
    def _id_convention(fname: str, el, tag: str) -> Iterator[Finding]:
        eid = el.get("id") or ""
        if not ASCII_ID.match(eid):
            yield _finding(
                "kim/id-convention", WARNING, fname, eid,
                f"{tag} id '{eid}' is not ASCII letters, digits and '_': ids travel in URLs, "
                "logs and scripts",
                f"Die ID '{eid}' ({tag}) besteht nicht nur aus ASCII-Buchstaben, Ziffern und "
                "'_': IDs stehen in URLs, Protokollen und Skripten",
            )
            return
        prefixes = ID_PREFIXES.get(tag)
        if prefixes and not eid.startswith(prefixes):
            want = " or ".join(f"{p}*" for p in prefixes)
            want_de = " oder ".join(f"{p}*" for p in prefixes)
            yield _finding(
                "kim/id-convention", WARNING, fname, eid,
                f"{tag} {_label(el)}: the catalogue names this element type {want}",
                f"{tag} {_label(el)}: im Katalog heißt dieser Elementtyp {want_de}",
            )

    @staticmethod
    def _activity(fname: str, el, tag: str, props: dict[str, str]) -> Iterator[Finding]:
        eid = el.get("id")
        if not props.get(LEGAL_BASIS, "").strip():
            yield _finding(
                "kim/legal-basis", WARNING, fname, eid,
                f"{tag} {_label(el)} carries no legal basis (property {LEGAL_BASIS}, e.g. "
                "'§ 9 TIntG NRW'); the task page and the audit name it",
                f"{tag} {_label(el)} nennt keine Handlungsgrundlage (Eigenschaft "
                f"{LEGAL_BASIS}, z. B. '§ 9 TIntG NRW'); Aufgabenseite und Protokoll nennen sie",
            )
        rag = props.get(RAG, "").strip()
        groups = ", ".join(RAG_VALUES)
        if not rag:
            yield _finding(
                "kim/rag", WARNING, fname, eid,
                f"{tag} {_label(el)} carries no FIM reference activity group (property rag: "
                f"{groups})",
                f"{tag} {_label(el)} nennt keine FIM-Referenzaktivitätengruppe (Eigenschaft "
                f"rag: {groups})",
            )
        elif rag not in RAG_VALUES:
            yield _finding(
                "kim/rag", WARNING, fname, eid,
                f"{tag} {_label(el)}: rag '{rag}' is no FIM reference activity group "
                f"({groups})",
                f"{tag} {_label(el)}: rag '{rag}' ist keine FIM-Referenzaktivitätengruppe "
                f"({groups})",
            )
        if not " ".join((el.get("name") or "").split()):
            yield _finding(
                "kim/name-present", WARNING, fname, eid,
                f"{tag} '{eid}' has no name: worklists, timeline and audit show the name "
                "(German, object + verb, e.g. 'Antrag prüfen')",
                f"{tag} '{eid}' hat keinen Namen: Arbeitslisten, Verlauf und Protokoll zeigen "
                "den Namen (Deutsch, Objekt + Verb, z. B. 'Antrag prüfen')",
            )
        doc = el.find(f"{{{BPMN_NS}}}documentation")
        if doc is None or not (doc.text or "").strip():
            yield _finding(
                "kim/documentation", WARNING, fname, eid,
                f"{tag} {_label(el)} has no documentation (the English description of the "
                "step)",
                f"{tag} {_label(el)} hat keine Dokumentation (die englische Beschreibung des "
                "Schritts)",
            )

    @staticmethod
    def _form(fname: str, el, props: dict[str, str], form_names: set[str]) -> Iterator[Finding]:
        eid = el.get("id")
        schema = props.get(FORM_SCHEMA, "").strip()
        ui = props.get(FORM_UI, "").strip()
        if not schema:
            return  # the engine's user-task-without-form says so
        if not ui:
            yield _finding(
                "kim/form-present", WARNING, fname, eid,
                f"user task {_label(el)} names no UI schema ({FORM_UI}): the form shows its "
                "fields in schema order without help texts or widgets",
                f"Die Benutzeraufgabe {_label(el)} nennt kein UI-Schema ({FORM_UI}): das "
                "Formular zeigt die Felder ohne Reihenfolge, Hilfetexte und Eingabehilfen",
            )
            return
        if _generic(PurePosixPath(ui).name) not in form_names:
            yield _finding(
                "kim/form-present", WARNING, fname, eid,
                f"UI schema '{ui}' of user task {_label(el)} is not among the files",
                f"Das UI-Schema '{ui}' der Benutzeraufgabe {_label(el)} fehlt unter den "
                "Dateien",
            )
            return
        s_slug, u_slug = _slug(_generic(schema), "-schema.json"), _slug(_generic(ui),
                                                                         "-uischema.json")
        if s_slug is not None and u_slug is not None and s_slug != u_slug:
            yield _finding(
                "kim/form-present", WARNING, fname, eid,
                f"user task {_label(el)} pairs schema '{schema}' with UI schema '{ui}' of "
                f"another form (expected '{s_slug}-uischema.json')",
                f"Die Benutzeraufgabe {_label(el)} kombiniert das Schema '{schema}' mit dem "
                f"UI-Schema '{ui}' eines anderen Formulars (erwartet: "
                f"'{s_slug}-uischema.json')",
            )

    @staticmethod
    def _message_variable(fname: str, el, tag: str) -> Iterator[Finding]:
        defs = [el] if tag == "receiveTask" else el.findall(
            f"{{{BPMN_NS}}}messageEventDefinition")
        for d in defs:
            if d.find(f".//{{{SPIFF_NS}}}messageVariable") is None:
                yield _finding(
                    "kim/message-variable", WARNING, fname, el.get("id"),
                    f"{tag} {_label(el)} receives a message but names no "
                    "spiffworkflow:messageVariable: the later steps find its payload under "
                    "no known key",
                    f"{tag} {_label(el)} empfängt eine Nachricht, nennt aber keine "
                    "spiffworkflow:messageVariable: spätere Schritte finden deren Inhalt "
                    "unter keinem bekannten Namen",
                )

    @staticmethod
    def _dangling_shapes(fname: str, root) -> Iterator[Finding]:
        ids = {el.get("id") for el in root.iter() if isinstance(el.tag, str)} - {None}
        for s in root.iter(f"{{{BPMNDI_NS}}}BPMNShape", f"{{{BPMNDI_NS}}}BPMNEdge"):
            ref = s.get("bpmnElement")
            if ref and ref not in ids:
                yield _finding(
                    "kim/element-drawn", WARNING, fname, s.get("id"),
                    f"diagram {_local(s)} '{s.get('id')}' draws '{ref}', which is no element "
                    "of the file (left over from a deleted element)",
                    f"Das Diagrammelement '{s.get('id')}' zeichnet '{ref}', das es in der "
                    "Datei nicht gibt (Rest eines gelöschten Elements)",
                )


def _in_lane(el, in_lane: set[str]) -> bool:
    node = el
    while node is not None and not _is_bpmn(node, "process"):
        if node.get("id") in in_lane:
            return True
        node = node.getparent()
    return False


def _undrawn(fname: str, el, tag: str) -> Finding:
    return _finding(
        "kim/element-drawn", WARNING, fname, el.get("id"),
        f"{tag} {_label(el)} is not drawn in the diagram (no BPMNDI shape or edge): the "
        "modeler does not show it, so nobody can see or edit it there",
        f"{tag} {_label(el)} ist im Diagramm nicht gezeichnet (keine BPMNDI-Form oder -Kante): "
        "der Modeler zeigt es nicht, dort kann es niemand sehen oder bearbeiten",
    )


def _finding(rule: str, severity: str, file: str | None, element: str | None, en: str,
             de: str) -> Finding:
    return Finding(rule, severity, file, element, en, de)


def kim_rules(registry: OfficeRegistry | None = None) -> tuple[KimRules]:
    """The rule sets ``lotse lint`` and the engine run besides the engine's own."""
    return (KimRules(registry),)
