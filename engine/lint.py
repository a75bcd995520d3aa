"""Model checks for BPMN files before they are deployed (``lotse lint``, the modeler's report).

``lint_files`` reads the same files a deployment reads and returns findings, each with a
stable rule id, a severity, the file and the element id (so the modeler can select it).

Severity ``error`` means the model would be refused at deploy or would fail when it runs;
``warning`` means it runs but probably not as the designer meant. Deploy refuses every
error (``deploy_errors``, used by ``engine.deploy.prepare``) with the lint's message, except
one the modeler enforces but the engine can run: a user task that names no form (it
completes without input; the modeler's deploy button still refuses it).

What is checked where:

* every process (executable or not): structure - unreachable elements, dead ends, exclusive
  gateways without default flow, back-edge loops;
* executable processes (``isExecutable="true"``) only, because only they run in Lotse:
  lanes bound to offices, user-task forms, expressions and scripts in the sandbox, timer
  values, message correlation, unsupported elements.

Rule sets from outside the engine (``RuleSet``: the KIM catalogue's conventions in
``processes/kim_rules.py``, passed in by ``processes/wiring.py`` as the lane resolver is) run
after the engine's own checks on the same parsed documents (``LintInput``); their findings
join the report and their errors refuse deploy like the engine's (``rules=`` of
``lint_files``, ``lint_report``, ``deploy_errors``; ``Engine(lint_rules=...)``).

Expressions are only compiled, never run. A timer is checked against ISO 8601 only where
its value is a literal string (also each literal branch of ``a if c else b``); expressions
calling helpers such as ``iso_at(...)`` are accepted when they compile.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import Protocol

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from engine import data_paths, forms, sandbox
from engine.bpmn_xml import UnsafeXml, parse_xml
from engine.deploy import (
    BPMN_NS,
    CAMUNDA_NS,
    DMN_NAMESPACES,
    FORM_PROPERTY,
    RESERVED_IDS,
    LaneResolver,
    SourceFile,
    _LotseParser,
    _Problems,
    spiff_message,
)
from engine.messaging import CORRELATION_KEYS

SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}

ERROR, WARNING = "error", "warning"

# rule id -> what it checks (stable: tools and the modeler key on the ids)
RULES: dict[str, str] = {
    "lane-without-office": "a lane of an executable process resolves to no office",
    "task-without-lane": "a human task of an executable process lies in no lane",
    "user-task-without-form": "a user task names no form, a missing form file or an invalid one",
    "expression-does-not-compile": "a condition, script, timer, message payload, "
    "multi-instance or due expression does not compile",
    "timer-not-iso8601": "a literal timer value is not an ISO 8601 date, duration or cycle",
    "exclusive-gateway-without-default": "an exclusive gateway with several outgoing flows "
    "has no (valid) default flow",
    "unreachable-element": "a flow node cannot be reached from a start event",
    "dead-end": "a flow node other than an end event has no outgoing sequence flow",
    "back-edge-loop": "sequence flows form a cycle (SpiffWorkflow's depth trap)",
    "message-without-correlation": "a thrown or caught message carries no referral_id/case_id",
    "reference-missing": "a sequence flow's source or target, or the activity a boundary event "
    "is attached to, is not given or names no element of the same process or subprocess",
    "message-without-name": "a message event or task names no message (messageRef) or the "
    "message has no name",
    "decision-missing": "a business rule task names no decision",
    "unknown-function": "an expression calls a function that is not a registered helper",
    "unsupported-element": "an element Lotse cannot execute",
    "reserved-id": "an element id the engine reserves for itself",
    "call-target-missing": "a call activity calls a process that is not among the linted files",
    "bpmn-invalid": "SpiffWorkflow refuses to parse the process",
    "file-unreadable": "the file is not well-formed, safe XML",
    "not-bpmn": "the file is neither BPMN 2.0 nor DMN",
    "no-executable-process": "no process is marked executable",
}

ACTIVITIES = frozenset(
    {
        "task",
        "userTask",
        "manualTask",
        "scriptTask",
        "serviceTask",
        "sendTask",
        "receiveTask",
        "businessRuleTask",
        "callActivity",
        "subProcess",
        "transaction",
        "adHocSubProcess",
    }
)
FLOW_NODES = ACTIVITIES | {
    "startEvent",
    "endEvent",
    "intermediateCatchEvent",
    "intermediateThrowEvent",
    "boundaryEvent",
    "exclusiveGateway",
    "parallelGateway",
    "inclusiveGateway",
    "eventBasedGateway",
    "complexGateway",
}
CONTAINERS = frozenset({"subProcess", "transaction", "adHocSubProcess"})
HUMAN_TASKS = frozenset({"userTask", "manualTask", "task"})
THROW_TAGS = frozenset({"intermediateThrowEvent", "endEvent"})
CATCH_TAGS = frozenset({"intermediateCatchEvent", "boundaryEvent", "startEvent"})
UNSUPPORTED = {
    "complexGateway": "complex gateways are not supported by SpiffWorkflow; use exclusive or "
    "inclusive gateways with conditions",
    "serviceTask": "service tasks are refused by the Lotse sandbox; use a script task that "
    "calls a registered helper",
}
_ISO_LOOKALIKE = re.compile(r"^\s*(R\d*/|P\d|PT\d|\d{4}-\d{2}-\d{2})", re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    """One lint finding; ``element`` is the BPMN id to select in the modeler."""

    rule: str
    severity: str
    file: str | None
    element: str | None
    message: str  # English (the engine's own rules speak English only)
    message_de: str | None = None  # German, where the rule set gives one (KIM rules do)

    def to_dict(self) -> dict:
        out = asdict(self)
        if self.message_de is None:
            del out["message_de"]
        return out


@dataclass(frozen=True)
class LintInput:
    """What a plug-in rule set checks: the documents of one lint run, parsed once."""

    bpmn: Sequence[tuple[str, etree._ElementTree]]  # (file name, tree) of the BPMN files
    forms: Sequence[SourceFile]  # every .json file, in the order given
    resolve_lane: LaneResolver


class RuleSet(Protocol):
    """A set of lint rules the engine does not own (passed in, never imported)."""

    rules: Mapping[str, str]  # rule id -> what it checks (stable ids, like RULES)

    def check(self, data: LintInput) -> Iterable[Finding]: ...


def local_name(el) -> str:
    """The element's local name ('' for a comment or processing instruction); like
    ``is_bpmn`` and ``element_label`` for plug-in rule sets too."""
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def is_bpmn(el, *names: str) -> bool:
    if not isinstance(el.tag, str):
        return False
    q = etree.QName(el)
    return q.namespace == BPMN_NS and (not names or q.localname in names)


def _children(el, *names: str):
    return [c for c in el if is_bpmn(c, *names)]


def _text(el) -> str | None:
    if el is None or el.text is None:
        return None
    return el.text


def element_label(el) -> str:
    name = " ".join((el.get("name") or "").split())
    return f"'{name}' ({el.get('id')})" if name else f"'{el.get('id')}'"


class _Linter:
    def __init__(self, resolve_lane: LaneResolver, helpers: Iterable[str] | None,
                 rules: Sequence[RuleSet] = ()) -> None:
        self.resolve_lane = resolve_lane
        self.rule_sets = tuple(rules)
        self.form_files: list[SourceFile] = []
        self.helpers = tuple(helpers) if helpers is not None else ()
        self.findings: list[Finding] = []
        self.forms: dict[str, bytes] = {}
        self.docs: list[tuple[str, etree._ElementTree]] = []
        self.dmn: list[tuple[str, etree._ElementTree]] = []
        # message name -> whether some thrower's payload carries a correlation key
        self.thrown: dict[str, bool] = {}
        self.catches: list[tuple[str, str, str]] = []  # (file, element, message name)
        self.uncorrelated: list[tuple[str, str, str, str]] = []  # (file, element, name, why)
        self.design_only: list[Finding] = []  # errors the modeler refuses but deploy accepts
        self._ids: set[str] = set()  # every element id of the document being checked
        # indexes kept up to date by add(), so no check scans all findings (issue 16.6)
        self._errors_at: set[tuple[str | None, str | None]] = set()  # (file, element)
        self._dangling_files: set[str | None] = set()  # files with reference-missing
        # form file name -> why it is no valid JSON Schema (None: valid); checked once
        self._form_problems: dict[str, str | None] = {}

    def add(
        self,
        rule: str,
        severity: str,
        file: str | None,
        element: str | None,
        message: str,
        *,
        design_only: bool = False,
        message_de: str | None = None,
    ) -> None:
        finding = Finding(rule, severity, file, element, message, message_de)
        self.findings.append(finding)
        if severity == ERROR:
            self._errors_at.add((file, element))
        if rule == "reference-missing":
            self._dangling_files.add(file)
        if design_only:
            self.design_only.append(finding)

    # ------------------------------------------------------------------ reading
    def read(self, files: list[SourceFile]) -> None:
        for f in files:
            lower = f.name.lower()
            if lower.endswith(".json"):
                self.forms.setdefault(PurePosixPath(f.name).name, f.content)
                self.form_files.append(f)
                continue
            try:
                tree = parse_xml(f.content)
            except UnsafeXml as exc:
                self.add("file-unreadable", ERROR, f.name, None, str(exc))
                continue
            except etree.XMLSyntaxError as exc:
                self.add(
                    "file-unreadable",
                    ERROR,
                    f.name,
                    None,
                    f"malformed XML (line {exc.lineno}): {exc.msg}",
                )
                continue
            ns = etree.QName(tree.getroot()).namespace or ""
            if ns == BPMN_NS:
                self.docs.append((f.name, tree))
            elif ns.startswith(DMN_NAMESPACES):
                self.dmn.append((f.name, tree))
            else:
                self.add(
                    "not-bpmn",
                    ERROR,
                    f.name,
                    None,
                    "neither a BPMN 2.0 nor a DMN document "
                    f"(root element {etree.QName(tree.getroot()).localname!r} in "
                    f"namespace {ns or 'none'!r})",
                )

    # ------------------------------------------------------------------ run
    def run(self) -> list[Finding]:
        process_ids = {
            p.get("id") for _n, t in self.docs for p in t.getroot().iter(f"{{{BPMN_NS}}}process")
        }
        any_executable = False
        for fname, tree in self.docs:
            root = tree.getroot()
            for el in root.iter():
                if isinstance(el.tag, str) and el.get("id") in RESERVED_IDS:
                    self.add(
                        "reserved-id",
                        ERROR,
                        fname,
                        el.get("id"),
                        "element id is reserved by the engine; rename it (e.g. StartEvent_1)",
                    )
            messages = {m.get("id"): m.get("name") for m in root.iter(f"{{{BPMN_NS}}}message")}
            self._ids = {el.get("id") for el in root.iter() if isinstance(el.tag, str)} - {None}
            for proc in _children(root, "process"):
                executable = proc.get("isExecutable") == "true"
                any_executable |= executable
                self._structure(fname, proc)
                if executable:
                    self._executable(fname, proc, messages, process_ids)
        self._spiff_checks()
        waited_for = {name for _f, _e, name in self.catches}
        keys = " or ".join(CORRELATION_KEYS)
        for fname, element, name, why in self.uncorrelated:
            if name in waited_for:
                self.add(
                    "message-without-correlation",
                    ERROR,
                    fname,
                    element,
                    f"message '{name}' {why}: it carries no {keys}, so it can never reach "
                    "the instance that waits for it",
                )
            else:
                self.add(
                    "message-without-correlation",
                    WARNING,
                    fname,
                    element,
                    f"message '{name}' {why}: without {keys} it can only start a process "
                    "(message start event), never reach a waiting instance",
                )
        for fname, element, name in self.catches:
            if not self.thrown.get(name):
                self.add(
                    "message-without-correlation",
                    WARNING,
                    fname,
                    element,
                    f"message '{name}' is not thrown by any linted process with "
                    f"{' or '.join(CORRELATION_KEYS)} in its payload; correlation cannot "
                    "be verified (whoever sends it must include one of them)",
                )
        if self.docs and not any_executable:
            self.add(
                "no-executable-process",
                WARNING,
                None,
                None,
                'no process is marked isExecutable="true"; nothing would be deployed',
            )
        self._plugin_checks()
        return self.findings

    def _plugin_checks(self) -> None:
        """The rule sets passed in (e.g. KIM's): same documents, same report, same severities."""
        if not self.rule_sets:
            return
        data = LintInput(tuple(self.docs), tuple(self.form_files), self.resolve_lane)
        for rule_set in self.rule_sets:
            for f in rule_set.check(data):
                if f.severity not in (ERROR, WARNING):
                    raise ValueError(f"rule {f.rule}: severity {f.severity!r} is not "
                                     f"{ERROR!r} or {WARNING!r}")
                self.add(f.rule, f.severity, f.file, f.element, f.message,
                         message_de=f.message_de)

    # ------------------------------------------------------------------ SpiffWorkflow
    def _spiff_checks(self) -> None:
        """Lanes through the deploy parser, then SpiffWorkflow's own validation."""
        problems = _Problems()
        parser = _LotseParser(self.resolve_lane, problems)
        executable: list[tuple[str, str]] = []
        for fname, tree in self.dmn:
            try:
                parser.add_dmn_xml(tree.getroot(), filename=fname)
            except Exception as exc:  # noqa: BLE001 - any parser failure is a finding
                self.add("bpmn-invalid", ERROR, fname, getattr(exc, "id", None) or None,
                         _message(exc, [t for _n, t in self.docs]))
        for fname, tree in self.docs:
            # lanes first: SpiffWorkflow may refuse the document before it indexes them
            parser._current_file = fname
            parser._roots.append(tree.getroot())
            parser._add_diagram_indexes(tree)
            try:
                parser.add_bpmn_xml(tree, filename=fname)
            except Exception as exc:  # noqa: BLE001
                self.add("bpmn-invalid", ERROR, fname, getattr(exc, "id", None) or None,
                         _message(exc, [t for _n, t in self.docs]))
                continue
            executable += [
                (fname, p.get("id"))
                for p in _children(tree.getroot(), "process")
                if p.get("isExecutable") == "true"
            ]
        for p in problems.items:
            # _Problems.add takes the problem as a str (items are typed str | None per value)
            self.add("lane-without-office", ERROR, p["file"], p["element"], p["problem"] or "")
        for fname, pid in executable:
            try:
                parser.get_spec(pid)
            except Exception as exc:  # noqa: BLE001
                where = (getattr(exc, "file_name", None) or fname, getattr(exc, "id", None) or pid)
                if where in self._errors_at:
                    continue  # already explained in Lotse's words (e.g. decision-missing)
                if fname in self._dangling_files:
                    continue  # SpiffWorkflow trips over the dangling reference, reported above
                self.add("bpmn-invalid", ERROR, *where, _message(exc, [t for _n, t in self.docs]))

    # ------------------------------------------------------------------ structure
    def _structure(self, fname: str, level) -> None:
        nodes = {c.get("id"): c for c in level if local_name(c) in FLOW_NODES and is_bpmn(c)}
        flows = [f for f in _children(level, "sequenceFlow")]
        out: dict[str, list] = {nid: [] for nid in nodes}
        incoming: dict[str, int] = {nid: 0 for nid in nodes}
        self._references(fname, level, nodes, flows)
        for f in flows:
            src, dst = f.get("sourceRef"), f.get("targetRef")
            if src in out:
                out[src].append(f)
            if dst in incoming:
                incoming[dst] += 1
        for nid, el in nodes.items():
            tag = local_name(el)
            if tag in CONTAINERS:
                self._structure(fname, el)
            if tag == "exclusiveGateway":
                self._gateway(fname, el, out[nid])
        if local_name(level) != "adHocSubProcess":
            self._reachability(fname, level, nodes, out, incoming)

    def _references(self, fname: str, level, nodes: dict, flows: list) -> None:
        """Each sequence flow connects two flow nodes of ``level`` and each boundary event is
        attached to an activity of ``level``; SpiffWorkflow otherwise drops the flow or the
        event silently or fails with a message about something else."""
        where = (f"process '{level.get('id')}'" if local_name(level) == "process"
                 else f"subprocess {element_label(level)}")
        for f in flows:
            for attr, role in (("sourceRef", "source"), ("targetRef", "target")):
                ref = (f.get(attr) or "").strip()
                if not ref:
                    problem = (f"has no {role} ({attr}): connect it to the element it "
                               f"{'comes from' if role == 'source' else 'leads to'}")
                elif ref in nodes:
                    continue
                else:
                    problem = f"has {role} ({attr}) '{ref}', " + self._missing(ref, where)
                self.add("reference-missing", ERROR, fname, f.get("id"),
                         f"sequence flow {element_label(f)} {problem}")
        for nid, el in nodes.items():
            if local_name(el) != "boundaryEvent":
                continue
            ref = (el.get("attachedToRef") or "").strip()
            if not ref:
                problem = "is attached to no activity (attachedToRef)"
            elif ref in nodes and local_name(nodes[ref]) in ACTIVITIES:
                continue
            elif ref in nodes:
                problem = (f"is attached to '{ref}', a {local_name(nodes[ref])}: a boundary event "
                           "belongs on a task, subprocess or call activity")
            else:
                problem = f"is attached to '{ref}', " + self._missing(ref, where)
            self.add("reference-missing", ERROR, fname, nid,
                     f"boundary event {element_label(el)} {problem}")

    def _missing(self, ref: str, where: str) -> str:
        if ref in self._ids:
            return (f"which is not a flow node of {where} (it lies elsewhere or is no task, "
                    "event or gateway)")
        return f"which does not exist in {where}"

    def _gateway(self, fname: str, gw, outgoing: list) -> None:
        default = gw.get("default")
        ids = {f.get("id") for f in outgoing}
        if default and default not in ids:
            self.add(
                "exclusive-gateway-without-default",
                ERROR,
                fname,
                gw.get("id"),
                f"exclusive gateway {element_label(gw)} names default flow '{default}', which is "
                "not one of its outgoing flows",
            )
        elif len(outgoing) > 1 and not default:
            self.add(
                "exclusive-gateway-without-default",
                WARNING,
                fname,
                gw.get("id"),
                f"exclusive gateway {element_label(gw)} has {len(outgoing)} outgoing flows and no "
                "default flow: when no condition is true the case stops with an error",
            )

    def _reachability(self, fname: str, level, nodes: dict, out: dict, incoming: dict) -> None:
        edges: dict[str, list[tuple[str, str | None]]] = {nid: [] for nid in nodes}
        for nid, flist in out.items():
            edges[nid] = [
                (f.get("targetRef"), f.get("id")) for f in flist if f.get("targetRef") in nodes
            ]
        link_catch: dict[str, list[str]] = {}
        exempt: set[str] = set()
        for nid, el in nodes.items():
            tag = local_name(el)
            if tag == "boundaryEvent" and el.get("attachedToRef") in edges:
                edges[el.get("attachedToRef")].append((nid, None))
            if el.get("isForCompensation") == "true" or (
                tag in CONTAINERS and el.get("triggeredByEvent") == "true"
            ):
                exempt.add(nid)
            link = el.find(f"{{{BPMN_NS}}}linkEventDefinition")
            if link is not None and tag == "intermediateCatchEvent":
                link_catch.setdefault(link.get("name") or el.get("name") or "", []).append(nid)
        for nid, el in nodes.items():
            link = el.find(f"{{{BPMN_NS}}}linkEventDefinition")
            if link is not None and local_name(el) == "intermediateThrowEvent":
                for target in link_catch.get(link.get("name") or el.get("name") or "", []):
                    edges[nid].append((target, None))
        starts = [
            nid for nid, el in nodes.items() if local_name(el) == "startEvent" and nid not in exempt
        ]
        if not starts:  # no start event: BPMN's implicit start (SpiffWorkflow reports it too)
            starts = [
                nid
                for nid in nodes
                if not incoming[nid]
                and local_name(nodes[nid]) != "boundaryEvent"
                and nid not in exempt
            ]
        reached: set[str] = set()
        stack = list(starts)
        while stack:
            nid = stack.pop()
            if nid in reached:
                continue
            reached.add(nid)
            stack.extend(t for t, _f in edges[nid])
        for nid, el in nodes.items():
            tag = local_name(el)
            if nid not in reached and nid not in exempt:
                self.add(
                    "unreachable-element",
                    WARNING,
                    fname,
                    nid,
                    f"{tag} {element_label(el)} cannot be reached from a start event",
                )
            is_link_throw = (
                tag == "intermediateThrowEvent"
                and el.find(f"{{{BPMN_NS}}}linkEventDefinition") is not None
            )
            compensation = (
                tag == "boundaryEvent"
                and el.find(f"{{{BPMN_NS}}}compensateEventDefinition") is not None
            )
            if (
                not out[nid]
                and tag != "endEvent"
                and nid not in exempt
                and not is_link_throw
                and not compensation
            ):
                self.add(
                    "dead-end",
                    WARNING,
                    fname,
                    nid,
                    f"{tag} {element_label(el)} has no outgoing sequence flow: the path ends "
                    "here without an end event",
                )
        self._loops(fname, nodes, edges, starts)

    def _loops(self, fname: str, nodes: dict, edges: dict, starts: list[str]) -> None:
        """Report each sequence flow that closes a cycle (found by depth-first search)."""
        state: dict[str, int] = {}  # 1 on the stack, 2 done
        for root in [*starts, *nodes]:
            if root in state:
                continue
            path: list[str] = [root]
            at: dict[str, int] = {root: 0}  # node on the stack -> its index in path
            iters = [iter(edges[root])]
            state[root] = 1
            while iters:
                step = next(iters[-1], None)
                if step is None:
                    done = path.pop()
                    del at[done]
                    state[done] = 2
                    iters.pop()
                    continue
                target, flow_id = step
                if state.get(target) == 1:
                    names = _cycle_names(nodes, path[at[target] :], target)
                    self.add(
                        "back-edge-loop",
                        WARNING,
                        fname,
                        flow_id or path[-1],
                        f"sequence flow back to {element_label(nodes[target])} forms a loop "
                        f"({names}); SpiffWorkflow's task tree grows with every round and "
                        "stops after about 250 rounds. Model each round as a subprocess "
                        "or call activity (e.g. with standardLoopCharacteristics)",
                    )
                elif target not in state:
                    state[target] = 1
                    at[target] = len(path)
                    path.append(target)
                    iters.append(iter(edges[target]))

    # ------------------------------------------------------------------ executable-only
    def _executable(self, fname: str, proc, messages: dict, process_ids: set) -> None:
        lanes = self._lanes(proc)
        for el in proc.iter():
            if not is_bpmn(el):
                continue
            tag = local_name(el)
            eid = el.get("id")
            if tag in UNSUPPORTED:
                self.add(
                    "unsupported-element",
                    ERROR,
                    fname,
                    eid,
                    f"{tag} {element_label(el)}: {UNSUPPORTED[tag]}",
                )
            if tag in HUMAN_TASKS and self._lane_of(el, lanes) is None:
                self.add(
                    "task-without-lane",
                    ERROR,
                    fname,
                    eid,
                    f"{tag} {element_label(el)} lies in no lane, so no office would see it",
                )
            if tag == "userTask":
                self._form(fname, el)
            if tag == "businessRuleTask":
                self._decision(fname, el)
            if tag == "callActivity":
                called = el.get("calledElement")
                if called and called not in process_ids:
                    self.add(
                        "call-target-missing",
                        WARNING,
                        fname,
                        eid,
                        f"calls process '{called}', which is not among the linted files; "
                        "it must be deployed before this process",
                    )
            if tag == "sequenceFlow":
                for cond in _children(el, "conditionExpression"):
                    self._expr(fname, eid, _text(cond), "condition")
            if tag == "scriptTask":
                self._script(fname, eid, _text(el.find(f"{{{BPMN_NS}}}script")), "script")
            if tag in FLOW_NODES:
                self._extensions(fname, el)
                self._loop_characteristics(fname, el)
                self._timers(fname, el)
                self._messages(fname, el, messages)
            if tag == "conditionalEventDefinition":
                owner = el.getparent()
                for c in _children(el, "condition"):
                    self._expr(fname, owner.get("id"), _text(c), "event condition")

    @staticmethod
    def _lanes(proc) -> dict[str, str]:
        """flow node id -> lane id (innermost lane wins)."""
        found: dict[str, tuple[str, int]] = {}  # flow node id -> (lane id, lane depth)
        for lane in proc.iter(f"{{{BPMN_NS}}}lane"):
            depth = sum(1 for a in lane.iterancestors(f"{{{BPMN_NS}}}lane"))
            for ref in _children(lane, "flowNodeRef"):
                if ref.text:
                    key = ref.text.strip()
                    prev = found.get(key)
                    if prev is None or prev[1] <= depth:
                        found[key] = (lane.get("id"), depth)
        return {k: v[0] for k, v in found.items()}

    @staticmethod
    def _lane_of(el, lanes: dict[str, str]) -> str | None:
        node = el
        while node is not None and not is_bpmn(node, "process"):
            lane = lanes.get(node.get("id"))
            if lane is not None:
                return lane
            node = node.getparent()
        return None

    def _form(self, fname: str, task) -> None:
        props = _properties(task)
        form = props.get(FORM_PROPERTY)
        eid = task.get("id")
        if not form:
            self.add(
                "user-task-without-form",
                ERROR,
                fname,
                eid,
                f"user task {element_label(task)} names no form ({FORM_PROPERTY}); "
                "use a manual task for a step without input",
                design_only=True,
            )
            return
        base = PurePosixPath(form).name
        if data_paths.is_template(base):  # p0-eingang-{office}-schema.json (data_paths)
            why = data_paths.template_problem(base)
            generic = data_paths.fallback(base)
            if why is None and generic not in self.forms:
                why = (f"its generic form '{generic}' (taken when the office has no own form) "
                       "is not among the files")
            if why is not None:
                self.add("user-task-without-form", ERROR, fname, eid,
                         f"form template '{form}' of user task {element_label(task)}: {why}")
                return
            for name in data_paths.candidates(base, self.forms):
                self._form_file(fname, task, name)
            return
        self._form_file(fname, task, base, form)

    def _form_file(self, fname: str, task, base: str, form: str | None = None) -> None:
        form = form or base
        eid = task.get("id")
        raw = self.forms.get(base)
        if raw is None:
            self.add(
                "user-task-without-form",
                ERROR,
                fname,
                eid,
                f"form file '{form}' of user task {element_label(task)} is not among the files",
            )
            return
        if base not in self._form_problems:  # one check per form file, not per task
            try:
                schema = forms.load_form(raw)
            except UnicodeDecodeError:
                self._form_problems[base] = "the file is not UTF-8 encoded"
            except ValueError as exc:
                self._form_problems[base] = str(exc)
            else:
                self._form_problems[base] = forms.check_schema(schema)
        err = self._form_problems[base]
        if err:
            self.add(
                "user-task-without-form",
                ERROR,
                form,
                eid,
                f"form '{form}' of user task {element_label(task)} is not a valid JSON "
                f"Schema: {err}",
            )

    def _decision(self, fname: str, task) -> None:
        spiff = task.findall(
            f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}calledDecisionId"
        )
        if any((_text(d) or "").strip() for d in spiff) or task.get(f"{{{CAMUNDA_NS}}}decisionRef"):
            return
        self.add(
            "decision-missing",
            ERROR,
            fname,
            task.get("id"),
            f"businessRuleTask {element_label(task)} names no decision: set "
            "spiffworkflow:calledDecisionId (or camunda:decisionRef) to the id of a DMN "
            "decision in the deployment",
        )

    # ------------------------------------------------------------------ expressions
    def _expr(self, fname: str, eid: str | None, text: str | None, what: str) -> bool:
        if text is None or not text.strip():
            return False
        err = sandbox.check_expression(text)
        if err:
            self.add(
                "expression-does-not-compile",
                ERROR,
                fname,
                eid,
                f"{what} does not compile: {err} - in {text.strip()[:120]!r}",
            )
            return False
        if self.helpers:
            unknown = sandbox.check_expression(text, self.helpers)
            if unknown:
                self.add(
                    "unknown-function",
                    WARNING,
                    fname,
                    eid,
                    f"{what}: {unknown} (not a registered helper; the step fails when it "
                    f"runs unless the helper is registered) - in {text.strip()[:120]!r}",
                )
        return True

    def _script(self, fname: str, eid: str | None, text: str | None, what: str) -> None:
        if text is None or not text.strip():
            return
        err = sandbox.check_script(text)
        if err:
            self.add(
                "expression-does-not-compile", ERROR, fname, eid, f"{what} does not compile: {err}"
            )

    def _extensions(self, fname: str, el) -> None:
        eid = el.get("id")
        for key in ("preScript", "postScript"):
            for s in el.findall(f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}{key}"):
                self._script(fname, eid, _text(s), key)
        due = _properties(el).get("due")
        if due:
            self._expr(fname, eid, due, "due date expression")

    def _loop_characteristics(self, fname: str, el) -> None:
        eid = el.get("id")
        for mi in _children(el, "multiInstanceLoopCharacteristics"):
            for tag, what in (
                ("loopCardinality", "multi-instance cardinality"),
                ("completionCondition", "multi-instance completion condition"),
            ):
                for c in _children(mi, tag):
                    self._expr(fname, eid, _text(c), what)
        for loop in _children(el, "standardLoopCharacteristics"):
            for c in _children(loop, "loopCondition"):
                self._expr(fname, eid, _text(c), "loop condition")

    def _timers(self, fname: str, el) -> None:
        eid = el.get("id")
        for ted in _children(el, "timerEventDefinition"):
            for kind in ("timeDate", "timeDuration", "timeCycle"):
                for t in _children(ted, kind):
                    self._timer(fname, eid, kind, _text(t) or "")

    def _timer(self, fname: str, eid: str | None, kind: str, text: str) -> None:
        raw = text.strip()
        if not raw:
            self.add("timer-not-iso8601", ERROR, fname, eid, f"{kind} is empty")
            return
        if _ISO_LOOKALIKE.match(raw) and _iso_problem(kind, raw) is None:
            self.add(
                "timer-not-iso8601",
                ERROR,
                fname,
                eid,
                f'{kind} {raw!r} is not quoted: timer values are Python expressions, write "{raw}"',
            )
            return
        if not self._expr(fname, eid, raw, f"timer expression ({kind})"):
            return
        for literal in _literal_strings(ast.parse(raw, mode="eval").body):
            problem = _iso_problem(kind, literal)
            if problem:
                self.add(
                    "timer-not-iso8601",
                    ERROR,
                    fname,
                    eid,
                    f"{kind} {literal!r} is not a valid ISO 8601 {problem}",
                )

    # ------------------------------------------------------------------ messages
    def _messages(self, fname: str, el, messages: dict) -> None:
        tag = local_name(el)
        eid = el.get("id")
        defs = _children(el, "messageEventDefinition")
        if tag == "sendTask":
            defs = [el]
        elif tag == "receiveTask":
            defs = [el]
        for d in defs:
            ref = d.get("messageRef")
            what = "message event" if d is not el else tag
            if not ref:
                self.add(
                    "message-without-name",
                    ERROR,
                    fname,
                    eid,
                    f"{what} {element_label(el)} names no message (messageRef): choose or "
                    "create the message it sends or waits for",
                )
                continue
            if ref not in messages:
                self.add(
                    "message-without-name",
                    ERROR,
                    fname,
                    eid,
                    f"{what} {element_label(el)} refers to message '{ref}', which is not "
                    "defined in the file (bpmn:message)",
                )
                continue
            if not (messages[ref] or "").strip():
                self.add(
                    "message-without-name",
                    ERROR,
                    fname,
                    eid,
                    f"message '{ref}' used by {what} {element_label(el)} has no name: messages are "
                    "matched by name, so it could never be sent or received",
                )
                continue
            name = messages[ref]
            payload = d.find(f".//{{{SPIFF_NS}}}messagePayload")
            if tag in THROW_TAGS or tag == "sendTask":
                text = _text(payload)
                if text is None or not text.strip():
                    self.thrown.setdefault(name, False)
                    self.uncorrelated.append(
                        (
                            fname,
                            eid,
                            name,
                            "is thrown without "
                            "spiffworkflow:messagePayload, so its payload is "
                            "empty",
                        )
                    )
                    continue
                if not self._expr(fname, eid, text, "message payload"):
                    continue
                verdict = _payload_keys(ast.parse(text.strip(), mode="eval").body)
                self.thrown[name] = self.thrown.get(name, False) or verdict is True
                if verdict is False:
                    self.uncorrelated.append(
                        (
                            fname,
                            eid,
                            name,
                            "has a payload without a "
                            f"{' or '.join(repr(k) for k in CORRELATION_KEYS)} "
                            "key",
                        )
                    )
                elif verdict is None:
                    self.add(
                        "message-without-correlation",
                        WARNING,
                        fname,
                        eid,
                        f"payload of message '{name}' is not a dict literal; correlation "
                        f"({' or '.join(CORRELATION_KEYS)}) cannot be verified",
                    )
            elif tag in CATCH_TAGS or tag == "receiveTask":
                parent = el.getparent()
                event_subprocess_start = (
                    tag == "startEvent" and parent.get("triggeredByEvent") == "true"
                )
                if tag == "startEvent" and not event_subprocess_start:
                    continue  # a message start event starts a new instance: nothing to match
                self.catches.append((fname, eid, name))


CYCLE_NAMES_SHOWN = 12


def _cycle_names(nodes: dict, cycle: list[str], target: str) -> str:
    """'a' -> 'b' -> ... -> 'a'; a long cycle shows its first and last elements only, so
    each finding stays short however long the loop is (issue 16.6)."""
    ids = [*cycle, target]
    if len(ids) > CYCLE_NAMES_SHOWN:
        half = CYCLE_NAMES_SHOWN // 2
        skipped = len(ids) - 2 * half
        return " -> ".join(
            [*(element_label(nodes[n]) for n in ids[:half]), f"... ({skipped} more)",
             *(element_label(nodes[n]) for n in ids[-half:])])
    return " -> ".join(element_label(nodes[n]) for n in ids)


def _properties(el) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in el.findall(
        f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}properties/{{{SPIFF_NS}}}property"
    ):
        if p.get("name"):
            out[p.get("name")] = p.get("value") or ""
    return out


def _literal_strings(node: ast.expr) -> list[str]:
    """String constants an expression may evaluate to (whole value or branches of if/else)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _literal_strings(node.body) + _literal_strings(node.orelse)
    return []


def _iso_problem(kind: str, value: str) -> str | None:
    """None if ``value`` is a valid ISO 8601 value for the timer kind, else what it should be."""
    v = value.strip()
    try:
        if kind == "timeDate":
            if v.upper().startswith(("P", "R")):
                raise ValueError
            parsed = TimerEventDefinition.parse_time_or_duration(v)
            if not isinstance(parsed, datetime):
                raise ValueError
        elif kind == "timeDuration":
            if not v.upper().startswith("P") or not TimerEventDefinition.parse_iso_duration(v):
                raise ValueError
        else:
            if not v.upper().startswith("R"):
                raise ValueError
            TimerEventDefinition.parse_iso_recurring_interval(v)
    except Exception:  # noqa: BLE001 - SpiffWorkflow raises bare Exception for bad values
        return {
            "timeDate": 'date-time (e.g. "2026-04-01T08:00:00+02:00")',
            "timeDuration": 'duration (e.g. "P5D", "PT2H")',
            "timeCycle": 'cycle (e.g. "R3/PT1H")',
        }[kind]
    return None


def _payload_keys(node: ast.expr) -> bool | None:
    """True: a correlation key is present; False: a literal without one; None: cannot tell."""
    keys: list[str | None] = []
    if isinstance(node, ast.Dict):
        for k in node.keys:
            keys.append(
                k.value if isinstance(k, ast.Constant) and isinstance(k.value, str) else None
            )
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "dict"
        and not node.args
    ):
        keys = [kw.arg for kw in node.keywords]
    else:
        return None
    if any(k in CORRELATION_KEYS for k in keys):
        return True
    return None if any(k is None for k in keys) else False


def _message(exc: Exception, trees=()) -> str:
    """One line: SpiffWorkflow's message (names may contain line breaks) and its line number."""
    text = spiff_message(exc, trees)
    if isinstance(exc, ValidationException):
        line = getattr(exc, "line_number", "")
        return f"{text} (line {line})"[:500] if line else text[:500]
    return text[:500]


def lint_files(
    files: list[SourceFile], *, resolve_lane: LaneResolver, helpers: Iterable[str] | None = None,
    rules: Sequence[RuleSet] = (),
) -> list[Finding]:
    """Check BPMN/DMN/form files; return the findings (empty when clean).

    ``helpers``: names of the script helpers; when given, calls to other functions in
    expressions are reported (``expression-does-not-compile``). ``rules``: rule sets run
    after the engine's own (``RuleSet``).
    """
    linter = _Linter(resolve_lane, helpers, rules)
    linter.read(files)
    findings = linter.run()
    order = {ERROR: 0, WARNING: 1}
    return sorted(findings, key=lambda f: (f.file or "", order.get(f.severity, 2)))


def deploy_errors(files: list[SourceFile], *, resolve_lane: LaneResolver,
                  rules: Sequence[RuleSet] = ()) -> list[Finding]:
    """The lint errors that refuse a deployment of ``files`` (every error but the modeler's
    own rule that a user task names a form; the errors of ``rules`` included)."""
    return lint_report(files, resolve_lane=resolve_lane, rules=rules)[1]


def lint_report(
    files: list[SourceFile], *, resolve_lane: LaneResolver, helpers: Iterable[str] | None = None,
    rules: Sequence[RuleSet] = (),
) -> tuple[list[Finding], list[Finding]]:
    """``(lint_files(...), deploy_errors(...))`` from one run over the files (the import
    check needs both; a second run doubled its time, issue 16.6)."""
    linter = _Linter(resolve_lane, helpers, rules)
    linter.read(files)
    findings = linter.run()
    exempt = {id(f) for f in linter.design_only}
    refusing = [f for f in findings if f.severity == ERROR and id(f) not in exempt]
    order = {ERROR: 0, WARNING: 1}
    ordered = sorted(findings, key=lambda f: (f.file or "", order.get(f.severity, 2)))
    return ordered, refusing


def has_errors(findings: Iterable[Finding]) -> bool:
    """Whether any finding is an error."""
    return any(f.severity == ERROR for f in findings)


def rule_descriptions(rules: Sequence[RuleSet] = ()) -> dict[str, str]:
    """Rule id -> what it checks: the engine's ``RULES`` and those of the rule sets."""
    out = dict(RULES)
    for rule_set in rules:
        out.update(rule_set.rules)
    return out


__all__ = ["ERROR", "RULES", "WARNING", "Finding", "LintInput", "RuleSet", "deploy_errors",
           "has_errors", "lint_files", "lint_report", "rule_descriptions"]
